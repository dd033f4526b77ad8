package berth.desktop.cli;

import static berth.desktop.cli.Commands.IMAGE;
import static berth.desktop.cli.Commands.MODULE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.TestImages;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue #3's cgroup v2 half, on a real cgroup v2 kernel: the Berth machine's (this host is cgroup v1). Through
 * the host's docker CLI and the machine's socket: the limits land in the container's v2 cgroup (read in the
 * guest over {@code berth ssh}), {@code docker update} changes them, pause freezes it, an out-of-memory kill is
 * {@code OOMKilled} with exit 137 and an {@code oom} event, stats read v2's counters, and no cgroup is left
 * behind by removed, failed or {@code --rm} containers.
 */
@Tag("root")
class GuestCgroupV2IT {
  private static Path home;
  private static DockerCli docker;

  @BeforeAll
  static void setUp() throws Exception {
    Commands.requireRootAndImage();
    home = Files.createTempDirectory(Path.of("/tmp"), "berth-cgv2-");
    Result start = berth("start", "--driver", "libvirt", "--cpus", "2", "--memory", "1GiB", "--disk", "2GiB",
        "--accel", "tcg");
    assertEquals(0, start.exitCode(), start + console());
    docker = new DockerCli("unix://" + home.resolve("run/docker.sock")).timeout(Duration.ofSeconds(180));
    Path tar = home.resolve("busybox.tar");
    TestImages.busybox(tar, "busybox:latest");
    docker.run("load", "-i", tar.toString()).assertOk();
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (docker != null) {
      docker.close();
    }
    if (home != null) {
      Path keep = Files.createDirectories(MODULE.resolve("target/guest-cgroup-logs"));
      Path log = home.resolve("machines/default/console.log");
      if (Files.exists(log)) {
        Files.copy(log, keep.resolve("console.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
      berth("delete");
      Commands.exec(List.of("rm", "-rf", home.toString()), Duration.ofSeconds(30), null, Map.of());
    }
  }

  @Test
  void limitsUpdatesAndFreezingAreTheContainersV2CgroupFiles() throws Exception {
    String id = docker.run("run", "-d", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "64", "-m", "64m",
        "--memory-swap", "128m", "--memory-reservation", "32m", "--cpuset-cpus", "0", "busybox", "sleep", "300")
        .assertOk().out().trim();
    String g = "/sys/fs/cgroup/berth/" + id + "/";
    // the engine's parent cgroup (made with the first container) hands every controller down to the containers'
    Map<String, String> root = guestFiles("/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/berth/cgroup.subtree_control");
    assertTrue(root.get("/sys/fs/cgroup/cgroup.controllers").contains("memory"), "a cgroup v2 kernel: " + root);
    for (String c : List.of("cpuset", "cpu", "io", "memory", "pids")) {
      assertTrue(List.of(root.get("/sys/fs/cgroup/berth/cgroup.subtree_control").split(" ")).contains(c),
          "controller " + c + " is delegated to the containers: " + root);
    }

    Map<String, String> want = new LinkedHashMap<>();
    want.put("cpu.max", "50000 100000");
    want.put("cpu.weight", "20"); // shares 512 in runc's (and so Docker's) conversion to a v2 weight
    want.put("pids.max", "64");
    want.put("memory.max", "67108864");
    want.put("memory.swap.max", "67108864"); // v2 counts swap apart from memory: 128m - 64m
    want.put("memory.low", "33554432");
    want.put("cpuset.cpus", "0");
    want.put("cgroup.freeze", "0");
    assertEquals(want, withoutPrefix(guestFiles(want.keySet().stream().map(f -> g + f).toArray(String[]::new)), g));
    String procs = guestFiles(g + "cgroup.procs").get(g + "cgroup.procs");
    assertFalse(procs.isBlank(), "the container's process is in its cgroup");

    docker.run("update", "--pids-limit", "32", "-m", "96m", "--memory-swap", "192m", id).assertOk();
    docker.run("pause", id).assertOk();
    Map<String, String> after = withoutPrefix(guestFiles(g + "pids.max", g + "memory.max", g + "memory.swap.max",
        g + "cgroup.freeze"), g);
    assertEquals(Map.of("pids.max", "32", "memory.max", "100663296", "memory.swap.max", "100663296",
        "cgroup.freeze", "1"), after);
    assertEquals("paused 32 100663296", docker.run("inspect", "-f",
        "{{.State.Status}} {{.HostConfig.PidsLimit}} {{.HostConfig.Memory}}", id).assertOk().out());
    docker.run("unpause", id).assertOk();
    assertEquals("0", guestFiles(g + "cgroup.freeze").get(g + "cgroup.freeze"));
    assertEquals("ok", docker.run("exec", id, "echo", "ok").assertOk().out());

    assertTrue(docker.run("top", id).assertOk().stdout().contains("sleep 300"));
    docker.run("rm", "-f", id).assertOk();
    assertEquals(List.of(), containerCgroups(), "rm removes the container's cgroup");
  }

  @Test
  void anOutOfMemoryKillAndStatsComeFromV2() throws Exception {
    String since = Long.toString(System.currentTimeMillis() / 1000 - 1);
    Result r = docker.run("run", "--name", "hog", "-m", "32m", "busybox", "sh", "-c",
        "exec dd if=/dev/zero of=/dev/shm/fill bs=1M count=100");
    assertEquals(137, r.exitCode(), r.toString());
    assertEquals("true 137", docker.run("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog")
        .assertOk().out());
    String id = docker.run("inspect", "-f", "{{.Id}}", "hog").assertOk().out();
    Result ev = docker.run("events", "--since", since, "--until", Long.toString(System.currentTimeMillis() / 1000 + 1),
        "--filter", "event=oom", "--format", "{{.Actor.ID}}");
    assertEquals(List.of(id), ev.assertOk().lines());
    docker.run("rm", "hog").assertOk();

    // a busy loop: v2's cpu.stat gives it CPU time, memory.current its memory
    docker.run("run", "-d", "--name", "spin", "busybox", "sh", "-c", "while :; do :; done").assertOk();
    Thread.sleep(3000);
    Result stats = docker.run("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.CPUPerc}} {{.MemUsage}}",
        "spin").assertOk();
    String[] f = stats.out().split(" ");
    assertEquals("spin", f[0], stats.out());
    assertEquals("1", f[1], stats.out());
    assertTrue(Double.parseDouble(f[2].replace("%", "")) > 10, "a spinning container uses CPU: " + stats.out());
    assertFalse(f[3].equals("0B"), "memory usage is read from memory.current: " + stats.out());
    docker.run("rm", "-f", "spin").assertOk();
  }

  @Test
  void noCgroupOutlivesItsContainer() throws Exception {
    for (int i = 0; i < 10; i++) {
      docker.run("run", "--rm", "--pids-limit", "16", "-m", "48m", "busybox", "true").assertOk();
    }
    for (int i = 0; i < 5; i++) {
      Result bad = docker.run("run", "--rm", "-m", "48m", "busybox", "/no/such/program");
      assertEquals(127, bad.exitCode(), bad.toString());
    }
    assertEquals(List.of(), containerCgroups());
  }

  /** The container cgroups under the engine's parent in the guest. */
  private static List<String> containerCgroups() throws Exception {
    Result ls = berth("ssh", "find", "/sys/fs/cgroup/berth", "-mindepth", "1", "-type", "d");
    assertEquals(0, ls.exitCode(), ls.toString());
    return ls.stdout().lines().toList();
  }

  /** Each file's first line, read in the guest in one go. */
  private static Map<String, String> guestFiles(String... paths) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ssh", "grep", "-H", "-m1", "^"));
    cmd.addAll(List.of(paths));
    Result r = berth(cmd.toArray(String[]::new));
    assertEquals(0, r.exitCode(), r.toString());
    Map<String, String> m = new LinkedHashMap<>();
    for (String line : r.stdout().lines().toList()) {
      int colon = line.indexOf(':');
      m.put(line.substring(0, colon), line.substring(colon + 1).trim());
    }
    return m;
  }

  private static Map<String, String> withoutPrefix(Map<String, String> files, String prefix) {
    Map<String, String> m = new LinkedHashMap<>();
    files.forEach((k, v) -> m.put(k.substring(prefix.length()), v));
    return m;
  }

  private static String console() throws Exception {
    return Commands.console(home.resolve("machines/default"));
  }

  private static Result berth(String... args) throws Exception {
    return Commands.exec(Commands.berth(home, args), Duration.ofSeconds(400), null, Map.of());
  }
}
