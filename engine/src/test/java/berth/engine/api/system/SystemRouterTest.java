package berth.engine.api.system;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.http.ApiReply;
import berth.engine.api.http.EmbeddedApiServer;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The system router (ping, version, info, df, swarm and plugin stand-ins) over the real HTTP pipeline. */
class SystemRouterTest {
  private final FakeSystemBackend backend = new FakeSystemBackend();
  private final EmbeddedApiServer server = new EmbeddedApiServer(new SystemRouter(backend));

  @AfterEach
  void close() {
    server.close();
  }

  @Test
  void pingAnswersOkWithBuilderAndApiVersionHeaders() {
    ApiReply r = server.get("/_ping");
    assertEquals(200, r.status());
    assertEquals("OK", r.text());
    assertEquals("text/plain; charset=utf-8", r.header("Content-Type"));
    assertEquals("1", r.header("Builder-Version"));
    assertEquals("1.47", r.header("Api-Version"));
    assertEquals("inactive", r.header("Swarm"));
    assertEquals("no-cache, no-store, must-revalidate", r.header("Cache-Control"));
  }

  @Test
  void versionedPingStillAdvertisesTheCurrentApiVersion() {
    ApiReply r = server.get("/v1.24/_ping");
    assertEquals("OK", r.text());
    assertEquals("1.47", r.header("Api-Version"));
  }

  @Test
  void headPingAnswersTheHeadersWithoutABody() {
    ApiReply r = server.head("/_ping");
    assertEquals(200, r.status());
    assertEquals("1.47", r.header("Api-Version"));
    assertEquals("1", r.header("Builder-Version"));
    assertEquals("0", r.header("Content-Length"), "as dockerd");
    assertEquals(0, server.strayBytes());
    assertEquals("OK", server.get("/_ping").text());
  }

  @Test
  void versionRepliesWithDockersKeys() {
    JsonNode v = server.get("/version").json();
    for (String key : List.of("Platform", "Components", "Version", "ApiVersion", "MinAPIVersion", "GitCommit",
        "GoVersion", "Os", "Arch", "KernelVersion", "BuildTime")) {
      assertTrue(v.has(key), key + " missing from " + v);
    }
    assertEquals("1.47", v.get("ApiVersion").asText());
    assertEquals("1.24", v.get("MinAPIVersion").asText());
    assertEquals("Engine", v.get("Components").get(0).get("Name").asText());
    assertTrue(v.get("Components").get(0).has("Details"));
    assertEquals("Berth Engine", v.get("Platform").get("Name").asText());
  }

  @Test
  void infoIsTheBackendsMapVerbatim() {
    JsonNode info = server.get("/info").json();
    assertEquals("engine-1", info.get("ID").asText());
    assertEquals("overlay2", info.get("Driver").asText());
  }

  @Test
  void diskUsageWithAnUnknownTypeIsBadRequest() {
    ApiReply r = server.get("/system/df?type=image&type=bogus");
    assertEquals(400, r.status());
    assertEquals("unknown object type: bogus", r.message());
    assertEquals(null, backend.lastDiskUsageTypes);
  }

  @Test
  void diskUsagePassesTheRequestedTypes() {
    JsonNode df = server.get("/system/df?type=image&type=volume").json();
    assertEquals(Set.of("image", "volume"), backend.lastDiskUsageTypes);
    assertEquals(42, df.get("LayersSize").asLong());
    assertEquals(1, df.get("Images").size());
    assertTrue(df.get("Containers").isNull());

    server.get("/system/df");
    assertEquals(Set.of(), backend.lastDiskUsageTypes);
  }

  @Test
  void swarmEndpointsAnswerAsANodeThatIsNotAManager() {
    for (String uri : List.of("/swarm", "/services", "/nodes", "/tasks/abc", "/secrets", "/configs")) {
      ApiReply r = server.get(uri);
      assertEquals(503, r.status(), uri);
      assertEquals("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to "
          + "connect this node to swarm and try again.", r.message());
    }
  }

  @Test
  void leavingASwarmIsUnavailableAndJoiningIsNotImplemented() {
    ApiReply leave = server.post("/swarm/leave");
    assertEquals(503, leave.status());
    assertEquals("This node is not part of a swarm", leave.message());
    assertEquals(501, server.post("/swarm/init").status());
  }

  @Test
  void pluginListIsEmptyAndAnyPluginIsNotFound() {
    ApiReply r = server.get("/plugins");
    assertEquals(200, r.status());
    assertEquals("[]", r.text().trim());

    ApiReply p = server.get("/plugins/vieux/sshfs:latest/json");
    assertEquals(404, p.status());
    assertEquals("plugin \"vieux/sshfs:latest\" not found", p.message());
  }
}
