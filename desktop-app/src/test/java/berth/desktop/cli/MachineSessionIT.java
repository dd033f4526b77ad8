package berth.desktop.cli;

import static berth.desktop.cli.Commands.IMAGE;
import static berth.desktop.cli.Commands.MODULE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.TestImages;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The machine for a user who is not root, as on a Linux desktop: {@code berth start --driver libvirt} uses that
 * user's own libvirt session (no system daemon, no group, no polkit), QEMU runs as the user, a {@code --share}
 * reaches the containers over 9p, and the user's docker CLI works through the socket in their home; machine ls,
 * logs, restart, stop and delete work as they do for root.
 *
 * <p>Root sets the stage (a system user {@value #USER}, a home in /tmp with the CLI and the boot image copied in, so
 * the test does not depend on where the checkout lives) and then runs every command as that user.
 */
@Tag("root")
class MachineSessionIT {
  static final String USER = "berth-it";
  /** Not "default": a root machine of that name elsewhere on this host cannot be mistaken for this one. */
  static final String NAME = "session-it";
  static final String DOMAIN = "berth-" + NAME;
  private static Path home;
  private static String uid;
  private static boolean madeUser;

  @BeforeAll
  static void setUp() throws Exception {
    Commands.requireRootAndImage();
    if (exec(List.of("id", "-u", USER), Duration.ofSeconds(30), null).exitCode() != 0) {
      Result add = exec(List.of("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
          "--shell", "/usr/sbin/nologin", USER), Duration.ofSeconds(30), null);
      assertEquals(0, add.exitCode(), add.toString());
      madeUser = true;
    }
    uid = exec(List.of("id", "-u", USER), Duration.ofSeconds(30), null).stdout().strip();
    home = Files.createTempDirectory(Path.of("/tmp"), "berth-session-");
    Path cli = Files.createDirectories(home.resolve("cli"));
    Files.copy(MODULE.resolve("target/berth-desktop.jar"), cli.resolve("berth-desktop.jar"));
    assertEquals(0, exec(List.of("cp", "-r", MODULE.resolve("target/lib").toString(), cli.resolve("lib").toString()),
        Duration.ofSeconds(60), null).exitCode());
    Path image = Files.createDirectories(home.resolve("image"));
    for (String f : List.of("vmlinux", "initrd.img", "opt.sqfs")) {
      Files.copy(IMAGE.resolve(f), image.resolve(f));
    }
    Files.createDirectories(home.resolve("src"));
    Files.writeString(home.resolve("src/from-host.txt"), "written on the host\n");
    Files.createDirectories(home.resolve("other"));
    assertEquals(0, exec(List.of("chown", "-R", USER + ":", home.toString()), Duration.ofSeconds(60), null).exitCode());
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (home != null) {
      Path keep = Files.createDirectories(MODULE.resolve("target/machine-session-logs"));
      for (String f : List.of("console.log", "serve.log")) {
        Path src = machineDir().resolve(f);
        if (Files.exists(src)) {
          Files.copy(src, keep.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
      berth("delete");
      // the user's session libvirtd and virtlogd would linger for their idle timeout, writing under home
      exec(List.of("pkill", "-u", USER), Duration.ofSeconds(30), null);
      for (int i = 0; i < 100 && exec(List.of("pgrep", "-u", USER), Duration.ofSeconds(30), null).exitCode() == 0; i++) {
        Thread.sleep(100);
      }
      exec(List.of("pkill", "-KILL", "-u", USER), Duration.ofSeconds(30), null);
      Result rm = exec(List.of("rm", "-rf", home.toString()), Duration.ofSeconds(30), null);
      if (madeUser) {
        exec(List.of("userdel", USER), Duration.ofSeconds(30), null);
      }
      assertEquals(0, rm.exitCode(), rm.toString());
    }
  }

  private static Path machineDir() {
    return home.resolve(".berth/machines/" + NAME);
  }

  @Test
  void aUserWhoIsNotRootRunsTheMachineInTheirOwnLibvirtSessionWithA9pShare() throws Exception {
    Path src = home.resolve("src");
    Result start = berth("start", "--driver", "libvirt", "--cpus", "2", "--memory", "1GiB", "--disk", "2GiB",
        "--accel", "tcg", "--share", src.toString());
    assertEquals(0, start.exitCode(), start + console());
    Path sock = home.resolve(".berth/run/docker.sock");
    assertTrue(start.stdout().contains("export DOCKER_HOST=unix://" + sock), start.stdout());
    assertTrue(console().contains("BERTH-GUEST share: berth0 at " + src + " (9p)"), console());

    // the domain is in the user's session, and its QEMU is the user's process
    Result list = asUser(List.of("virsh", "-c", "qemu:///session", "list", "--name"), Duration.ofSeconds(60));
    assertEquals(0, list.exitCode(), list.toString());
    assertTrue(list.stdout().lines().anyMatch(DOMAIN::equals), list.toString());
    Result qemu = exec(List.of("pgrep", "-u", uid, "-f", "guest=" + DOMAIN + ","), Duration.ofSeconds(30), null);
    assertEquals(0, qemu.exitCode(), "no QEMU of " + DOMAIN + " runs as " + USER + ": " + qemu);
    Result system = exec(List.of("virsh", "-c", "qemu:///system", "list", "--all", "--name"), Duration.ofSeconds(60), null);
    assertEquals(0, system.exitCode(), system.toString());
    assertFalse(system.stdout().lines().anyMatch(DOMAIN::equals), "not in the system daemon: " + system);

    Path tar = home.resolve("busybox.tar");
    TestImages.busybox(tar, "busybox:latest");
    exec(List.of("chown", USER + ":", tar.toString()), Duration.ofSeconds(30), null);
    assertEquals(0, docker("load", "-i", tar.toString()).exitCode());
    // the share at the same path: the container reads the host's file, and what it writes is the user's on the host
    Result run = docker("run", "--rm", "-v", src + ":/src", "busybox", "sh", "-c",
        "cat /src/from-host.txt && echo made in a container > /src/from-guest.txt");
    assertEquals(0, run.exitCode(), run.toString());
    assertEquals("written on the host", run.stdout().strip());
    assertEquals("made in a container\n", Files.readString(src.resolve("from-guest.txt")));
    assertEquals(Integer.parseInt(uid), Files.getAttribute(src.resolve("from-guest.txt"), "unix:uid"));

    // shares change like memory: only while stopped
    Result busy = berth("start", "--share", home.resolve("other").toString());
    assertEquals(1, busy.exitCode(), busy.toString());
    assertTrue(busy.stderr().contains("stop it to change shares " + src + " to " + home.resolve("other")), busy.toString());
    Result none = berth("start", "--no-shares");
    assertEquals(1, none.exitCode(), none.toString());
    assertTrue(none.stderr().contains("stop it to change shares " + src + " to none"), none.toString());
    Result both = berth("start", "--no-shares", "--share", src.toString());
    assertEquals(1, both.exitCode(), both.toString());
    assertTrue(both.stderr().contains("--share and --no-shares contradict each other"), both.toString());

    Result ls = berth("machine", "ls");
    assertTrue(ls.stdout().lines().anyMatch(l -> l.matches(NAME + "\\s+libvirt\\s+running")), ls.toString());
    Result logs = berth("logs");
    assertTrue(logs.stdout().contains("BERTH-GUEST share: berth0 at " + src), logs.toString());

    // restart: a new boot (its console log replaces the last one), the image and the share still there
    Result restart = berth("restart");
    assertEquals(0, restart.exitCode(), restart + console());
    assertTrue(Files.readString(machineDir().resolve("console.log.1"), StandardCharsets.ISO_8859_1)
        .contains("BERTH-GUEST agent: exited 0"), "restart stopped the machine cleanly first");
    Result again = docker("run", "--rm", "-v", src + ":/src", "busybox", "cat", "/src/from-guest.txt");
    assertEquals("made in a container", again.stdout().strip(), again.toString());

    Result stop = berth("stop");
    assertEquals(0, stop.exitCode(), stop.toString());
    assertTrue(console().contains("BERTH-GUEST agent: exited 0"), "a clean stop:" + console());
    assertFalse(Files.exists(sock));
    Result delete = berth("delete");
    assertEquals(0, delete.exitCode(), delete.toString());
    Result after = asUser(List.of("virsh", "-c", "qemu:///session", "list", "--all", "--name"), Duration.ofSeconds(60));
    assertEquals(0, after.exitCode(), after.toString());
    assertFalse(after.stdout().lines().anyMatch(DOMAIN::equals), after.toString());
    assertFalse(Files.exists(machineDir()));
  }

  private static String console() throws IOException {
    return Commands.console(machineDir());
  }

  private static Result berth(String... args) throws Exception {
    List<String> a = new ArrayList<>(List.of("--image", home.resolve("image").toString(), "--name", NAME));
    a.addAll(List.of(args));
    return asUser(Commands.berth(home.resolve("cli/berth-desktop.jar"), home.resolve("cli/lib"), a),
        Duration.ofSeconds(400));
  }

  private static Result docker(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("docker", "-H", "unix://" + home.resolve(".berth/run/docker.sock")));
    cmd.addAll(List.of(args));
    return asUser(cmd, Duration.ofSeconds(180));
  }

  /** {@code cmd} as {@value #USER} with a fresh environment (none of root's docker or libvirt settings), {@code home} for HOME. */
  private static Result asUser(List<String> cmd, Duration limit) throws Exception {
    List<String> full = new ArrayList<>(List.of("setpriv", "--reuid=" + USER, "--regid=" + USER, "--clear-groups",
        "--reset-env", "--", "env", "HOME=" + home, "DOCKER_CONFIG=" + home.resolve(".docker")));
    full.addAll(cmd);
    return Commands.exec(full, limit, home, Map.of());
  }

  private static Result exec(List<String> cmd, Duration limit, Path dir) throws Exception {
    return Commands.exec(cmd, limit, dir, Map.of());
  }
}
