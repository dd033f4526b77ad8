package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Running containers (#3) through the real docker CLI on real runc and the berth-mon monitor: run in its
 * forms, exit codes, logs, exec, attach, a real pty, ps filters, stop/kill/restart/rm, limits, security
 * options, top, stats, pause, restart policies and health checks.
 */
@Tag("root")
class ContainersRunIT {
  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-run-");
    TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(60));
    docker.run("load", "-q", "-i", fixtures.resolve("busybox.tar").toString()).assertOk();
  }

  @AfterAll
  static void tearDown() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @AfterEach
  void reset() {
    docker.removeAllContainers().assertOk();
  }

  private String fmt(String container, String format) {
    return docker.run("inspect", container, "--format", format).assertOk().out().trim();
  }

  /** Runs a shell pipeline with the engine's DOCKER_HOST (for `script`, which gives docker a real pty). */
  private Result sh(String script) {
    return docker.exec(List.of("sh", "-c", script));
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void runRmPrintsOutputKeepsStreamsApartAndPropagatesExitCodes() {
    Result r = docker.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3");
    assertEquals(3, r.exitCode(), r.toString());
    assertEquals("out\n", r.stdout());
    assertEquals("err\n", r.stderr());
    assertEquals("hello\n", docker.run("run", "--rm", "busybox", "echo", "hello").assertOk().stdout());
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines(), "--rm removes the container");
    // a command that does not exist: dockerd's exit code 127 and its OCI runtime message
    Result missing = docker.run("run", "--rm", "busybox", "/nonexistent");
    assertEquals(127, missing.exitCode(), missing.toString());
    assertTrue(missing.stderr().contains("no such file or directory"), missing.stderr());
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines(), "a failed --rm start leaves nothing");
  }

  @Test
  void detachedContainerLogsFollowWaitAndPsFilters() {
    String id = docker.run("run", "-d", "--name", "ticker", "--label", "tier=back", "busybox", "sh", "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.3; done; echo bye >&2").assertOk().out().trim();
    assertTrue(id.matches("[0-9a-f]{64}"), id);
    Result logs = docker.run("logs", "-f", "ticker");
    assertEquals("line1\nline2\nline3\n", logs.assertOk().stdout(), "logs -f ends when the container exits");
    assertEquals("bye\n", logs.stderr());
    assertEquals("0", docker.run("wait", "ticker").assertOk().out().trim());
    Result tail = docker.run("logs", "--tail", "2", "ticker").assertOk();
    assertEquals("line3\n", tail.stdout(), "tail counts entries of both streams, as dockerd");
    assertEquals("bye\n", tail.stderr());
    Result ts = docker.run("logs", "-t", "ticker").assertOk();
    assertTrue(ts.stdout().matches("(?s)\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z line1\n.*"), ts.stdout());

    docker.run("run", "-d", "--name", "sleeper", "busybox", "sleep", "300").assertOk();
    docker.run("run", "--name", "failed", "busybox", "sh", "-c", "exit 2").assertExit(2);
    assertEquals(List.of("sleeper"), docker.run("ps", "--format", "{{.Names}}").assertOk().lines());
    assertEquals(List.of("failed"),
        docker.run("ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}").assertOk().lines());
    assertEquals(List.of("ticker"),
        docker.run("ps", "-a", "--filter", "label=tier=back", "--format", "{{.Names}}").assertOk().lines());
    assertEquals(List.of("failed", "ticker"), docker.run("ps", "-a", "--filter", "status=exited", "--format",
        "{{.Names}}").assertOk().lines().stream().sorted().toList());
    assertEquals(3, docker.run("ps", "-a", "--filter", "ancestor=busybox", "-q").assertOk().lines().size());
    String status = docker.run("ps", "-a", "--filter", "name=failed", "--format", "{{.Status}}").assertOk().out();
    assertTrue(status.startsWith("Exited (2) "), status);
    assertTrue(docker.run("ps", "--format", "{{.Status}}").assertOk().out().startsWith("Up "));
  }

  @Test
  void stopUsesTheStopSignalThenKillsAndRestartAndKillWork() {
    // a process that handles TERM stops at once, with its own exit code
    docker.run("run", "-d", "--name", "polite", "busybox", "sh", "-c",
        "trap 'echo got-term; exit 42' TERM; while true; do sleep 0.1; done").assertOk();
    sleep(500);
    long t0 = System.nanoTime();
    docker.run("stop", "polite").assertOk();
    assertTrue(System.nanoTime() - t0 < 8_000_000_000L, "TERM was handled, no 10 s wait");
    assertEquals("exited 42", fmt("polite", "{{.State.Status}} {{.State.ExitCode}}"));
    assertEquals("got-term\n", docker.run("logs", "polite").assertOk().stdout());
    // PID 1 without a TERM handler ignores TERM: stop -t 1 then SIGKILL → 137
    docker.run("run", "-d", "--name", "stubborn", "busybox", "sleep", "300").assertOk();
    docker.run("stop", "-t", "1", "stubborn").assertOk();
    assertEquals("exited 137", fmt("stubborn", "{{.State.Status}} {{.State.ExitCode}}"));
    // --stop-signal is used by stop
    docker.run("run", "-d", "--name", "usr1", "--stop-signal", "USR1", "busybox", "sh", "-c",
        "trap 'exit 7' USR1; while true; do sleep 0.1; done").assertOk();
    sleep(500);
    docker.run("stop", "usr1").assertOk();
    assertEquals("7", fmt("usr1", "{{.State.ExitCode}}"));
    // restart runs it again; kill sends the signal
    docker.run("restart", "-t", "1", "stubborn").assertOk();
    assertEquals("running", fmt("stubborn", "{{.State.Status}}"));
    docker.run("kill", "-s", "TERM", "polite").assertExit(1); // not running: an error, as dockerd
    docker.run("kill", "stubborn").assertOk();
    docker.run("wait", "stubborn").assertOk();
    assertEquals("exited 137", fmt("stubborn", "{{.State.Status}} {{.State.ExitCode}}"));
    // rm -f of a running container
    docker.run("run", "-d", "--name", "doomed", "busybox", "sleep", "300").assertOk();
    Result rm = docker.run("rm", "doomed");
    assertFalse(rm.ok());
    assertTrue(rm.stderr().contains("container is running: stop the container before removing or force remove"),
        rm.stderr());
    docker.run("rm", "-f", "doomed").assertOk();
    assertFalse(docker.run("inspect", "doomed").ok());
  }

  @Test
  void interactiveRunAndExecWithARealPty() {
    Result r = sh("(sleep 1; printf 'tty; echo typed-$((1+2))\\nexit 5\\n'; sleep 1) "
        + "| script -qec 'docker run --rm -it busybox sh' /dev/null");
    assertEquals(5, r.exitCode(), r.toString());
    assertTrue(r.stdout().contains("/dev/pts/0"), r.stdout());
    assertTrue(r.stdout().contains("typed-3"), r.stdout());

    docker.run("run", "-d", "--name", "box", "busybox", "sleep", "300").assertOk();
    Result e = sh("(sleep 1; printf 'tty; busybox stty size; echo ex-$((2*3)); exit 6\\n'; sleep 1) "
        + "| script -qec 'docker exec -it box sh' /dev/null");
    assertEquals(6, e.exitCode(), e.toString());
    assertTrue(e.stdout().contains("/dev/pts/"), e.stdout());
    assertTrue(e.stdout().contains("ex-6"), e.stdout());
    // exec without a tty: separate streams, exit code, env and workdir
    Result plain = docker.run("exec", "-e", "X=1", "-w", "/tmp", "box", "sh", "-c", "echo $X $(pwd); echo e >&2; exit 4");
    assertEquals(4, plain.exitCode());
    assertEquals("1 /tmp\n", plain.stdout());
    assertEquals("e\n", plain.stderr());
    // stdin through exec -i
    assertEquals("piped\n", docker.runWithStdin("piped\n".getBytes(), "exec", "-i", "box", "cat").assertOk().stdout());
    assertEquals("uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n",
        docker.run("exec", "-u", "nobody", "box", "id").assertOk().stdout());
    // exec in a stopped container is a conflict
    docker.run("stop", "-t", "0", "box").assertOk();
    Result stopped = docker.run("exec", "box", "true");
    assertFalse(stopped.ok());
    assertTrue(stopped.stderr().contains("is not running"), stopped.stderr());
  }

  @Test
  void attachSeesOutputAndTheExitCode() {
    docker.run("run", "-d", "--name", "att", "busybox", "sh", "-c", "sleep 1; echo attached-out; exit 9").assertOk();
    Result a = docker.run("attach", "att");
    assertEquals(9, a.exitCode(), a.toString());
    assertEquals("attached-out\n", a.stdout());
    // stdin through run -i (StdinOnce: closing the client's stdin ends cat)
    assertEquals("to-stdin\n",
        docker.runWithStdin("to-stdin\n".getBytes(), "run", "--rm", "-i", "busybox", "cat").assertOk().stdout());
  }

  @Test
  void attachWithATtyDetachesOnCtrlPCtrlQAndTheContainerKeepsRunning() {
    docker.run("run", "-dit", "--name", "tty", "busybox", "sh").assertOk();
    Result r = sh("(sleep 1; printf 'echo in-$((6*7))\\n'; sleep 1; printf '\\020\\021'; sleep 5) "
        + "| timeout -s KILL 20 script -qec 'docker attach tty' /dev/null");
    // the CLI reports the detach as "read escape sequence" (status 1), as it does against dockerd
    assertTrue(r.stdout().contains("read escape sequence"), "detached, not killed: " + r);
    assertTrue(r.stdout().contains("in-42"), r.stdout());
    assertEquals("running", fmt("tty", "{{.State.Status}}"));
    assertEquals("ok\n", docker.run("exec", "tty", "echo", "ok").assertOk().stdout());
  }

  @Test
  void memoryLimitOomKillsWithOomKilledAndAnEvent() {
    String since = Long.toString(System.currentTimeMillis() / 1000 - 1);
    Result r = docker.run("run", "--name", "hog", "-m", "32m", "busybox", "sh", "-c",
        "exec dd if=/dev/zero of=/dev/shm/fill bs=1M count=100");
    assertEquals(137, r.exitCode(), r.toString());
    assertEquals("true 137", fmt("hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"));
    String id = fmt("hog", "{{.Id}}");
    Result ev = docker.run("events", "--since", since, "--until", Long.toString(System.currentTimeMillis() / 1000 + 1),
        "--filter", "event=oom", "--format", "{{.Actor.ID}}");
    assertEquals(List.of(id), ev.assertOk().lines());
  }

  @Test
  void cpuAndPidsLimitsAreInTheCgroup() throws IOException {
    String id = docker.run("run", "-d", "--cpus", "0.5", "--pids-limit", "64", "--cpu-shares", "512", "busybox",
        "sleep", "300").assertOk().out().trim();
    Path v2 = Path.of("/sys/fs/cgroup/berth", id);
    if (Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers"))) {
      assertEquals("50000 100000", Files.readString(v2.resolve("cpu.max")).trim());
      assertEquals("64", Files.readString(v2.resolve("pids.max")).trim());
    } else {
      Path cpu = Path.of("/sys/fs/cgroup/cpu/berth", id);
      assertEquals("50000", Files.readString(cpu.resolve("cpu.cfs_quota_us")).trim());
      assertEquals("512", Files.readString(cpu.resolve("cpu.shares")).trim());
      assertEquals("64", Files.readString(Path.of("/sys/fs/cgroup/pids/berth", id, "pids.max")).trim());
    }
    // update changes a running container's limit
    docker.run("update", "--pids-limit", "32", id).assertOk();
    Path pids = Files.exists(v2) ? v2.resolve("pids.max") : Path.of("/sys/fs/cgroup/pids/berth", id, "pids.max");
    assertEquals("32", Files.readString(pids).trim());
    assertEquals("32", fmt(id, "{{.HostConfig.PidsLimit}}"));
  }

  @Test
  void securityOptionsAndNamespaces() {
    assertEquals("CapEff:\t0000000000000000\n",
        docker.run("run", "--rm", "--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status").assertOk()
            .stdout());
    String def = docker.run("run", "--rm", "busybox", "grep", "CapEff", "/proc/self/status").assertOk().stdout();
    assertEquals("CapEff:\t00000000a80425fb\n", def, "Docker's default capability set");
    Result ro = docker.run("run", "--rm", "--read-only", "busybox", "touch", "/x");
    assertEquals(1, ro.exitCode());
    assertTrue(ro.stderr().contains("Read-only file system"), ro.stderr());
    assertEquals("uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n",
        docker.run("run", "--rm", "--user", "nobody", "busybox", "id").assertOk().stdout());
    assertEquals("uid=1234 gid=5\n",
        docker.run("run", "--rm", "--user", "1234:5", "busybox", "sh", "-c", "echo uid=$(id -u) gid=$(id -g)")
            .assertOk().stdout());
    assertEquals("1\n", docker.run("run", "--rm", "busybox", "sh", "-c", "echo $$").assertOk().stdout(),
        "the process is PID 1 of its own pid namespace");
    assertEquals("myhost\n", docker.run("run", "--rm", "--hostname", "myhost", "busybox", "hostname").assertOk()
        .stdout());
    assertEquals("/tmp\n", docker.run("run", "--rm", "-w", "/tmp", "busybox", "sh", "-c", "pwd").assertOk().stdout());
    assertEquals("ok\n", docker.run("run", "--rm", "--entrypoint", "echo", "busybox", "ok").assertOk().stdout());
    String init = docker.run("run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm").assertOk().stdout();
    assertTrue(init.contains("1 docker-init") || init.contains("1 tini"), init);
    Result unknownUser = docker.run("run", "--rm", "--user", "nosuchuser", "busybox", "true");
    assertFalse(unknownUser.ok());
    assertTrue(unknownUser.stderr().contains("unable to find user nosuchuser"), unknownUser.stderr());
  }

  @Test
  void topStatsPauseAndUnpause() {
    docker.run("run", "-d", "--name", "busy", "busybox", "sleep", "300").assertOk();
    Result top = docker.run("top", "busy").assertOk();
    assertTrue(top.lines().get(0).contains("PID"), top.stdout());
    assertTrue(top.stdout().contains("sleep 300"), top.stdout());
    Result stats = docker.run("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "busy")
        .assertOk();
    assertTrue(stats.out().startsWith("busy 1 "), stats.out());
    assertFalse(stats.out().contains(" 0B /"), "memory usage is read from the cgroup: " + stats.out());
    docker.run("pause", "busy").assertOk();
    assertEquals("paused true", fmt("busy", "{{.State.Status}} {{.State.Paused}}"));
    assertTrue(docker.run("ps", "--format", "{{.Status}}").assertOk().out().endsWith("(Paused)"));
    Result again = docker.run("pause", "busy");
    assertFalse(again.ok());
    assertTrue(again.stderr().contains("is already paused"), again.stderr());
    docker.run("unpause", "busy").assertOk();
    assertEquals("running false", fmt("busy", "{{.State.Status}} {{.State.Paused}}"));
    assertEquals("ok\n", docker.run("exec", "busy", "echo", "ok").assertOk().stdout());
  }

  @Test
  void restartPolicies() {
    docker.run("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 1")
        .assertOk();
    waitFor(() -> fmt("flaky", "{{.RestartCount}} {{.State.Status}}").equals("2 exited"), "two restarts then exited");
    assertEquals("run\nrun\nrun\n", docker.run("logs", "flaky").assertOk().stdout());
    docker.run("run", "-d", "--name", "forever", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 0")
        .assertOk();
    waitFor(() -> Integer.parseInt(fmt("forever", "{{.RestartCount}}")) >= 2, "always restarts even on exit 0");
    docker.run("stop", "-t", "1", "forever").assertOk();
    sleep(1500);
    assertEquals("exited", fmt("forever", "{{.State.Status}}"), "a stopped container is not restarted");
    // the CLI refuses --rm with --restart itself; the engine refuses the same request from any client
    Result conflict = docker.exec(List.of("curl", "-s", "--unix-socket", engine.socket().toString(), "-H",
        "Content-Type: application/json", "-d",
        "{\"Image\":\"busybox\",\"HostConfig\":{\"AutoRemove\":true,\"RestartPolicy\":{\"Name\":\"always\"}}}",
        "-w", " %{http_code}", "http://localhost/v1.47/containers/create"));
    assertEquals("{\"message\":\"can't create 'AutoRemove' container with restart policy\"}\n 400",
        conflict.stdout());
  }

  @Test
  void healthChecksSetStateHealthAndEmitEvents() {
    String since = Long.toString(System.currentTimeMillis() / 1000 - 1);
    docker.run("run", "-d", "--name", "doc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
        "--health-retries", "1", "busybox", "sh", "-c", "sleep 2.5; touch /tmp/ok; sleep 300").assertOk();
    waitFor(() -> fmt("doc", "{{.State.Health.Status}}").equals("unhealthy"), "unhealthy before the file exists");
    waitFor(() -> fmt("doc", "{{.State.Health.Status}}").equals("healthy"), "healthy once it exists");
    assertTrue(docker.run("ps", "--format", "{{.Status}}").assertOk().out().endsWith("(healthy)"));
    List<String> ev = docker.run("events", "--since", since, "--until",
        Long.toString(System.currentTimeMillis() / 1000 + 1), "--filter", "container=doc", "--format", "{{.Action}}")
        .assertOk().lines();
    assertTrue(ev.contains("health_status: unhealthy") && ev.contains("health_status: healthy"), ev.toString());
  }

  @Test
  void badInputGetsDockersErrors() {
    Result noImage = docker.run("run", "--rm", "nosuchimage:1");
    assertFalse(noImage.ok());
    assertTrue(noImage.stderr().contains("No such image") || noImage.stderr().contains("nosuchimage"),
        noImage.stderr());
    Result badName = docker.run("run", "--name", "bad/name", "busybox", "true");
    assertFalse(badName.ok());
    assertTrue(badName.stderr().contains("Invalid container name"), badName.stderr());
    Result badMem = docker.run("run", "-m", "1k", "busybox", "true");
    assertFalse(badMem.ok());
    assertTrue(badMem.stderr().contains("Minimum memory limit allowed is 6MB"), badMem.stderr());
    Result badSig = docker.run("run", "-d", "--name", "sig", "busybox", "sleep", "300");
    badSig.assertOk();
    Result kill = docker.run("kill", "-s", "NOPE", "sig");
    assertFalse(kill.ok());
    assertTrue(kill.stderr().contains("Invalid signal: NOPE"), kill.stderr());
    assertEquals(List.of("sig"), docker.run("ps", "-a", "--format", "{{.Names}}").assertOk().lines(),
        "failed creates leave no container");
  }

  @Test
  void autoRemoveContainersSurviveARepeatedStartAndARestart() {
    String id = docker.run("run", "-d", "--rm", "busybox", "sleep", "300").assertOk().out().trim();
    docker.run("start", id).assertOk(); // already running: nothing happens (304), the container stays
    assertEquals("running", fmt(id, "{{.State.Status}}"));
    docker.run("restart", "-t", "0", id).assertOk(); // a user's restart does not auto-remove
    assertEquals("running", fmt(id, "{{.State.Status}}"));
    docker.run("stop", "-t", "0", id).assertOk();
    waitFor(() -> !docker.run("inspect", id).ok(), "removed after a plain stop");
  }

  @Test
  void execOfAMissingCommandPrintsDockersErrorAndExits127() {
    docker.run("run", "-d", "--name", "ex", "busybox", "sleep", "300").assertOk();
    Result r = docker.run("exec", "ex", "/nosuch");
    assertEquals(127, r.exitCode(), r.toString());
    assertTrue(r.stdout().contains("OCI runtime exec failed") && r.stdout().contains("/nosuch"), r.toString());
  }

  @Test
  void binaryStdinWithoutATtyIsNotMistakenForDetachKeys() {
    byte[] data = {'a', 16, 17, 'b', 16, 17, '\n'}; // ctrl-p ctrl-q inside data: only a tty detaches
    Result r = docker.runWithStdin(data, "run", "--rm", "-i", "busybox", "od", "-An", "-tx1");
    // od may be missing from the applets: fall back to wc -c, which still proves nothing was cut
    if (!r.ok()) {
      r = docker.runWithStdin(data, "run", "--rm", "-i", "busybox", "wc", "-c");
      assertEquals("7", r.assertOk().out().trim());
    } else {
      assertEquals("61 10 11 62 10 11 0a", r.out().trim());
    }
  }

  @Test
  void logOptsWithoutADriverRotateTheJsonFile() throws IOException {
    String id = docker.run("run", "--name", "rot", "--log-opt", "max-size=2k", "--log-opt", "max-file=2", "busybox",
        "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done").assertOk().stdout().trim();
    assertTrue(id.endsWith("line-199"), id);
    Path dir = Path.of(fmt("rot", "{{.LogPath}}")).getParent();
    String full = fmt("rot", "{{.Id}}");
    List<String> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.map(p -> p.getFileName().toString()).filter(n -> n.contains("-json.log")).sorted().toList();
    }
    assertEquals(List.of(full + "-json.log", full + "-json.log.1"), files, "max-file=2 keeps one rotated file");
    for (String f : files) {
      assertTrue(Files.size(dir.resolve(f)) <= 2048, f + " is at most max-size");
    }
    List<String> tail = docker.run("logs", "rot").assertOk().lines();
    assertEquals("line-199", tail.get(tail.size() - 1));
  }

  @Test
  void everyLifecycleStepIsAnEvent() {
    String since = Long.toString(System.currentTimeMillis() / 1000 - 1);
    String id = docker.run("run", "-d", "--name", "ev", "busybox", "sleep", "300").assertOk().out().trim();
    docker.run("exec", "ev", "true").assertOk();
    docker.run("pause", "ev").assertOk();
    docker.run("unpause", "ev").assertOk();
    docker.run("rename", "ev", "ev2").assertOk();
    docker.run("restart", "-t", "0", "ev2").assertOk();
    docker.run("stop", "-t", "0", "ev2").assertOk();
    docker.run("rm", "ev2").assertOk();
    List<String> actions = docker.run("events", "--since", since, "--until",
        Long.toString(System.currentTimeMillis() / 1000 + 1), "--filter", "container=" + id, "--format",
        "{{.Action}}").assertOk().lines().stream().map(a -> a.replaceAll(":.*", "")).toList();
    // stop -t 0: the stop signal, then SIGKILL at once: two kill events, as from dockerd
    assertEquals(List.of("create", "start", "exec_create", "exec_start", "exec_die", "pause", "unpause", "rename",
        "kill", "kill", "die", "stop", "start", "restart", "kill", "kill", "die", "stop", "destroy"), actions);
  }

  @Test
  void psFiltersOnHealthAndNetwork() {
    docker.run("run", "-d", "--name", "h1", "--health-cmd", "true", "--health-interval", "1s", "busybox", "sleep",
        "300").assertOk();
    docker.run("run", "-d", "--name", "plainnet", "--network", "none", "busybox", "sleep", "300").assertOk();
    waitFor(() -> docker.run("ps", "--filter", "health=healthy", "--format", "{{.Names}}").out().trim()
        .equals("h1"), "h1 healthy");
    assertEquals(List.of("plainnet"),
        docker.run("ps", "--filter", "health=none", "--format", "{{.Names}}").assertOk().lines());
    assertEquals(List.of("plainnet"),
        docker.run("ps", "--filter", "network=none", "--format", "{{.Names}}").assertOk().lines());
    assertEquals(List.of("h1"), docker.run("ps", "--filter", "network=bridge", "--format", "{{.Names}}").assertOk()
        .lines());
    Result bad = docker.run("ps", "--filter", "health=great");
    assertFalse(bad.ok());
    assertTrue(bad.stderr().contains("Unrecognised filter value for health: great"), bad.stderr());
  }

  @Test
  void memorySwapReservationAndCpusetAreInTheCgroup() throws IOException {
    String id = docker.run("run", "-d", "-m", "64m", "--memory-swap", "128m", "--memory-reservation", "32m",
        "--cpuset-cpus", "0", "busybox", "sleep", "300").assertOk().out().trim();
    if (Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers"))) {
      Path g = Path.of("/sys/fs/cgroup/berth", id);
      assertEquals("67108864", Files.readString(g.resolve("memory.max")).trim());
      assertEquals("67108864", Files.readString(g.resolve("memory.swap.max")).trim());
      assertEquals("33554432", Files.readString(g.resolve("memory.low")).trim());
      assertEquals("0", Files.readString(g.resolve("cpuset.cpus")).trim());
    } else {
      Path m = Path.of("/sys/fs/cgroup/memory/berth", id);
      assertEquals("67108864", Files.readString(m.resolve("memory.limit_in_bytes")).trim());
      assertEquals("33554432", Files.readString(m.resolve("memory.soft_limit_in_bytes")).trim());
      if (Files.exists(m.resolve("memory.memsw.limit_in_bytes"))) {
        assertEquals("134217728", Files.readString(m.resolve("memory.memsw.limit_in_bytes")).trim());
      }
      assertEquals("0", Files.readString(Path.of("/sys/fs/cgroup/cpuset/berth", id, "cpuset.cpus")).trim());
    }
    Result cpus = docker.run("run", "--rm", "--cpus", "99", "busybox", "true");
    assertFalse(cpus.ok());
    assertTrue(cpus.stderr().contains("range of CPUs is from 0.01 to"), cpus.stderr());
    Result swap = docker.run("run", "--rm", "-m", "64m", "--memory-swap", "32m", "busybox", "true");
    assertFalse(swap.ok());
    assertTrue(swap.stderr().contains("Minimum memoryswap limit should be larger than memory limit"), swap.stderr());
  }

  private static void waitFor(java.util.function.BooleanSupplier cond, String what) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting: " + what);
      }
      sleep(200);
    }
  }
}
