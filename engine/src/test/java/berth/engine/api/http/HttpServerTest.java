package berth.engine.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The HTTP pipeline (codec, handler, route table, error responder) serving a tiny router in memory. */
class HttpServerTest {
  private final CountDownLatch uploadMayRead = new CountDownLatch(1);
  private final CountDownLatch uploadStarted = new CountDownLatch(1);

  private final Router router = () -> List.of(
      Route.get("/echo/{name}", (req, res) -> res.json(200,
          Map.of("name", req.pathParam("name"), "version", req.version().toString(), "path", req.path()))),
      Route.get("/images/{name:.*}/json", (req, res) -> res.json(200, Map.of("name", req.pathParam("name")))),
      Route.delete("/images/{name:.*}", (req, res) -> res.json(200, Map.of("deleted", req.pathParam("name")))),
      Route.post("/echo/{name}", (req, res) -> res.empty(201)),
      Route.get("/fail/{kind}", (req, res) -> {
        throw new EngineException(ErrorKind.valueOf(req.pathParam("kind")), "failed as " + req.pathParam("kind"));
      }),
      Route.get("/conflict", (req, res) -> {
        throw EngineException.conflict("Conflict. The container name \"/web\" is already in use by container \"%s\". "
            + "You have to remove (or rename) that container to be able to reuse that name.", "4f2a");
      }),
      Route.get("/crash", (req, res) -> {
        throw new IllegalStateException("disk on fire", new IOException("EIO"));
      }),
      Route.get("/crash-checked", (req, res) -> {
        throw new IOException("read-only file system");
      }),
      Route.get("/wrapped", (req, res) -> {
        throw new RuntimeException("wrapper", EngineException.notFound("No such container: abc"));
      }),
      Route.get("/not-modified", (req, res) -> res.empty(304)),
      Route.get("/nothing", (req, res) -> { }),
      Route.get("/slow", (req, res) -> {
        Thread.sleep(150);
        res.json(200, Map.of("reply", "slow"));
      }),
      Route.get("/fast", (req, res) -> res.json(200, Map.of("reply", "fast"))),
      Route.post("/upload", (req, res) -> {
        uploadStarted.countDown();
        if (!uploadMayRead.await(10, TimeUnit.SECONDS)) {
          throw new IllegalStateException("test never let the upload read");
        }
        res.json(200, digestOf(req.body()));
      }),
      Route.get("/stream", (req, res) -> {
        var out = res.stream(200, "application/json");
        out.writeJson(Map.of("n", 1));
        out.writeJson(Map.of("n", 2));
        out.writeJson(Map.of("n", 3));
        out.close();
      }),
      Route.get("/query", (req, res) -> res.json(200, Map.of("q", req.query("q"), "all", req.queryAll("x")))));

  private final EmbeddedApiServer server = new EmbeddedApiServer(router);
  private final Logger errorLog = Logger.getLogger(ErrorResponder.class.getName());
  private final List<LogRecord> logged = new CopyOnWriteArrayList<>();
  private final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord r) {
      logged.add(r);
    }

    @Override
    public void flush() { }

    @Override
    public void close() { }
  };

  @BeforeEach
  void captureErrorLog() {
    errorLog.addHandler(capture);
    errorLog.setUseParentHandlers(false);
  }

  @AfterEach
  void close() {
    server.close();
    errorLog.removeHandler(capture);
    errorLog.setUseParentHandlers(true);
  }

  @Test
  void versionPrefixWithinRangeIsStrippedAndGivenToTheHandler() {
    ApiReply r = server.get("/v1.47/echo/x");
    assertEquals(200, r.status());
    assertEquals("x", r.json().get("name").asText());
    assertEquals("1.47", r.json().get("version").asText());
    assertEquals("/echo/x", r.json().get("path").asText());

    assertEquals("1.30", server.get("/v1.30/echo/x").json().get("version").asText());
  }

  @Test
  void noVersionPrefixMeansTheCurrentVersion() {
    ApiReply r = server.get("/echo/x");
    assertEquals(200, r.status());
    assertEquals("1.47", r.json().get("version").asText());
  }

  @Test
  void tooNewVersionIsBadRequestWithDockersWording() {
    ApiReply r = server.get("/v1.99/echo/x");
    assertEquals(400, r.status());
    assertEquals("client version 1.99 is too new. Maximum supported API version is 1.47", r.message());
  }

  @Test
  void tooOldVersionIsBadRequestWithDockersWording() {
    ApiReply r = server.get("/v1.12/echo/x");
    assertEquals(400, r.status());
    assertEquals("client version 1.12 is too old. Minimum supported API version is 1.24, "
        + "please upgrade your client to a newer version", r.message());
  }

  @Test
  void unknownPathIsNotFoundWithPageNotFound() {
    ApiReply r = server.get("/nope");
    assertEquals(404, r.status());
    assertEquals("{\"message\":\"page not found\"}", r.text().trim());
    assertEquals("application/json", r.header("Content-Type"));
  }

  @Test
  void wrongMethodOnAKnownPathIsMethodNotAllowedWithAMessage() {
    ApiReply r = server.exchange("PUT", "/echo/x", Map.of(), null);
    assertEquals(405, r.status());
    assertTrue(r.message().contains("PUT"), r.message());
    assertTrue(r.message().contains("/echo/x"), r.message());
  }

  @Test
  void everyReplyCarriesTheStandardHeaders() {
    for (ApiReply r : List.of(server.get("/echo/x"), server.get("/nope"), server.get("/v1.99/echo/x"),
        server.get("/crash"), server.get("/not-modified"), server.get("/stream"), server.head("/echo/x"),
        server.post("/echo/x"))) {
      assertEquals("1.47", r.header("Api-Version"), r::toString);
      assertEquals("Docker/" + EmbeddedApiServer.ENGINE_VERSION + " (linux)", r.header("Server"), r::toString);
      assertEquals("linux", r.header("Ostype"), r::toString);
    }
  }

  @ParameterizedTest
  @EnumSource(value = ErrorKind.class, names = "NOT_MODIFIED", mode = EnumSource.Mode.EXCLUDE)
  void engineExceptionOfEachKindGivesItsStatusAndItsMessageVerbatim(ErrorKind kind) {
    ApiReply r = server.get("/fail/" + kind.name());
    assertEquals(kind.httpStatus(), r.status());
    assertEquals("{\"message\":\"failed as " + kind.name() + "\"}", r.text().trim());
  }

  @Test
  void dockersConflictWordingIsSentVerbatim() {
    ApiReply r = server.get("/conflict");
    assertEquals(409, r.status());
    assertEquals("Conflict. The container name \"/web\" is already in use by container \"4f2a\". "
        + "You have to remove (or rename) that container to be able to reuse that name.", r.message());
  }

  @Test
  void notModifiedEngineExceptionIs304WithoutABody() {
    ApiReply r = server.get("/fail/NOT_MODIFIED");
    assertEquals(304, r.status());
    assertNull(r.header("Content-Length"));
    assertEquals(0, server.strayBytes());
    assertEquals(200, server.get("/echo/next").status());
  }

  @Test
  void handlerReplying304SendsNoBody() {
    ApiReply r = server.get("/not-modified");
    assertEquals(304, r.status());
    assertEquals(0, server.strayBytes());
    ApiReply next = server.get("/echo/next");
    assertEquals("next", next.json().get("name").asText());
  }

  @Test
  void runtimeExceptionIs500WithItsMessageAndNoStackTrace() {
    ApiReply r = server.get("/crash");
    assertEquals(500, r.status());
    assertEquals("{\"message\":\"disk on fire\"}", r.text().trim());
    assertFalse(r.text().contains("Exception"), r.text());
    assertFalse(r.text().contains("at berth."), r.text());
    assertFalse(r.text().contains("EIO"), r.text());
  }

  @Test
  void serverErrorsAreLoggedWithTheirStackTraceAndClientErrorsAreNotWarnedAbout() {
    server.get("/crash");
    server.get("/fail/NOT_FOUND");
    List<LogRecord> warnings = logged.stream().filter(r -> r.getLevel().intValue() >= Level.WARNING.intValue()).toList();
    assertEquals(1, warnings.size(), () -> warnings.toString());
    assertEquals("disk on fire", warnings.get(0).getThrown().getMessage());
    assertTrue(warnings.get(0).getMessage().contains("/crash"));
  }

  @Test
  void checkedExceptionIs500WithItsMessage() {
    ApiReply r = server.get("/crash-checked");
    assertEquals(500, r.status());
    assertEquals("{\"message\":\"read-only file system\"}", r.text().trim());
  }

  @Test
  void classifiedCauseInsideAnUnclassifiedWrapperDecidesStatusAndMessage() {
    ApiReply r = server.get("/wrapped");
    assertEquals(404, r.status());
    assertEquals("No such container: abc", r.message());
  }

  @Test
  void handlerThatWritesNothingAnswers204() {
    ApiReply r = server.get("/nothing");
    assertEquals(204, r.status());
    assertEquals(0, server.strayBytes());
  }

  @Test
  void pathParametersArePercentDecoded() {
    assertEquals("a b", server.get("/echo/a%20b").json().get("name").asText());
    assertEquals("a/b", server.get("/echo/a%2Fb").json().get("name").asText());
    assertEquals("é", server.get("/echo/%C3%A9").json().get("name").asText());
    assertEquals("a+b", server.get("/echo/a+b").json().get("name").asText());
  }

  @Test
  void queryParametersAreDecodedAndRepeatable() {
    JsonNode j = server.get("/query?q=a%20b&x=1&x=2").json();
    assertEquals("a b", j.get("q").asText());
    assertEquals("[\"1\",\"2\"]", j.get("all").toString());
  }

  @Test
  void greedyParameterCapturesSlashesOfAnImageName() {
    ApiReply r = server.get("/images/localhost:5000/a/b:tag/json");
    assertEquals(200, r.status());
    assertEquals("localhost:5000/a/b:tag", r.json().get("name").asText());

    ApiReply d = server.delete("/v1.44/images/registry.example.com/ns/img");
    assertEquals("registry.example.com/ns/img", d.json().get("deleted").asText());
  }

  @Test
  void headOnAGetRouteAnswersHeadersWithoutTheBody() {
    int getLength = server.get("/echo/x").body().length;
    ApiReply r = server.head("/echo/x");
    assertEquals(200, r.status());
    assertEquals(String.valueOf(getLength), r.header("Content-Length"));
    assertEquals(0, server.strayBytes());
    assertEquals("y", server.get("/echo/y").json().get("name").asText());
  }

  @Test
  void pipelinedRequestsOnOneConnectionAreAnsweredInOrder() {
    byte[] first = EmbeddedApiServer.requestHead("GET", "/slow", Map.of(), null);
    byte[] second = EmbeddedApiServer.requestHead("GET", "/fast", Map.of(), null);
    byte[] both = new byte[first.length + second.length];
    System.arraycopy(first, 0, both, 0, first.length);
    System.arraycopy(second, 0, both, first.length, second.length);
    server.sendRaw(both, "GET", "GET");

    List<ApiReply> replies = server.awaitReplies(2);
    assertEquals("slow", replies.get(0).json().get("reply").asText());
    assertEquals("fast", replies.get(1).json().get("reply").asText());
    assertTrue(server.isOpen());
  }

  @Test
  void bodyTheHandlerLeavesUnreadIsDiscardedAndTheNextRequestIsServed() {
    byte[] body = new byte[200 << 10];
    new Random(7).nextBytes(body);
    ApiReply r = server.exchange("POST", "/echo/x", Map.of("Content-Type", "application/octet-stream"), body);
    assertEquals(201, r.status());
    assertEquals("y", server.get("/echo/y").json().get("name").asText());
    assertTrue(server.isAutoRead());
  }

  @Test
  void keepAliveConnectionServesOneRequestAfterAnother() {
    assertEquals("a", server.get("/echo/a").json().get("name").asText());
    assertEquals("keep-alive", server.get("/echo/b").header("Connection"));
    assertTrue(server.isOpen());
  }

  @Test
  void connectionCloseRequestIsAnsweredThenClosed() {
    ApiReply r = server.exchange("GET", "/echo/a", Map.of("Connection", "close"), null);
    assertEquals(200, r.status());
    assertEquals("close", r.header("Connection"));
    assertTrue(server.await(() -> !server.isOpen()));
  }

  @Test
  void largeRequestBodyIsStreamedWithBackpressureAndArrivesIntact() throws Exception {
    int piece = 64 << 10;
    int total = 3 << 20;
    byte[] data = new byte[total];
    new Random(42).nextBytes(data);

    server.send("POST", "/upload", Map.of("Content-Length", String.valueOf(total)), null);
    assertTrue(uploadStarted.await(10, TimeUnit.SECONDS));
    assertTrue(server.isAutoRead(), "reading is on before anything is queued");

    int sent = 0;
    while (sent <= BodyInputStream.HIGH_WATER) {
      server.writeInbound(Arrays.copyOfRange(data, sent, sent + piece));
      sent += piece;
    }
    assertFalse(server.isAutoRead(), "reading pauses once more than 1 MiB waits for the handler");

    uploadMayRead.countDown();
    assertTrue(server.await(server::isAutoRead), "reading resumes once the handler has drained the queue");

    while (sent < total) {
      // a transport honours autoRead: it only reads from the socket while it is on
      assertTrue(server.await(server::isAutoRead));
      server.writeInbound(Arrays.copyOfRange(data, sent, sent + piece));
      sent += piece;
    }

    ApiReply r = server.awaitReply();
    assertEquals(200, r.status(), r::toString);
    assertEquals(total, r.json().get("size").asLong());
    assertEquals(sha256(data), r.json().get("sha256").asText());
  }

  @Test
  void streamedReplyArrivesAsChunkedJsonLines() {
    ApiReply r = server.get("/stream");
    assertEquals(200, r.status());
    assertTrue(r.chunked());
    assertTrue(r.complete());
    assertEquals("application/json", r.header("Content-Type"));
    assertEquals("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n", r.text());
    assertEquals(3, r.jsonLines().size());
    assertEquals(0, server.strayBytes());
  }

  private static Map<String, Object> digestOf(InputStream in) throws IOException {
    MessageDigest md = sha();
    byte[] buf = new byte[8192];
    long size = 0;
    for (int n; (n = in.read(buf)) > 0; ) {
      md.update(buf, 0, n);
      size += n;
    }
    return Map.of("size", size, "sha256", HexFormat.of().formatHex(md.digest()));
  }

  private static String sha256(byte[] data) {
    return HexFormat.of().formatHex(sha().digest(data));
  }

  private static MessageDigest sha() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
