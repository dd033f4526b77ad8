package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import berth.engine.testing.TestImages.ImageArchive;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The engine as a daemon: one per data root, config validation before anything starts, SIGTERM, restart,
 * and the HTTP API's version, routing and error conventions (seen with {@code curl --unix-socket}).
 */
@Tag("root")
@Timeout(value = 120)
class EngineDaemonIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One engine for the API checks; the lifecycle tests start their own. */
  static EngineProcess api;
  static DockerCli apiCli;
  static Path fixtures;
  static ImageArchive busybox;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-daemon-");
    busybox = TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    api = EngineProcess.start();
    apiCli = new DockerCli(api).timeout(Duration.ofSeconds(60));
  }

  @AfterAll
  static void tearDown() throws IOException {
    if (apiCli != null) {
      apiCli.close();
    }
    if (api != null) {
      api.close();
    }
    if (fixtures != null) {
      EngineProcess.deleteTree(fixtures);
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  @Test
  void secondEngineOnTheSameDataRootIsRefused() throws Exception {
    Path work = EngineProcess.newWorkDir();
    try {
      Path socket2 = work.resolve("second.sock");
      EngineProcess.Exited second = EngineProcess.runToExit(api.dataRoot(), socket2, List.of(), Duration.ofSeconds(60));
      assertEquals(1, second.exitCode(), second.output());
      assertTrue(second.output().contains("another engine is already running on data root " + api.dataRoot()),
          second.output());
      assertFalse(second.output().contains("\tat "), "a stack trace instead of a message:\n" + second.output());
      assertFalse(Files.exists(socket2, LinkOption.NOFOLLOW_LINKS), "the refused engine created its socket");
      // the first one is untouched
      assertTrue(api.isAlive());
      assertTrue(Files.exists(api.socket(), LinkOption.NOFOLLOW_LINKS));
      apiCli.run("version").assertOk();
    } finally {
      EngineProcess.deleteTree(work);
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "unknown key | {\"bogus\": 1} | the following directives don't match any configuration option: bogus",
      "bad log-driver | {\"log-driver\": \"foo\"} | log-driver",
      "bad JSON | {\"log-driver\": | invalid JSON in config file",
      "wrong type | {\"debug\": \"yes please\"} | debug"})
  void invalidConfigFileRefusesToStart(String what, String content, String expected) throws Exception {
    Path work = EngineProcess.newWorkDir();
    try {
      Path config = work.resolve("daemon.json");
      Files.writeString(config, content);
      Path socket = work.resolve("engine.sock");
      Path dataRoot = work.resolve("data");
      EngineProcess.Exited r = EngineProcess.runToExit(dataRoot, socket, List.of("--config-file", config.toString()),
          Duration.ofSeconds(60));
      assertAll(
          () -> assertEquals(1, r.exitCode(), what + ":\n" + r.output()),
          () -> assertTrue(r.output().contains(expected), what + ": output should contain '" + expected + "':\n" + r.output()),
          () -> assertFalse(r.output().contains("\tat "), what + ": a stack trace instead of a message:\n" + r.output()),
          () -> assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS), what + ": the socket was created"));
    } finally {
      EngineProcess.deleteTree(work);
    }
  }

  @Test
  void keySetByFlagAndFileRefusesToStart() throws Exception {
    Path work = EngineProcess.newWorkDir();
    try {
      Path config = work.resolve("daemon.json");
      Files.writeString(config, "{\"log-driver\": \"none\"}");
      Path socket = work.resolve("engine.sock");
      EngineProcess.Exited r = EngineProcess.runToExit(work.resolve("data"), socket,
          List.of("--config-file", config.toString(), "--log-driver", "local"), Duration.ofSeconds(60));
      assertAll(
          () -> assertEquals(1, r.exitCode(), r.output()),
          () -> assertTrue(r.output().contains("specified both as a flag and in the configuration file: log-driver"),
              r.output()),
          () -> assertFalse(r.output().contains("\tat "), "a stack trace instead of a message:\n" + r.output()),
          () -> assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS), "the socket was created"));
    } finally {
      EngineProcess.deleteTree(work);
    }
  }

  /** The control for the invalid-config cases: a valid file is read and applied. */
  @Test
  void validConfigFileIsApplied() throws Exception {
    Path work = EngineProcess.newWorkDir();
    try {
      Path config = work.resolve("daemon.json");
      Files.writeString(config, "{\"log-driver\": \"local\", \"debug\": true}");
      try (EngineProcess e = EngineProcess.start(null, List.of("--config-file", config.toString()));
          DockerCli cli = new DockerCli(e)) {
        assertEquals("local true", cli.run("info", "--format", "{{.LoggingDriver}} {{.Debug}}").assertOk().out());
      }
    } finally {
      EngineProcess.deleteTree(work);
    }
  }

  @Test
  void sigtermExitsZeroAndRemovesTheSocket() throws Exception {
    try (EngineProcess e = EngineProcess.start()) {
      assertTrue(Files.exists(e.socket(), LinkOption.NOFOLLOW_LINKS));
      long t0 = System.nanoTime();
      Integer code = e.terminate(Duration.ofSeconds(10));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertNotNull(code, "the engine was still running 10 s after SIGTERM\n" + e.logTail());
      assertAll(
          () -> assertEquals(0, code, "exit code after SIGTERM (" + ms + " ms)\n" + e.logTail()),
          () -> assertFalse(Files.exists(e.socket(), LinkOption.NOFOLLOW_LINKS), "socket left after SIGTERM"));
    }
  }

  /**
   * A SIGTERM while the engine is still starting lets the start finish and then undoes it, as one after it
   * does: the JVM's default would end the process with 143 in the middle, leaving the networks' private
   * mount of the exec root's netns directory (and the bridge and rules) behind. The signal is sent as soon as
   * that mount exists, which the networks' thread makes early on while the rest of the engine is built.
   */
  @Test
  void sigtermDuringTheStartLetsItFinishThenUndoesIt() throws Exception {
    Path work = EngineProcess.newWorkDir();
    try {
      Path data = work.resolve("data");
      Path sock = work.resolve("s.sock");
      Path netns = Path.of(berth.engine.config.ConfigLoader.defaultExecRoot(data.toString())).resolve("netns");
      Path log = work.resolve("engine.log");
      Process p = new ProcessBuilder(EngineProcess.command(data, sock, List.of())).redirectErrorStream(true)
          .redirectOutput(log.toFile()).start();
      try {
        long deadline = System.nanoTime() + EngineProcess.START_TIMEOUT.toNanos();
        while (!mounted(netns) && p.isAlive() && System.nanoTime() < deadline) {
          Thread.sleep(2);
        }
        assertTrue(mounted(netns), "the engine never mounted " + netns + "\n" + Files.readString(log));
        boolean startHadEnded = Files.exists(sock, LinkOption.NOFOLLOW_LINKS);
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "still running 30 s after SIGTERM");
        String out = Files.readString(log);
        assertAll(
            () -> assertEquals(0, p.exitValue(), "exit code after a SIGTERM during the start"
                + (startHadEnded ? " (it had just ended)" : "") + "\n" + out),
            () -> assertFalse(mounted(netns), netns + " still mounted after the engine exited\n" + out),
            () -> assertFalse(Files.exists(sock, LinkOption.NOFOLLOW_LINKS), "socket left after SIGTERM"),
            () -> assertTrue(out.contains("shutting down"), out));
      } finally {
        p.destroyForcibly().waitFor();
        if (mounted(netns)) {
          berth.engine.sys.Posix.umount2(netns, berth.engine.sys.Posix.MNT_DETACH);
        }
      }
    } finally {
      EngineProcess.deleteTree(work);
    }
  }

  private static boolean mounted(Path dir) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] f = line.split(" ");
      if (f.length > 4 && f[4].equals(dir.toString())) {
        return true;
      }
    }
    return false;
  }

  @Test
  void restartKeepsLoadedImages() throws Exception {
    try (EngineProcess e = EngineProcess.start(); DockerCli cli = new DockerCli(e)) {
      assertEquals(List.of("Loaded image: busybox:latest"),
          cli.run("load", "-i", busybox.path().toString()).assertOk().lines());
      cli.run("tag", "busybox", "kept:v1").assertOk();
      long pid = e.pid();
      e.restart();
      assertTrue(e.pid() != pid, "restart did not start a new process");
      List<String> rows = cli.run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").assertOk().lines();
      String id = busybox.imageId().substring(7, 19);
      assertEquals(List.of("busybox:latest " + id, "kept:v1 " + id), rows.stream().sorted().toList());
      assertEquals(busybox.imageId(), cli.run("image", "inspect", "--format", "{{.Id}}", "kept:v1").assertOk().out());
      assertEquals(busybox.diffIds().toString().replace(",", ""),
          cli.run("image", "inspect", "--format", "{{.RootFS.Layers}}", "busybox").assertOk().out());
      assertEquals("1", cli.run("info", "--format", "{{.Images}}").assertOk().out());
      // and what was kept is usable: save works (reads every blob back)
      Path saved = e.workDir().resolve("saved.tar");
      cli.run("save", "-o", saved.toString(), "busybox").assertOk();
      assertTrue(Files.size(saved) > Files.size(busybox.path()) / 2, "saved archive is too small");
    }
  }

  // ---- HTTP API ---------------------------------------------------------------------------------

  @Test
  void tooNewApiVersionIs400() throws IOException {
    Http r = curl("GET", "/v1.99/version");
    assertEquals(400, r.status, r.raw);
    assertTrue(message(r).contains("client version 1.99 is too new"), r.raw);
  }

  @Test
  void tooOldApiVersionIs400() throws IOException {
    Http r = curl("GET", "/v1.12/version");
    assertEquals(400, r.status, r.raw);
    assertTrue(message(r).contains("client version 1.12 is too old"), r.raw);
  }

  @Test
  void supportedVersionPrefixesWork() throws IOException {
    for (String v : List.of("/v1.24", "/v1.47", "")) {
      Http r = curl("GET", v + "/version");
      assertEquals(200, r.status, r.raw);
      assertEquals("1.47", JSON.readTree(r.body).path("ApiVersion").asText(), r.raw);
      assertEquals("1.24", JSON.readTree(r.body).path("MinAPIVersion").asText(), r.raw);
    }
  }

  @Test
  void unknownEndpointIs404PageNotFound() throws IOException {
    for (String path : List.of("/nosuch", "/v1.47/nosuch/endpoint")) {
      Http r = curl("GET", path);
      assertEquals(404, r.status, r.raw);
      assertEquals(Map.of("message", "page not found"), JSON.convertValue(JSON.readTree(r.body), Map.class), r.raw);
    }
  }

  @Test
  void wrongMethodIs405WithJsonMessage() throws IOException {
    for (String[] mp : new String[][] {{"DELETE", "/version"}, {"PUT", "/images/json"}, {"POST", "/v1.47/info"}}) {
      Http r = curl(mp[0], mp[1]);
      assertEquals(405, r.status, r.raw);
      assertTrue(r.header("content-type").startsWith("application/json"), r.raw);
      assertFalse(message(r).isBlank(), r.raw);
    }
  }

  @Test
  void malformedFiltersAre400() throws IOException {
    Http r = curl("GET", "/images/json?filters=%7Bnot-json");
    assertEquals(400, r.status, r.raw);
    assertTrue(message(r).contains("invalid filter"), r.raw);
    Http wrongShape = curl("GET", "/images/json?filters=%5B1%2C2%5D");
    assertEquals(400, wrongShape.status, wrongShape.raw);
    assertFalse(message(wrongShape).isBlank(), wrongShape.raw);
    Http unknownKey = curl("GET", "/images/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D");
    assertEquals(400, unknownKey.status, unknownKey.raw);
    assertTrue(message(unknownKey).contains("bogus"), unknownKey.raw);
  }

  @Test
  void everyReplyCarriesApiVersionHeader() throws IOException {
    Map<String, Http> replies = new LinkedHashMap<>();
    replies.put("GET /_ping", curl("GET", "/_ping"));
    replies.put("HEAD /_ping", curl("HEAD", "/_ping"));
    replies.put("GET /version", curl("GET", "/version"));
    replies.put("GET /v1.44/info", curl("GET", "/v1.44/info"));
    replies.put("GET /images/json", curl("GET", "/images/json"));
    replies.put("GET /v1.99/version", curl("GET", "/v1.99/version"));
    replies.put("GET /nosuch", curl("GET", "/nosuch"));
    replies.put("DELETE /version", curl("DELETE", "/version"));
    replies.put("GET /images/nosuch/json", curl("GET", "/images/nosuch/json"));
    replies.put("GET /swarm", curl("GET", "/swarm"));
    List<String> bad = new ArrayList<>();
    replies.forEach((what, r) -> {
      if (!"1.47".equals(r.header("api-version"))) {
        bad.add(what + " -> " + r.status + " Api-Version=" + r.header("api-version"));
      }
    });
    assertEquals(List.of(), bad, "replies without 'Api-Version: 1.47'");
    assertEquals(404, replies.get("GET /images/nosuch/json").status);
  }

  @Test
  void swarmIs503NotAManager() throws IOException {
    Http r = curl("GET", "/swarm");
    assertEquals(503, r.status, r.raw);
    assertTrue(message(r).contains("This node is not a swarm manager"), r.raw);
  }

  @Test
  void pluginsIsAnEmptyList() throws IOException {
    Http r = curl("GET", "/plugins");
    assertEquals(200, r.status, r.raw);
    assertEquals("[]", r.body.strip());
  }

  @Test
  void pingAnswersGetAndHead() throws IOException {
    Http get = curl("GET", "/_ping");
    assertEquals(200, get.status, get.raw);
    assertEquals("OK", get.body);
    Http head = curl("HEAD", "/_ping");
    assertEquals(200, head.status, head.raw);
    assertEquals("", head.body, "HEAD must have no body");
    assertEquals("1.47", head.header("api-version"), head.raw);
  }

  // ---- curl -------------------------------------------------------------------------------------

  /** A parsed {@code curl -i} reply. */
  record Http(int status, Map<String, String> headers, String body, String raw) {
    String header(String name) {
      return headers.getOrDefault(name.toLowerCase(Locale.ROOT), "");
    }
  }

  static Http curl(String method, String path) {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "30", "--unix-socket", api.socket().toString()));
    if (method.equals("HEAD")) {
      cmd.add("-I");
    } else {
      cmd.add("-i");
      cmd.add("-X");
      cmd.add(method);
    }
    cmd.add("http://berth" + path);
    Result r = apiCli.exec(cmd);
    if (!r.ok()) {
      fail("curl failed: " + r);
    }
    return parse(r.stdout());
  }

  static Http parse(String raw) {
    int end = raw.indexOf("\r\n\r\n");
    String head = end < 0 ? raw : raw.substring(0, end);
    String body = end < 0 ? "" : raw.substring(end + 4);
    String[] lines = head.split("\r\n");
    String[] status = lines[0].split(" ", 3);
    assertTrue(status.length >= 2 && status[0].startsWith("HTTP/"), "not an HTTP reply: " + raw);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
      }
    }
    return new Http(Integer.parseInt(status[1]), headers, body, raw);
  }

  /** The "message" of a JSON error reply; fails if the body is not one. */
  static String message(Http r) throws IOException {
    assertTrue(r.header("content-type").startsWith("application/json"), "error reply is not JSON: " + r.raw);
    JsonNode n = JSON.readTree(r.body);
    assertTrue(n != null && n.path("message").isTextual(), "no \"message\" in " + r.raw);
    return n.path("message").asText();
  }
}
