package berth.engine.api.containers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.http.ApiReply;
import berth.engine.api.http.EmbeddedApiServer;
import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The docker cp, diff, export and commit routes over a fake backend (only the file methods answer): status codes,
 * the stat header as the CLI decodes it, and what reaches the backend.
 */
class ContainersArchiveRoutesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ContainersBackend.PathStat STAT =
      new ContainersBackend.PathStat("hello.txt", 6, 0644, "2024-01-01T00:00:00Z", "");

  private final List<Object[]> calls = new ArrayList<>();
  private final EmbeddedApiServer server = new EmbeddedApiServer(new ContainersRouter(fake()));

  @AfterEach
  void close() {
    server.close();
  }

  /** A backend whose file methods behave like a container holding /hello.txt; every other method fails. */
  private ContainersBackend fake() {
    return (ContainersBackend) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {ContainersBackend.class}, (p, m, args) -> {
          calls.add(new Object[] {m.getName(), args});
          switch (m.getName()) {
            case "statPath" -> {
              return stat((String) args[1]);
            }
            case "archivePath" -> {
              stat((String) args[1]);
              OutputStream out = ((ContainersBackend.TarOpener) args[2]).open(STAT);
              out.write("tar bytes".getBytes(StandardCharsets.UTF_8));
              return null;
            }
            case "extractToDir" -> {
              ((InputStream) args[4]).readAllBytes();
              return null;
            }
            case "changes" -> {
              return List.of(Map.of("Path", "/tmp", "Kind", 0));
            }
            case "commit" -> {
              return "sha256:" + "a".repeat(64);
            }
            default -> throw new UnsupportedOperationException(m.getName());
          }
        });
  }

  private static ContainersBackend.PathStat stat(String path) {
    if (!path.equals("/hello.txt")) {
      throw EngineException.notFound("Could not find the file %s in container c1", path);
    }
    return STAT;
  }

  private static JsonNode statHeader(ApiReply r) throws Exception {
    return JSON.readTree(Base64.getDecoder().decode(r.header("X-Docker-Container-Path-Stat")));
  }

  @Test
  void headAnswersTheStatHeaderInStandardBase64WithoutABody() throws Exception {
    ApiReply r = server.head("/v1.47/containers/c1/archive?path=/hello.txt");
    assertEquals(200, r.status());
    assertEquals(0, r.body().length);
    JsonNode s = statHeader(r);
    assertEquals("hello.txt", s.get("name").asText());
    assertEquals(6, s.get("size").asLong());
    assertEquals(0644, s.get("mode").asLong());
    assertEquals("2024-01-01T00:00:00Z", s.get("mtime").asText());
    assertEquals("", s.get("linkTarget").asText());
  }

  @Test
  void aMissingPathIsNotFoundAndAnEmptyOneIsBadRequest() {
    ApiReply get = server.get("/containers/c1/archive?path=/nope");
    assertEquals(404, get.status());
    assertEquals("Could not find the file /nope in container c1", get.json().get("message").asText());
    assertNull(get.header("X-Docker-Container-Path-Stat"));
    ApiReply empty = server.get("/containers/c1/archive");
    assertEquals(400, empty.status());
    assertEquals("you must specify path parameter", empty.json().get("message").asText());
  }

  @Test
  void getStreamsTheTarAfterTheStatHeader() throws Exception {
    ApiReply r = server.get("/containers/c1/archive?path=/hello.txt");
    assertEquals(200, r.status());
    assertEquals("application/x-tar", r.header("Content-Type"));
    assertEquals("hello.txt", statHeader(r).get("name").asText());
    assertArrayEquals("tar bytes".getBytes(StandardCharsets.UTF_8), r.body());
  }

  @Test
  void putPassesThePathFlagsAndBody() {
    ApiReply r = server.exchange("PUT", "/containers/c1/archive?path=/tmp&noOverwriteDirNonDir=true&copyUIDGID=1",
        Map.of("Content-Type", "application/x-tar"), new byte[1024]);
    assertEquals(200, r.status());
    Object[] args = (Object[]) calls.get(calls.size() - 1)[1];
    assertEquals("/tmp", args[1]);
    assertTrue((Boolean) args[2]);
    assertTrue((Boolean) args[3]);
  }

  @Test
  void commitReadsTheQueryAndPausesByDefault() {
    ApiReply r = server.post("/commit?container=c1&repo=r&tag=t&comment=m&author=a&changes=CMD%20x&changes=ENV%20A=1",
        "application/json", "{\"Env\":[\"B=2\"]}".getBytes(StandardCharsets.UTF_8));
    assertEquals(201, r.status());
    assertEquals("sha256:" + "a".repeat(64), r.json().get("Id").asText());
    ContainersBackend.CommitOptions o = (ContainersBackend.CommitOptions) ((Object[]) calls.get(calls.size() - 1)[1])[0];
    assertEquals(List.of("CMD x", "ENV A=1"), o.changes());
    assertTrue(o.pause());
    assertEquals(List.of("B=2"), o.config().env());
    server.post("/commit?container=c1&pause=0");
    o = (ContainersBackend.CommitOptions) ((Object[]) calls.get(calls.size() - 1)[1])[0];
    assertFalse(o.pause());
  }

  @Test
  void changesAreTheBackendsList() {
    JsonNode r = server.get("/containers/c1/changes").json();
    assertEquals("/tmp", r.get(0).get("Path").asText());
    assertEquals(0, r.get(0).get("Kind").asInt());
  }
}
