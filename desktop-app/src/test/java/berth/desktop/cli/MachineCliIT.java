package berth.desktop.cli;

import static berth.desktop.cli.Commands.IMAGE;
import static berth.desktop.cli.Commands.MODULE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.TestImages;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue #5's end to end: {@code berth start --driver libvirt} boots the machine under software emulation, and
 * the host's docker CLI, pointed at {@code <home>/run/docker.sock}, works through the SSH forward: version,
 * load, run, run -it through a pty, logs -f. A stop is clean, a start finds the image still on the data disk,
 * a VM killed from outside is restarted by start, and delete leaves nothing.
 */
@Tag("root")
class MachineCliIT {
  private static Path home;
  private static Path dockerConfig;

  @BeforeAll
  static void setUp() throws Exception {
    Commands.requireRootAndImage();
    home = Files.createTempDirectory(Path.of("/tmp"), "berth-home-");
    dockerConfig = Files.createDirectories(home.resolve("docker-config")); // the docker CLI's contexts, not root's
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (home != null) {
      // the guest's console and the socket server's log outlive the machine, for a failure's post-mortem
      Path keep = Files.createDirectories(MODULE.resolve("target/machine-cli-logs"));
      for (String f : List.of("console.log", "console.log.1", "serve.log")) {
        Path src = home.resolve("machines/default").resolve(f);
        if (Files.exists(src)) {
          Files.copy(src, keep.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
      berth("delete"); // idempotent cleanup if a test failed half-way
      exec(List.of("rm", "-rf", home.toString()), Duration.ofSeconds(30));
    }
  }

  @Test
  void theHostDockerCliWorksThroughTheMachineAndItsDataLastsAcrossRestarts() throws Exception {
    Result start = berth("start", "--driver", "libvirt", "--cpus", "2", "--memory", "1GiB", "--disk", "2GiB",
        "--accel", "tcg", "--use-context");
    assertEquals(0, start.exitCode(), start.toString() + console());
    Path sock = home.resolve("run/docker.sock");
    assertTrue(start.stdout().contains("export DOCKER_HOST=unix://" + sock), start.stdout());
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
    // --use-context: the plain docker CLI (no DOCKER_HOST, no -H) now talks to the machine
    assertEquals("berth", exec(List.of("docker", "context", "show"), Duration.ofSeconds(30)).stdout().strip());
    assertEquals("unix://" + sock, exec(List.of("docker", "context", "inspect", "berth", "--format",
        "{{.Endpoints.docker.Host}}"), Duration.ofSeconds(30)).stdout().strip());
    Result plain = exec(List.of("docker", "info", "--format", "{{.DockerRootDir}}"), Duration.ofSeconds(60));
    assertEquals("/var/lib/berth", plain.stdout().strip(), "the guest's engine (its data disk) answers: " + plain);
    // start compared the guest's clock with the host's (and set it if it was off) while the guest booted
    assertTrue(console().contains("time-sync: clock "), "no time-sync in the guest's log:" + console());
    // and the guest's clock now reads the host's (busybox's date has whole seconds; the agent leaves 0.5 s alone)
    long before = System.currentTimeMillis();
    Result date = berth("ssh", "--", "date", "+%s");
    long after = System.currentTimeMillis();
    assertEquals(0, date.exitCode(), date.toString());
    long guest = Long.parseLong(date.stdout().strip());
    assertTrue(guest >= (before - 1500) / 1000 && guest <= (after + 1500) / 1000,
        "the guest's clock reads " + guest + " s, the host's read " + before / 1000 + "-" + after / 1000 + " s");

    try (DockerCli docker = new DockerCli("unix://" + sock).timeout(Duration.ofSeconds(180))) {
      assertTrue(docker.run("version", "--format", "{{.Server.Version}}").assertOk().out().length() > 0);
      Path tar = home.resolve("busybox.tar");
      TestImages.busybox(tar, "busybox:latest");
      docker.run("load", "-i", tar.toString()).assertOk();
      assertEquals("hi", docker.run("run", "--rm", "busybox", "echo", "hi").assertOk().out());
      // the load hashed its blobs with Nettle, which the image carries for the engine to open itself (no binary's
      // NEEDED names it); without it the engine warns at the first digest
      assertFalse(console().contains("SHA-256 by the JDK"), "the guest's engine fell back to the JDK's SHA-256:"
          + console());

      // libvirtd going away (restarted, upgraded) leaves the VM running and the socket served: serve used to give
      // the socket up at the first status it could not read, cutting every open docker connection
      long libvirtd = Long.parseLong(exec(List.of("pgrep", "-x", "-o", "libvirtd"), Duration.ofSeconds(30)).stdout().strip());
      ProcessHandle lv = ProcessHandle.of(libvirtd).orElseThrow();
      lv.destroy();
      lv.onExit().get(60, TimeUnit.SECONDS);
      try {
        Thread.sleep(3000); // serve reads the status every second
        assertTrue(Files.exists(sock), "the API socket outlives libvirtd");
        assertEquals("hi", docker.run("run", "--rm", "busybox", "echo", "hi").assertOk().out());
      } finally {
        assertEquals(0, exec(List.of("/usr/sbin/libvirtd", "-d"), Duration.ofSeconds(60)).exitCode());
      }
      Result back = null;
      for (int i = 0; i < 60 && (back == null || back.exitCode() != 0); i++) {
        Thread.sleep(500);
        back = exec(List.of("virsh", "-c", "qemu:///system", "domstate", "berth-default"), Duration.ofSeconds(30));
      }
      assertEquals("running", back.stdout().strip(), "libvirtd found the running VM again: " + back);

      Result it = docker.exec(List.of("sh", "-c", "(sleep 3; printf 'tty; echo typed-$((1+2))\\nexit 5\\n'; sleep 3) "
          + "| script -qec 'DOCKER_HOST=unix://" + sock + " docker run --rm -it busybox sh' /dev/null"));
      assertEquals(5, it.exitCode(), it.toString());
      assertTrue(it.stdout().contains("/dev/pts/0") && it.stdout().contains("typed-3"), it.stdout());

      docker.run("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
          "for i in 1 2 3 4 5; do echo line$i; sleep 1; done").assertOk();
      try (DockerCli.Background logs = docker.background("logs", "-f", "ticker")) {
        logs.awaitLine(l -> l.equals("line1"), Duration.ofSeconds(60), "the first log line");
        logs.awaitLine(l -> l.equals("line5"), Duration.ofSeconds(60), "the last log line, streamed");
      }
      docker.run("rm", "-f", "ticker").assertOk();

      Result status = berth("status", "--format", "json");
      assertTrue(status.stdout().contains("\"status\":\"running\"") && status.stdout().contains("\"api\":true"),
          status.toString());

      // resources change only while stopped
      Result busy = berth("start", "--memory", "1536MiB");
      assertEquals(1, busy.exitCode(), busy.toString());
      assertTrue(busy.stderr().contains("is running: stop it to change memory 1GiB to 1536MiB"), busy.toString());

      Result stop = berth("stop");
      assertEquals(0, stop.exitCode(), stop.toString());
      assertFalse(Files.exists(sock), "the API socket is removed when the machine stops");
      assertTrue(console().contains("BERTH-GUEST agent: exited 0"), "a clean stop, not a forced one:" + console());
      assertTrue(berth("status").stdout().contains("stopped"));

      // a disk does not shrink; more memory and a bigger disk take effect at this start, and the data disk keeps
      // the image
      Result shrink = berth("start", "--disk", "1GiB");
      assertEquals(1, shrink.exitCode(), shrink.toString());
      assertTrue(shrink.stderr().contains("cannot shrink (2GiB to 1GiB)"), shrink.toString());
      assertTrue(berth("status").stdout().contains("stopped"), "a refused change boots nothing");
      assertEquals(0, berth("start", "--memory", "1536MiB", "--disk", "3GiB").exitCode(), console());
      assertTrue(docker.run("images", "--format", "{{.Repository}}:{{.Tag}}").assertOk().lines()
          .contains("busybox:latest"));
      long memTotal = Long.parseLong(docker.run("info", "--format", "{{.MemTotal}}").assertOk().out());
      assertTrue(memTotal > 1200L << 20, "the guest has the new memory: " + memTotal);
      Result df = berth("ssh", "df", "-k", "/var/lib/berth");
      assertEquals(0, df.exitCode(), df.toString());
      long kib = Long.parseLong(df.stdout().lines().reduce((a, b) -> b).orElseThrow().trim().split("\\s+")[1]);
      assertTrue(kib > 2_700_000, "the file system grew with the disk: " + df.stdout() + console());

      // killed from outside: status says so, start recovers
      long qemu = Long.parseLong(Files.readString(Path.of("/run/libvirt/qemu/berth-default.pid")).strip());
      ProcessHandle.of(qemu).orElseThrow().destroyForcibly();
      ProcessHandle.of(qemu).ifPresent(p -> p.onExit().join());
      Result killed = berth("status");
      assertTrue(killed.stdout().contains("stopped") && killed.stdout().contains("unexpectedly"), killed.toString());
      assertEquals(0, berth("start").exitCode(), console());
      assertEquals("hi", docker.run("run", "--rm", "busybox", "echo", "hi").assertOk().out());
    }

    Result delete = berth("delete");
    assertEquals(0, delete.exitCode(), delete.toString());
    assertFalse(Files.exists(home.resolve("machines/default")));
    assertFalse(Files.exists(home.resolve("run/docker.sock")));
    Result virsh = exec(List.of("virsh", "-c", "qemu:///system", "list", "--all", "--name"), Duration.ofSeconds(60));
    assertFalse(virsh.stdout().contains("berth-default"), virsh.toString());
  }

  private static String console() throws IOException {
    return Commands.console(home.resolve("machines/default"));
  }

  private static Result berth(String... args) throws Exception {
    return exec(Commands.berth(home, args), Duration.ofSeconds(400));
  }

  private static Result exec(List<String> cmd, Duration limit) throws Exception {
    return Commands.exec(cmd, limit, null,
        dockerConfig == null ? java.util.Map.of() : java.util.Map.of("DOCKER_CONFIG", dockerConfig.toString()));
  }
}
