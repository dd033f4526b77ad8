package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What survives an engine restart (live restore, reconciliation, restart policies) and what must not
 * survive anything: after many failed creates and create/start/rm cycles, no mount, cgroup, process or
 * file is left behind.
 */
@Tag("root")
class ContainersRestoreIT {
  EngineProcess engine;
  DockerCli docker;
  Path fixtures;

  @BeforeEach
  void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-restore-");
    TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
  }

  private void startEngine(String... args) throws IOException {
    engine = EngineProcess.start(List.of(args));
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(60));
    docker.run("load", "-q", "-i", fixtures.resolve("busybox.tar").toString()).assertOk();
  }

  @AfterEach
  void tearDown() throws IOException {
    if (docker != null) {
      docker.removeAllContainers();
    }
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @Test
  void liveRestoreKeepsContainersRunningAcrossAnEngineRestart() throws IOException {
    startEngine("--live-restore");
    docker.run("run", "-d", "--name", "live", "busybox", "sh", "-c",
        "i=0; while true; do echo t$i; i=$((i+1)); sleep 0.2; done").assertOk();
    String pid = docker.run("inspect", "live", "--format", "{{.State.Pid}}").assertOk().out().trim();
    engine.restart();
    assertEquals("running " + pid, docker.run("inspect", "live", "--format", "{{.State.Status}} {{.State.Pid}}")
        .assertOk().out().trim(), "the same process still runs");
    assertTrue(Files.exists(Path.of("/proc", pid)));
    int before = docker.run("logs", "live").assertOk().lines().size();
    sleep(700);
    assertTrue(docker.run("logs", "live").assertOk().lines().size() > before, "the log keeps growing");
    Result attach = docker.exec(List.of("sh", "-c", "timeout -s KILL 2 docker attach --no-stdin --sig-proxy=false live; true"));
    assertTrue(attach.stdout().matches("(?s)t\\d+\n.*"), "attach after the restart gets live output: " + attach);
    docker.run("stop", "-t", "1", "live").assertOk();
    assertEquals("exited 137", docker.run("inspect", "live", "--format", "{{.State.Status}} {{.State.ExitCode}}")
        .assertOk().out().trim());
  }

  @Test
  void liveRestoreKeepsPublishedPortsAddressesAndNamesAcrossAnEngineRestart() throws Exception {
    startEngine("--live-restore");
    docker.run("network", "create", "keep").assertOk();
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    docker.run("run", "-d", "--name", "web", "--network", "keep", "-p", "127.0.0.1:" + port + ":80", "busybox", "sh",
        "-c", "mkdir /www && echo kept > /www/index.html && exec httpd -f -p 80 -h /www").assertOk();
    String ip = docker.run("inspect", "web", "--format", "{{.NetworkSettings.Networks.keep.IPAddress}}").assertOk()
        .out().trim();
    awaitGet(port);
    engine.restart();
    assertTrue(awaitGet(port).contains("kept"), "the published port answers after the restart");
    Result dns = docker.run("run", "--rm", "--network", "keep", "busybox", "nslookup", "web").assertOk();
    assertTrue(dns.stdout().contains(ip), "the embedded DNS still knows the container: " + dns);
    String other = docker.run("run", "--rm", "--network", "keep", "busybox", "ip", "-4", "-o", "addr", "show", "eth0")
        .assertOk().out();
    assertTrue(!other.contains(" " + ip + "/"), "the live container's address is not handed out again: " + other);
    try (java.net.Socket s = new java.net.Socket()) {
      assertThrows(IOException.class, () -> s.bind(new java.net.InetSocketAddress("127.0.0.1", port)),
          "the engine holds the host port again");
    }
    docker.run("rm", "-f", "web").assertOk();
    docker.run("network", "rm", "keep").assertOk();
  }

  private static String awaitGet(int port) throws InterruptedException {
    for (int i = 0; i < 100; i++) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
        s.setSoTimeout(3000);
        s.getOutputStream().write("GET /index.html HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (r.contains(" 200 ")) {
          return r;
        }
      } catch (IOException e) {
        // not up yet
      }
      Thread.sleep(100);
    }
    throw new AssertionError("nothing answered on 127.0.0.1:" + port);
  }

  @Test
  void withoutLiveRestoreTheEngineStopsContainersAndAlwaysOnesComeBack() throws IOException {
    startEngine();
    docker.run("run", "-d", "--name", "plain", "busybox", "sleep", "300").assertOk();
    docker.run("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "300").assertOk();
    String pid = docker.run("inspect", "plain", "--format", "{{.State.Pid}}").assertOk().out().trim();
    engine.restart();
    assertTrue(!Files.exists(Path.of("/proc", pid)), "the engine's stop stopped the container");
    assertEquals("exited", docker.run("inspect", "plain", "--format", "{{.State.Status}}").assertOk().out().trim());
    assertEquals("running", docker.run("inspect", "always", "--format", "{{.State.Status}}").assertOk().out().trim(),
        "a container with restart=always is started again with the engine");
  }

  @Test
  void aContainerThatDiedWhileTheEngineWasDownIsMarkedExitedWithItsCode() throws IOException {
    startEngine("--live-restore");
    docker.run("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 2; exit 5").assertOk();
    engine.stop();
    sleep(3000);
    engine.restart();
    assertEquals("exited 5", docker.run("inspect", "short", "--format", "{{.State.Status}} {{.State.ExitCode}}")
        .assertOk().out().trim());
  }

  @Test
  void nothingIsLeftBehindAfterManyFailedCreatesAndRunCycles() throws IOException {
    startEngine();
    for (int i = 0; i < 100; i++) {
      Result r = docker.run("create", "-m", "1k", "busybox", "true");
      assertTrue(!r.ok() && r.stderr().contains("Minimum memory limit allowed is 6MB"), r.toString());
    }
    for (int i = 0; i < 100; i++) {
      Result r = docker.run("run", "--rm", "busybox", "true");
      assertEquals(0, r.exitCode(), r.toString());
    }
    for (int i = 0; i < 10; i++) { // start failures clean up too
      assertEquals(127, docker.run("run", "--rm", "busybox", "/nonexistent").exitCode());
    }
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines());
    String data = engine.dataRoot().toString();
    String exec = engine.execRoot().toString();
    List<String> leaks = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
      boolean nsDir = line.split(" ")[4].equals(exec + "/netns"); // the engine's own private namespace directory
      if ((line.contains(" " + data + "/") || line.contains(" " + exec + "/")) && !nsDir) {
        leaks.add("mount: " + line);
      }
    }
    try (Stream<Path> s = Files.list(Path.of("/sys/fs/cgroup"))) {
      for (Path h : s.toList()) {
        Path b = h.resolve("berth");
        if (Files.isDirectory(b) && !Files.isSymbolicLink(h)) {
          try (Stream<Path> kids = Files.list(b)) {
            kids.filter(Files::isDirectory).forEach(k -> leaks.add("cgroup: " + k));
          }
        }
      }
    }
    for (String sub : List.of("containers", "layers/rw")) {
      try (Stream<Path> s = Files.list(engine.dataRoot().resolve(sub))) {
        s.forEach(p -> leaks.add("data root: " + p));
      }
    }
    for (String sub : List.of("c", "e", "netns")) {
      try (Stream<Path> s = Files.list(engine.execRoot().resolve(sub))) {
        s.forEach(p -> leaks.add("exec root: " + p));
      }
    }
    try (Stream<Path> s = Files.list(engine.execRoot().resolve("runc"))) {
      s.forEach(p -> leaks.add("runc state: " + p));
    }
    ProcessHandle.allProcesses().forEach(p -> p.info().commandLine().ifPresent(c -> {
      if (c.contains("berth-mon") && c.contains(exec)) {
        leaks.add("process: " + c);
      }
    }));
    assertEquals(List.of(), leaks);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
