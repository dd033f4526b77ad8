package berth.engine.api.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.http.ApiReply;
import berth.engine.api.http.EmbeddedApiServer;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The images router with a map-backed backend, over the real HTTP pipeline. */
class ImagesRouterTest {
  private static final String BUSYBOX_ID = "sha256:" + "b".repeat(64);
  private static final String DANGLING_ID = "sha256:" + "d".repeat(64);
  private final FakeImagesBackend backend = new FakeImagesBackend()
      .add(BUSYBOX_ID, 4_000_000, "busybox:latest")
      .add(DANGLING_ID, 1234);
  private final EmbeddedApiServer server = new EmbeddedApiServer(new ImagesRouter(backend));

  @AfterEach
  void close() {
    server.close();
  }

  private static String q(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static List<String> fieldNames(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  @Test
  void listPassesAllFiltersAndSharedSizeToTheBackend() {
    ApiReply r = server.get("/images/json?all=1&shared-size=true&filters="
        + q("{\"dangling\":[\"true\"],\"label\":{\"a=b\":true}}"));
    assertEquals(200, r.status(), r::toString);
    assertTrue(backend.lastAll);
    assertTrue(backend.lastSharedSize);
    assertEquals(Set.of("true"), backend.lastFilters.get("dangling"));
    assertEquals(Set.of("a=b"), backend.lastFilters.get("label"));
  }

  @Test
  void listWithoutQueryPassesFalseAndNoFilters() {
    server.get("/images/json?all=0");
    assertFalse(backend.lastAll);
    assertFalse(backend.lastSharedSize);
    assertTrue(backend.lastFilters.keys().isEmpty());
  }

  @Test
  void listRepliesWithSwaggerFieldNames() {
    JsonNode first = server.get("/images/json").json().get(0);
    assertEquals(List.of("Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size", "SharedSize", "Labels",
        "Containers"), fieldNames(first));
    assertEquals(BUSYBOX_ID, first.get("Id").asText());
    assertEquals("busybox:latest", first.get("RepoTags").get(0).asText());
  }

  @Test
  void legacyFilterParameterBecomesAReferenceFilterBeforeApi141() {
    server.get("/v1.40/images/json?filter=busy*");
    assertEquals(Set.of("busy*"), backend.lastFilters.get("reference"));

    server.get("/v1.41/images/json?filter=busy*");
    assertFalse(backend.lastFilters.has("reference"));
  }

  @Test
  void malformedFiltersAreBadRequest() {
    for (String bad : List.of("notjson", "[\"a\"]", "{\"label\":\"a=b\"}")) {
      ApiReply r = server.get("/images/json?filters=" + q(bad));
      assertEquals(400, r.status(), bad);
      assertEquals("invalid filter: " + bad, r.message());
    }
  }

  @Test
  void inspectUnknownImageIsNotFoundWithDockersWording() {
    ApiReply r = server.get("/images/x/json");
    assertEquals(404, r.status());
    assertEquals("No such image: x", r.message());
  }

  @Test
  void inspectTakesANameWithRegistryPortAndSlashes() {
    backend.add("sha256:" + "e".repeat(64), 1, "localhost:5000/a/b:tag");
    ApiReply r = server.get("/images/localhost:5000/a/b:tag/json");
    assertEquals(200, r.status(), r::toString);
    assertEquals("sha256:" + "e".repeat(64), r.json().get("Id").asText());
    assertTrue(r.json().has("RootFS"), r::toString);
  }

  @Test
  void historyRepliesWithSwaggerFieldNames() {
    JsonNode first = server.get("/images/busybox/history").json().get(0);
    assertEquals(List.of("Id", "Created", "CreatedBy", "Tags", "Size", "Comment"), fieldNames(first));
  }

  @Test
  void tagWithoutRepoIsBadRequest() {
    for (String uri : List.of("/images/busybox/tag", "/images/busybox/tag?repo=&tag=v1")) {
      ApiReply r = server.post(uri);
      assertEquals(400, r.status(), uri);
      assertEquals("repository name must have at least one component", r.message());
    }
  }

  @Test
  void tagPointsTheNewNameAtTheImageAndAnswers201() {
    ApiReply r = server.post("/images/busybox/tag?repo=" + q("localhost:5000/me/bb") + "&tag=v1");
    assertEquals(201, r.status(), r::toString);
    assertEquals(0, r.body().length);
    assertEquals(BUSYBOX_ID, backend.tags.get("localhost:5000/me/bb:v1"));
  }

  @Test
  void tagOfAnUnknownImageIsNotFound() {
    ApiReply r = server.post("/images/nope/tag?repo=x");
    assertEquals(404, r.status());
    assertEquals("No such image: nope", r.message());
  }

  @Test
  void deleteRepliesWithUntaggedAndDeletedItemsUnderDockersKeys() {
    ApiReply r = server.delete("/images/busybox?force=1&noprune=1");
    assertEquals(200, r.status(), r::toString);
    JsonNode items = r.json();
    assertEquals(2, items.size());
    assertEquals(List.of("Untagged"), fieldNames(items.get(0)));
    assertEquals("busybox:latest", items.get(0).get("Untagged").asText());
    assertEquals(List.of("Deleted"), fieldNames(items.get(1)));
    assertEquals(BUSYBOX_ID, items.get(1).get("Deleted").asText());
    assertTrue(backend.lastForce);
    assertTrue(backend.lastNoPrune);
  }

  @Test
  void deleteOfAnUnknownImageIsNotFound() {
    ApiReply r = server.delete("/images/nope");
    assertEquals(404, r.status());
    assertEquals("No such image: nope", r.message());
  }

  @Test
  void pruneRepliesWithImagesDeletedAndSpaceReclaimed() {
    ApiReply r = server.post("/images/prune?filters=" + q("{\"dangling\":[\"false\"]}"));
    assertEquals(200, r.status(), r::toString);
    assertEquals(List.of("ImagesDeleted", "SpaceReclaimed"), fieldNames(r.json()));
    assertEquals(DANGLING_ID, r.json().get("ImagesDeleted").get(0).get("Deleted").asText());
    assertEquals(1234, r.json().get("SpaceReclaimed").asLong());
    assertEquals(Set.of("false"), backend.lastPruneFilters.get("dangling"));
  }

  @Test
  void pruneIsNotARouteBeforeApi125() {
    ApiReply r = server.post("/v1.24/images/prune");
    assertEquals(404, r.status());
    assertEquals("page not found", r.message());
  }

  @Test
  void loadStreamsLoadedImageLines() {
    ApiReply r = server.post("/images/load", "application/x-tar",
        utf8("alpine:3.20=sha256:" + "a".repeat(64) + "\nme/app:1=sha256:" + "f".repeat(64)));
    assertEquals(200, r.status());
    assertEquals("application/json", r.header("Content-Type"));
    assertTrue(r.complete());
    List<JsonNode> lines = r.jsonLines();
    assertEquals(2, lines.size(), r::toString);
    assertEquals("{\"stream\":\"Loaded image: alpine:3.20\\n\"}", lines.get(0).toString());
    assertEquals("Loaded image: me/app:1\n", lines.get(1).get("stream").asText());
    assertEquals("sha256:" + "a".repeat(64), backend.tags.get("alpine:3.20"));
  }

  @Test
  void loadFailingMidwayIsReportedInBandAfterStatus200() {
    ApiReply r = server.post("/images/load", "application/x-tar",
        utf8("alpine:3.20=sha256:" + "a".repeat(64) + "\n!unexpected EOF in layer 2"));
    assertEquals(200, r.status());
    assertTrue(r.complete(), "the stream still ends cleanly");
    List<JsonNode> lines = r.jsonLines();
    assertEquals(2, lines.size(), r::toString);
    assertEquals("Loaded image: alpine:3.20\n", lines.get(0).get("stream").asText());
    JsonNode error = lines.get(1);
    assertEquals(List.of("errorDetail", "error"), fieldNames(error));
    assertEquals("unexpected EOF in layer 2", error.get("errorDetail").get("message").asText());
    assertEquals("unexpected EOF in layer 2", error.get("error").asText());
  }

  @Test
  void createWithNeitherFromSrcNorFromImageIsBadRequest() {
    ApiReply r = server.post("/images/create?repo=x");
    assertEquals(400, r.status());
    assertEquals("either fromSrc or fromImage must be given", r.message());
  }

  @Test
  void pullPassesNameTagPlatformAndRegistryAuthAndStreamsProgress() {
    ApiReply r = server.exchange("POST", "/images/create?fromImage=busybox&tag=1.36&platform=linux/arm64",
        Map.of("X-Registry-Auth", "e30="), null);
    assertEquals(200, r.status());
    assertEquals(java.util.Arrays.asList("busybox", "1.36", "linux/arm64", "e30="), backend.pullArgs);
    assertEquals(2, r.jsonLines().size());
    assertEquals("Status: Downloaded newer image for busybox:1.36", r.jsonLines().get(1).path("status").asText());
  }

  @Test
  void pullFailingBeforeAnyProgressIsAPlainErrorReply() {
    ApiReply r = server.post("/images/create?fromImage=missing/app&tag=v1");
    assertEquals(404, r.status());
    assertEquals("manifest for missing/app:v1 not found: manifest unknown: manifest unknown", r.message());
  }

  @Test
  void pullFailingAfterProgressReportsTheErrorInBand() {
    ApiReply r = server.post("/images/create?fromImage=broken/app&tag=v1");
    assertEquals(200, r.status());
    List<com.fasterxml.jackson.databind.JsonNode> lines = r.jsonLines();
    assertEquals("filesystem layer verification failed for digest sha256:00", lines.get(lines.size() - 1).path("error").asText());
    assertEquals("filesystem layer verification failed for digest sha256:00",
        lines.get(lines.size() - 1).path("errorDetail").path("message").asText());
  }

  @Test
  void pushStreamsAndAnUnknownImageIsNotFound() {
    ApiReply ok = server.exchange("POST", "/images/127.0.0.1:5000/app/push?tag=v2", Map.of("X-Registry-Auth", "e30="), null);
    assertEquals(200, ok.status());
    assertEquals(java.util.Arrays.asList("127.0.0.1:5000/app", "v2", "e30="), backend.pushArgs);
    assertEquals("v2: digest: sha256:11 size: 5", ok.jsonLines().get(1).path("status").asText());
    ApiReply missing = server.post("/images/missing/push?tag=v1");
    assertEquals(404, missing.status());
    assertEquals("An image does not exist locally with the tag: missing", missing.message());
  }

  @Test
  void authAnswersLoginSucceededOr401() {
    ApiReply ok = server.post("/auth", "application/json", utf8("{\"username\":\"a\",\"password\":\"b\"}"));
    assertEquals(200, ok.status());
    assertEquals("Login Succeeded", ok.json().path("Status").asText());
    assertEquals("{\"username\":\"a\",\"password\":\"b\"}", new String(backend.loginBody, StandardCharsets.UTF_8));
    ApiReply refused = server.post("/auth", "application/json", utf8("{\"username\":\"a\",\"password\":\"wrong\"}"));
    assertEquals(401, refused.status());
    assertEquals("login attempt to http://r/v2/ failed with status: 401 Unauthorized", refused.message());
  }

  @Test
  void createFromSrcDashImportsTheBodyAndEndsWithTheNewId() {
    ApiReply r = server.post("/images/create?fromSrc=-&repo=me/rootfs&tag=v1&message=hi&platform=linux/amd64"
        + "&changes=" + q("CMD [\"sh\"]") + "&changes=" + q("ENV A=1"), "application/x-tar", utf8("rootfs bytes"));
    assertEquals(200, r.status());
    List<JsonNode> lines = r.jsonLines();
    assertEquals("sha256:" + "c".repeat(64), lines.get(lines.size() - 1).get("status").asText());
    assertEquals("rootfs bytes", new String(backend.imported, StandardCharsets.UTF_8));
    assertEquals(Arrays.asList("me/rootfs", "v1", "hi", List.of("CMD [\"sh\"]", "ENV A=1"), "linux/amd64"),
        backend.importArgs);
  }

  @Test
  void importFailingBeforeAnyOutputGetsItsOwnStatus() {
    ApiReply r = server.post("/images/create?fromSrc=-&repo=x", "application/x-tar", utf8("!invalid layer: empty"));
    assertEquals(400, r.status(), r::toString);
    assertEquals("invalid layer: empty", r.message());
  }

  @Test
  void importFailingAfterProgressReportsTheErrorInBand() {
    ApiReply r = server.post("/images/create?fromSrc=-&repo=x", "application/x-tar", utf8("progress!disk full"));
    assertEquals(200, r.status(), r::toString);
    List<JsonNode> lines = r.jsonLines();
    assertEquals("Importing", lines.get(0).get("status").asText());
    assertEquals("disk full", lines.get(1).get("errorDetail").get("message").asText());
  }

  @Test
  void saveStreamsTheArchiveOfTheNamedImages() {
    ApiReply r = server.get("/images/get?names=busybox&names=" + q(DANGLING_ID));
    assertEquals(200, r.status());
    assertEquals("application/x-tar", r.header("Content-Type"));
    assertTrue(r.complete());
    assertEquals("archive of [busybox, " + DANGLING_ID + "]", r.text());

    assertEquals("archive of [busybox]", server.get("/images/busybox/get").text());
  }

  @Test
  void saveWithAnUnknownNameIsNotFoundBeforeAnyTarByte() {
    ApiReply r = server.get("/images/get?names=busybox&names=nope");
    assertEquals(404, r.status());
    assertEquals("application/json", r.header("Content-Type"));
    assertFalse(r.chunked());
    assertEquals("{\"message\":\"No such image: nope\"}", r.text().trim());
    assertEquals(0, backend.saveCalls);
  }

  @Test
  void saveWithoutNamesIsBadRequest() {
    ApiReply r = server.get("/images/get");
    assertEquals(400, r.status());
    assertEquals("no image names given", r.message());
  }

  @Test
  void saveFailingMidStreamBreaksTheConnectionInsteadOfEndingTheArchive() {
    backend.saveFailure = new IOException("layer blob missing");
    ApiReply r = server.get("/images/busybox/get");
    assertEquals(200, r.status());
    assertFalse(r.complete(), "a short archive must not look whole");
    assertFalse(server.isOpen());
  }

  @Test
  void searchIsNotImplemented() {
    assertEquals(501, server.get("/images/search?term=busybox").status());
  }
}
