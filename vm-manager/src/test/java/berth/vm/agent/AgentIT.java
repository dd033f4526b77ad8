package berth.vm.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import berth.engine.config.ConfigLoader;
import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import berth.vm.socket.SocketForward;
import berth.vm.ssh.GuestSsh;
import berth.vm.ssh.MachineKey;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The guest agent as the guest runs it — a child JVM from this module's jar and lib/, with the engine inside —
 * driven as the host drives it: {@link GuestSsh} over loopback and a {@link SocketForward} that the real docker
 * CLI talks to. No VM: the agent runs on this host with temp data, exec root and sockets.
 */
@Tag("root")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentIT {
  static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
  static Path work;
  static Path engineSocket;
  static int port;
  static Process agent;
  static Path agentOut;
  static Path agentErr;
  static GuestSsh ssh;
  static SocketForward forward;
  static DockerCli docker;

  @BeforeAll
  static void up() throws Exception {
    RequiresRoot.check();
    work = Files.createTempDirectory(Path.of("/tmp"), "berth-agent-it-");
    engineSocket = work.resolve("guest/run/docker.sock");
    String pub = MachineKey.generate(work.resolve("id"));
    Files.createDirectories(work.resolve("guest"));
    Files.writeString(work.resolve("guest/authorized_keys"), pub + "\n");
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    startAgent();
    ssh = GuestSsh.create(target(work.resolve("id"), work.resolve("host/known_host_key")), Duration.ofSeconds(30));
    forward = SocketForward.start(work.resolve("host/run/docker.sock"), ssh.streamLocalDialer(engineSocket.toString()));
    docker = new DockerCli("unix://" + forward.socket());
  }

  static GuestSsh.Target target(Path key, Path knownHost) {
    return new GuestSsh.Target("127.0.0.1", port, key, knownHost);
  }

  static void startAgent() throws IOException, InterruptedException {
    Path base = Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
    Path jar = base.resolve("../guest-agent/target/berth-guest-agent.jar").normalize();
    Path monitor = base.resolve("../engine/target/berth-mon").normalize();
    assertTrue(Files.isRegularFile(jar), "build the agent first: " + jar);
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:+UseSerialGC",
        "-Dberth.monitor=" + monitor, "-cp", jar + ":" + base.resolve("../guest-agent/target/lib").normalize() + "/*", "berth.agent.Agent",
        "--data-root", work.resolve("guest/data").toString(), "--engine-socket", engineSocket.toString(),
        "--ssh-port", Integer.toString(port), "--ssh-address", "127.0.0.1",
        "--authorized-keys", work.resolve("guest/authorized_keys").toString(),
        "--host-key", work.resolve("guest/data/agent/ssh_host_key").toString());
    agentOut = work.resolve("agent.out");
    agentErr = work.resolve("agent.err");
    agent = new ProcessBuilder(cmd).redirectOutput(agentOut.toFile())
        .redirectError(ProcessBuilder.Redirect.appendTo(agentErr.toFile())).start();
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.readString(agentOut).contains("BERTH-AGENT READY\n")) {
        return;
      }
      if (!agent.isAlive()) {
        fail("agent exited with " + agent.exitValue() + " before it was ready\n" + log());
      }
      Thread.sleep(100);
    }
    fail("agent not ready within " + READY_TIMEOUT + "\n" + log());
  }

  static String log() {
    try {
      List<String> l = Files.readAllLines(agentErr);
      return "--- agent stderr ---\n" + String.join("\n", l.subList(Math.max(0, l.size() - 60), l.size()));
    } catch (IOException e) {
      return "(no agent log: " + e + ")";
    }
  }

  @AfterAll
  static void down() throws Exception {
    if (docker != null) {
      docker.removeAllContainers();
      docker.close();
    }
    if (forward != null) {
      forward.close();
      assertFalse(Files.exists(forward.socket()), "close removes the socket file");
    }
    if (ssh != null) {
      ssh.close();
    }
    if (agent != null && agent.isAlive()) {
      agent.destroy();
      if (!agent.waitFor(60, TimeUnit.SECONDS)) {
        agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    if (work != null) {
      Path execRoot = Path.of(ConfigLoader.defaultExecRoot(work.resolve("guest/data").toString()));
      if (!Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + execRoot + "/")) {
        EngineProcess.deleteTree(execRoot);
      }
      if (Boolean.getBoolean("berth.it.keep")) {
        System.err.println("keeping " + work);
      } else {
        EngineProcess.deleteTree(work);
      }
    }
  }

  @Test
  @Order(1)
  void execRunsBuiltinsAndShellCommandsWithStatusAndStreams() throws IOException {
    GuestSsh.ExecResult ready = ssh.exec("berth-agent ready", Duration.ofSeconds(60));
    assertEquals(new GuestSsh.ExecResult(0, "ready\n", ""), ready);
    assertEquals(new GuestSsh.ExecResult(7, "out\n", "err\n"),
        ssh.exec("echo out; echo err >&2; exit 7", Duration.ofSeconds(30)));
    GuestSsh.ExecResult bad = ssh.exec("berth-agent reboot", Duration.ofSeconds(30));
    assertEquals(2, bad.exitStatus(), bad.toString());
    assertTrue(bad.stderr().contains("unknown berth-agent command: reboot"), bad.stderr());
    // the host's own clock is the guest's here: within tolerance, so left alone (never stepped in a test)
    GuestSsh.ExecResult t = ssh.exec("berth-agent time-sync " + System.currentTimeMillis(), Duration.ofSeconds(30));
    assertEquals(0, t.exitStatus(), t.toString());
    assertTrue(t.stdout().contains("left alone"), t.stdout());
    assertEquals(2, ssh.exec("berth-agent time-sync soon", Duration.ofSeconds(30)).exitStatus());
    // what `berth start` sends: the wait and the clock in one exec
    GuestSsh.ExecResult both = ssh.exec("berth-agent ready --time-sync " + System.currentTimeMillis(), Duration.ofSeconds(60));
    assertEquals(0, both.exitStatus(), both.toString());
    assertTrue(both.stdout().matches("ready\nclock within \\d+ ms of the host's; left alone\n"), both.stdout());
  }

  @Test
  @Order(2)
  void dockerCliWorksThroughTheForwardedSocket() throws IOException {
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(forward.socket())));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(forward.socket().getParent())));
    Result v = docker.run("version", "--format", "{{.Server.Version}}").assertOk();
    assertFalse(v.out().isBlank(), v.toString());
    Path tar = work.resolve("busybox.tar");
    TestImages.busybox(tar, "busybox:latest");
    docker.run("load", "-i", tar.toString()).assertOk();
    assertEquals("hi\n", docker.run("run", "--rm", "busybox", "echo", "hi").assertOk().stdout());
    // a big stdin and stdout both ways through the channel, with the client's half-close ending cat
    byte[] big = new byte[3 * 1024 * 1024];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) ('a' + i % 26);
    }
    Result cat = docker.runWithStdin(big, "run", "--rm", "-i", "busybox", "sh", "-c", "cat | wc -c");
    assertEquals(Integer.toString(big.length), cat.assertOk().out().trim());
  }

  @Test
  @Order(3)
  void interactiveRunGetsARealPtyThroughTheForward() {
    Result r = docker.exec(List.of("sh", "-c", "(sleep 1; printf 'tty; echo typed-$((1+2))\\nexit 5\\n'; sleep 1) "
        + "| script -qec 'docker run --rm -it busybox sh' /dev/null"));
    assertEquals(5, r.exitCode(), r.toString());
    assertTrue(r.stdout().contains("/dev/pts/0"), r.stdout());
    assertTrue(r.stdout().contains("typed-3"), r.stdout());
  }

  @Test
  @Order(4)
  void logsFollowAndEventsStream() throws Exception {
    try (DockerCli.Background events = docker.background("events", "--filter", "type=container",
        "--format", "{{.Action}} {{.Actor.Attributes.name}}")) {
      Thread.sleep(500); // the subscription is in place before the container starts
      docker.run("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
          "for i in 1 2 3 4 5 6; do echo line$i; sleep 0.5; done").assertOk();
      try (DockerCli.Background logs = docker.background("logs", "-f", "ticker")) {
        logs.awaitLine(l -> l.equals("line1"), Duration.ofSeconds(30), "the first log line");
        logs.awaitLine(l -> l.equals("line6"), Duration.ofSeconds(30), "the last log line, streamed");
      }
      events.awaitLine(l -> l.equals("start ticker"), Duration.ofSeconds(30), "the start event");
      events.awaitLine(l -> l.equals("die ticker"), Duration.ofSeconds(30), "the die event");
    }
    docker.run("rm", "ticker").assertOk();
  }

  @Test
  @Order(5)
  void theForwardRecoversWhenTheServerCutsTheConnection() throws Exception {
    assertTrue(ssh.isConnected());
    // Destroy the server's end of every established connection on its port (the kernel's SOCK_DESTROY).
    Process ss = new ProcessBuilder("ss", "-K", "state", "established", "sport", "=", ":" + port)
        .redirectErrorStream(true).start();
    String ssOut = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, ss.waitFor(), ssOut);
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (ssh.isConnected() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertFalse(ssh.isConnected(), "the cut was seen: " + ssOut);
    // no user action: the next docker command reconnects through the same socket
    assertEquals("again\n", docker.run("run", "--rm", "busybox", "echo", "again").assertOk().stdout());
    assertTrue(ssh.isConnected());
  }

  @Test
  @Order(6)
  void aStreamToAnotherPathAndAWrongKeyAndAChangedHostKeyAreRefused() throws IOException {
    try (SocketChannel unused = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      IOException e = assertThrows(IOException.class, () -> ssh.bridgeStreamLocal("/etc/passwd", unused));
      assertTrue(e.getMessage().contains("only the engine socket " + engineSocket + " may be forwarded"), e.getMessage());
    }
    // a key the guest does not know
    MachineKey.generate(work.resolve("other"));
    try (GuestSsh stranger = GuestSsh.create(target(work.resolve("other"), work.resolve("host/known_host_key")),
        Duration.ofSeconds(2))) {
      IOException e = assertThrows(IOException.class, () -> stranger.exec("true", Duration.ofSeconds(5)));
      assertTrue(e.getMessage().contains("cannot connect"), e.getMessage());
    }
    // the right key, but a host key that is not the pinned one
    Path wrongPin = work.resolve("host/wrong_host_key");
    Files.writeString(wrongPin, Files.readString(MachineKey.publicKeyFile(work.resolve("other"))));
    try (GuestSsh spoofed = GuestSsh.create(target(work.resolve("id"), wrongPin), Duration.ofSeconds(10))) {
      IOException e = assertThrows(IOException.class, () -> spoofed.connect(Duration.ofSeconds(10)));
      assertTrue(e.getMessage().contains("not the one recorded in " + wrongPin), e.getMessage());
    }
    // the pin written on first use is the agent's key, one line
    assertEquals(1, Files.readAllLines(work.resolve("host/known_host_key")).size());
  }

  @Test
  @Order(7)
  void openSshClientForwardsTheEngineSocketToo() throws Exception {
    Path ssh = Path.of("/usr/bin/ssh");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(ssh), "OpenSSH client not installed");
    Path local = work.resolve("openssh.sock");
    List<String> cmd = new ArrayList<>(List.of(ssh.toString(), "-N", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=" + work.resolve("openssh_known_hosts"),
        "-o", "ExitOnForwardFailure=yes", "-i", work.resolve("id").toString(), "-p", Integer.toString(port),
        "-L", local + ":" + engineSocket, "root@127.0.0.1"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(work.resolve("openssh.log").toFile()).start();
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (!Files.exists(local) && p.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertTrue(Files.exists(local), "ssh -L made no socket: " + Files.readString(work.resolve("openssh.log")));
      try (DockerCli viaOpenSsh = new DockerCli("unix://" + local)) {
        assertEquals("openssh\n", viaOpenSsh.run("run", "--rm", "busybox", "echo", "openssh").assertOk().stdout());
      }
    } finally {
      p.destroy();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  @Order(8)
  void shutdownStopsTheContainersAndTheAgentExitsZero() throws Exception {
    docker.run("run", "-d", "--name", "sleeper", "busybox", "sleep", "3131").assertOk();
    assertTrue(sleepers() > 0, "the container runs");
    GuestSsh.ExecResult r = ssh.exec("berth-agent shutdown", Duration.ofSeconds(90));
    assertEquals(new GuestSsh.ExecResult(0, "stopped\n", ""), r);
    assertTrue(agent.waitFor(30, TimeUnit.SECONDS), "agent exits after shutdown\n" + log());
    assertEquals(0, agent.exitValue(), log());
    assertEquals(0, sleepers(), "the container was stopped with the engine");
    assertFalse(Files.exists(engineSocket), "the engine removed its socket");
    // The agent again, on the same data disk: same host key (the pin holds), the image still there.
    startAgent();
    assertEquals("back\n", docker.run("run", "--rm", "busybox", "echo", "back").assertOk().stdout());
    agent.destroy(); // SIGTERM: the same clean stop
    assertTrue(agent.waitFor(60, TimeUnit.SECONDS), log());
    assertEquals(0, agent.exitValue(), log());
  }

  /** Processes whose argv is {@code sleep 3131}, read from /proc (a container's binary path means nothing here). */
  private static long sleepers() throws IOException {
    long n = 0;
    try (var procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        if (!p.getFileName().toString().matches("[0-9]+")) {
          continue;
        }
        try {
          if (new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).equals("sleep\u00003131\u0000")) {
            n++;
          }
        } catch (IOException e) {
          // the process ended meanwhile
        }
      }
    }
    return n;
  }
}
