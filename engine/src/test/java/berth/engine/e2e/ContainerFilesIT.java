package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * File-level container operations through the real docker CLI (#6): {@code docker cp} both ways on running and
 * stopped containers (bind-mounted /etc files included), hostile symlinks and archives that must not reach the
 * host, {@code diff}, {@code export} and {@code commit} followed by {@code run}.
 */
@Tag("root")
@Timeout(value = 180)
class ContainerFilesIT {
  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;
  /** A host directory the hostile cases aim at; its canary must stay as it is. */
  static Path canaryDir;
  static Path canary;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-files-");
    TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(60));
    docker.run("load", "-q", "-i", fixtures.resolve("busybox.tar").toString()).assertOk();
    canaryDir = Files.createTempDirectory(Path.of("/tmp"), "berth-canary-");
    canary = Files.writeString(canaryDir.resolve("canary.txt"), "host canary\n");
  }

  @AfterAll
  static void tearDown() throws IOException {
    if (canaryDir != null) {
      EngineProcess.deleteTree(canaryDir);
    }
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @AfterEach
  void reset() throws IOException {
    docker.removeAllContainers();
    assertEquals("host canary\n", Files.readString(canary), "the host's canary is untouched");
    assertFalse(mountinfo().contains(engine.execRoot().toString() + "/c/"), "no container rootfs left mounted:\n"
        + mountinfo());
  }

  private static String mountinfo() throws IOException {
    StringBuilder b = new StringBuilder();
    for (String l : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      if (l.contains(engine.execRoot().toString() + "/c/")) {
        b.append(l).append('\n');
      }
    }
    // only stopped containers are left when this is asked: a running one's rootfs is expected
    return b.toString();
  }

  private Path hostDir(String name) throws IOException {
    return Files.createDirectories(fixtures.resolve(name + "-" + UUID.randomUUID()));
  }

  @Test
  void copiesFilesAndDirectoriesBothWaysRunningAndStopped() throws IOException {
    docker.run("run", "-d", "--network", "none", "--name", "cp1", "busybox", "sleep", "300").assertOk();
    Path in = hostDir("in");
    Files.writeString(in.resolve("hello.txt"), "hello from the host\n");
    Files.createDirectories(in.resolve("tree/sub"));
    Files.writeString(in.resolve("tree/sub/deep.txt"), "deep\n");

    docker.run("cp", in.resolve("hello.txt").toString(), "cp1:/tmp/").assertOk();
    docker.run("cp", in.resolve("tree").toString(), "cp1:/tmp/tree").assertOk();
    assertEquals("hello from the host\n", docker.run("exec", "cp1", "cat", "/tmp/hello.txt").assertOk().stdout());
    assertEquals("deep\n", docker.run("exec", "cp1", "cat", "/tmp/tree/sub/deep.txt").assertOk().stdout());

    Path out = hostDir("out");
    docker.run("cp", "cp1:/etc/passwd", out.resolve("passwd").toString()).assertOk();
    assertTrue(Files.readString(out.resolve("passwd")).startsWith("root:x:0:0:"));
    docker.run("cp", "cp1:/tmp/tree", out.resolve("tree").toString()).assertOk();
    assertEquals("deep\n", Files.readString(out.resolve("tree/sub/deep.txt")));
    // /etc/hostname is a bind mount of the container's own file: cp reads the mount, not the rootfs under it
    docker.run("cp", "cp1:/etc/hostname", out.resolve("hostname").toString()).assertOk();
    String id = docker.run("inspect", "cp1", "--format", "{{.Id}}").assertOk().out().trim();
    assertEquals(id.substring(0, 12) + "\n", Files.readString(out.resolve("hostname")));

    assertEquals("running false", docker.run("inspect", "cp1", "--format", "{{.State.Status}} {{.State.Paused}}")
        .assertOk().out(), "frozen only while its files were used");
    docker.run("stop", "-t", "1", "cp1").assertOk();
    Files.writeString(in.resolve("later.txt"), "copied while stopped\n");
    docker.run("cp", in.resolve("later.txt").toString(), "cp1:/tmp/later.txt").assertOk();
    docker.run("cp", "cp1:/tmp/hello.txt", out.resolve("hello-stopped.txt").toString()).assertOk();
    assertEquals("hello from the host\n", Files.readString(out.resolve("hello-stopped.txt")));
    docker.run("cp", "cp1:/etc/hostname", out.resolve("hostname-stopped").toString()).assertOk();
    assertEquals(id.substring(0, 12) + "\n", Files.readString(out.resolve("hostname-stopped")),
        "a stopped container's bind mounts are those it last ran with");
    assertEquals("", mountinfo(), "the stopped container's overlay was unmounted after each cp");
    docker.run("start", "cp1").assertOk();
    assertEquals("copied while stopped\n", docker.run("exec", "cp1", "cat", "/tmp/later.txt").assertOk().stdout());

    // a created, never started container
    docker.run("create", "--network", "none", "--name", "cp2", "busybox").assertOk();
    docker.run("cp", in.resolve("hello.txt").toString(), "cp2:/hello.txt").assertOk();
    docker.run("cp", "cp2:/hello.txt", out.resolve("from-created.txt").toString()).assertOk();
    assertEquals("hello from the host\n", Files.readString(out.resolve("from-created.txt")));
  }

  @Test
  void archiveModeGivesFilesToTheContainersUser() throws IOException {
    docker.run("create", "--network", "none", "--user", "1:1", "--name", "owned", "busybox").assertOk();
    Path f = hostDir("own").resolve("f");
    Files.writeString(f, "mine\n");
    docker.run("cp", "-a", f.toString(), "owned:/tmp/archived").assertOk();
    docker.run("cp", f.toString(), "owned:/tmp/plain").assertOk();
    assertEquals("1:1", ownerInContainer("owned", "/tmp/archived"), "-a: the container's user (copyUIDGID)");
    assertEquals("0:0", ownerInContainer("owned", "/tmp/plain"), "without -a: the tar's owner (root's file here)");
  }

  /** uid:gid of a file, read from the tar docker cp sends out of the container. */
  private String ownerInContainer(String c, String path) throws IOException {
    Path tarOut = fixtures.resolve("owner-" + UUID.randomUUID() + ".tar");
    docker.runToFile(tarOut, "cp", c + ":" + path, "-").assertOk();
    try (InputStream in = Files.newInputStream(tarOut); TarArchiveInputStream t = new TarArchiveInputStream(in)) {
      TarArchiveEntry e = t.getNextTarEntry();
      return e.getLongUserId() + ":" + e.getLongGroupId();
    }
  }

  @Test
  void missingPathsAndDirectoryOntoFileSayWhatDockerSays() throws IOException {
    docker.run("create", "--network", "none", "--name", "cp3", "busybox").assertOk();
    Result missing = docker.run("cp", "cp3:/nope/file", fixtures.resolve("x").toString());
    missing.assertExit(1);
    assertTrue(missing.stderr().contains("Could not find the file /nope/file in container cp3"), missing.toString());
    Path dir = hostDir("dir");
    Files.writeString(dir.resolve("f"), "f\n");
    Result dirOntoFile = docker.run("cp", dir.toString(), "cp3:/etc/passwd");
    dirOntoFile.assertExit(1);
    assertTrue(dirOntoFile.stderr().contains("cannot copy directory"), dirOntoFile.toString());
    Result intoMissing = docker.run("cp", dir.resolve("f").toString(), "cp3:/no/such/dir/");
    intoMissing.assertExit(1);
    assertTrue(intoMissing.stderr().contains("Could not find the file /no/such/dir in container cp3")
        || intoMissing.stderr().contains("no such directory"), intoMissing.toString());
  }

  @Test
  void symlinksPlantedByTheContainerNeverLeadOutOfIt() throws IOException {
    String name = "berth-escape-" + UUID.randomUUID();
    docker.run("run", "--network", "none", "--name", "evil", "busybox", "sh", "-c",
        "ln -s / /x && ln -s ../../../../etc /y && ln -s " + canaryDir + " /z && mkdir -p /etc/inside").assertOk();
    Path in = hostDir("evil-in");
    Files.writeString(in.resolve(name), "written through a symlink\n");
    for (String running : List.of("stopped", "running")) {
      if (running.equals("running")) {
        docker.run("rm", "-f", "evil").assertOk();
        docker.run("run", "-d", "--network", "none", "--name", "evil", "busybox", "sh", "-c",
            "ln -s / /x && ln -s ../../../../etc /y && ln -s " + canaryDir + " /z && sleep 300").assertOk();
      }
      // writes: /x is the container's root, /y its /etc, /z a container path that does not exist
      docker.run("cp", in.resolve(name).toString(), "evil:/x/").assertOk();
      docker.run("cp", in.resolve(name).toString(), "evil:/y/").assertOk();
      docker.run("cp", in.resolve(name).toString(), "evil:/y/../../../" + name + ".2").assertOk();
      Result viaZ = docker.run("cp", in.resolve(name).toString(), "evil:/z/canary.txt");
      assertFalse(Files.exists(Path.of("/", name)), "nothing written to the host's / (" + running + ")");
      assertFalse(Files.exists(Path.of("/etc", name)), "nothing written to the host's /etc (" + running + ")");
      assertFalse(Files.exists(Path.of("/", name + ".2")), running);
      assertEquals("host canary\n", Files.readString(canary), "the canary is untouched: " + viaZ);
      Path out = hostDir("evil-out");
      docker.run("cp", "evil:/" + name, out.resolve("a").toString()).assertOk();
      docker.run("cp", "evil:/etc/" + name, out.resolve("b").toString()).assertOk();
      assertEquals("written through a symlink\n", Files.readString(out.resolve("a")), "it landed in the container");
      assertEquals("written through a symlink\n", Files.readString(out.resolve("b")));

      // reads: the host's canary is not reachable through any of the links
      for (String p : List.of("/z/canary.txt", "/x" + canary, "/y/.." + canary, "/../../.." + canary)) {
        Result r = docker.run("cp", "evil:" + p, out.resolve("leak").toString());
        assertFalse(Files.exists(out.resolve("leak")) && Files.readString(out.resolve("leak")).contains("host canary"),
            "read the host's canary through " + p);
        assertTrue(r.stderr().contains("Could not find the file"), r.toString());
      }
      // -L follows /y to the container's /etc, not the host's
      docker.run("cp", "-L", "evil:/y", out.resolve("etc").toString()).assertOk();
      assertTrue(Files.readString(out.resolve("etc/passwd")).startsWith("root:x:0:0:root:/root:/bin/sh\n"));
      assertTrue(Files.exists(Path.of("/etc/shadow")), "the host has a shadow file the image lacks");
      assertFalse(Files.exists(out.resolve("etc/shadow")), "the host's /etc was not copied");
    }
  }

  @Test
  void hostileArchivesAreRefusedAndAbsoluteLinksStayInside() throws IOException {
    docker.run("run", "-d", "--network", "none", "--name", "tar1", "busybox", "sleep", "300").assertOk();
    String name = "berth-tar-" + UUID.randomUUID();
    Result climb = docker.runWithStdin(tar(t -> file(t, "../../" + name, "x")), "cp", "-", "tar1:/tmp");
    climb.assertExit(1);
    assertTrue(climb.stderr().contains("is outside of /tmp"), climb.toString());
    Result symlinkOut = docker.runWithStdin(tar(t -> symlink(t, "out", "../../../../" + canaryDir)), "cp", "-",
        "tar1:/tmp");
    symlinkOut.assertExit(1);
    assertTrue(symlinkOut.stderr().contains("invalid symlink"), symlinkOut.toString());
    Result hardlinkOut = docker.runWithStdin(tar(t -> hardlink(t, "h", "../../etc/passwd")), "cp", "-", "tar1:/tmp");
    hardlinkOut.assertExit(1);
    assertTrue(hardlinkOut.stderr().contains("invalid hardlink"), hardlinkOut.toString());
    // an absolute symlink then a file through it: the container's root, as in a chroot
    docker.runWithStdin(tar(t -> {
      symlink(t, "abs", "/");
      file(t, "abs/" + name, "through abs\n");
    }), "cp", "-", "tar1:/tmp").assertOk();
    assertFalse(Files.exists(Path.of("/", name)), "nothing on the host's /");
    assertEquals("through abs\n", docker.run("exec", "tar1", "cat", "/" + name).assertOk().stdout());
    assertEquals("host canary\n", Files.readString(canary));
  }

  @Test
  void diffExportAndCommitThenRun() throws IOException {
    docker.run("run", "--network", "none", "--name", "chg", "busybox", "sh", "-c",
        "mkdir /newdir && echo committed > /newdir/f && rm /etc/group && echo more >> /etc/passwd").assertOk();
    List<String> diff = docker.run("diff", "chg").assertOk().lines();
    assertEquals(List.of("C /etc", "D /etc/group", "C /etc/passwd", "A /newdir", "A /newdir/f"), diff);

    // a directory removed and made again is opaque in the upper dir: deleted, with its new content added
    docker.run("run", "--network", "none", "--name", "opq", "busybox", "sh", "-c", "rm -rf /usr && mkdir -p /usr/local")
        .assertOk();
    assertEquals(List.of("D /usr", "A /usr/local"), docker.run("diff", "opq").assertOk().lines());
    docker.run("commit", "opq", "berth/opaque").assertOk();
    assertEquals("local\n", docker.run("run", "--rm", "--network", "none", "berth/opaque", "ls", "/usr").assertOk()
        .stdout(),
        "the committed layer's opaque marker hides the image's /usr/bin and /usr/sbin");
    docker.run("rmi", "berth/opaque").assertOk();

    Path tarFile = fixtures.resolve("export-" + UUID.randomUUID() + ".tar");
    docker.run("export", "-o", tarFile.toString(), "chg").assertOk();
    List<String> names = new ArrayList<>();
    try (InputStream f = Files.newInputStream(tarFile); TarArchiveInputStream t = new TarArchiveInputStream(f)) {
      TarArchiveEntry e;
      while ((e = t.getNextTarEntry()) != null) {
        names.add(e.getName());
      }
    }
    assertTrue(names.contains("bin/busybox") && names.contains("newdir/f") && names.contains("etc/passwd"), names.toString());
    assertFalse(names.contains("etc/group"), "a deleted file is not exported");

    String id = docker.run("commit", "-a", "tester", "-m", "a message", "chg", "berth/committed:v1").assertOk().out().trim();
    assertTrue(id.startsWith("sha256:"), id);
    assertEquals("committed\n", docker.run("run", "--rm", "--network", "none", "berth/committed:v1", "cat", "/newdir/f").assertOk().stdout());
    assertFalse(docker.run("run", "--rm", "--network", "none", "berth/committed:v1", "test", "-e", "/etc/group").ok(),
        "the whiteout of /etc/group is in the layer");
    assertEquals("tester a message 2", docker.run("image", "inspect", "berth/committed:v1", "--format",
        "{{.Author}} {{.Comment}} {{len .RootFS.Layers}}").assertOk().out());
    assertTrue(docker.run("history", "berth/committed:v1", "--format", "{{.CreatedBy}}|{{.Comment}}").assertOk()
        .lines().get(0).startsWith("sh -c mkdir /newdir"), "the history line is the container's command");

    docker.run("commit", "--change", "CMD [\"cat\", \"/newdir/f\"]", "--change", "ENV WHO=berth", "chg",
        "berth/committed:cmd").assertOk();
    assertEquals("committed\n", docker.run("run", "--rm", "--network", "none", "berth/committed:cmd").assertOk().stdout());
    assertEquals("berth\n", docker.run("run", "--rm", "--network", "none", "berth/committed:cmd", "sh", "-c", "echo $WHO").assertOk().stdout());

    // commit of a running container pauses it and leaves it running
    docker.run("run", "-d", "--network", "none", "--name", "live", "berth/committed:v1", "sh", "-c", "echo live > /live; sleep 300")
        .assertOk();
    waitFor(() -> docker.run("exec", "live", "cat", "/live").ok());
    docker.run("commit", "live", "berth/committed:live").assertOk();
    assertEquals("running", docker.run("inspect", "live", "--format", "{{.State.Status}}").assertOk().out());
    assertEquals("live\ncommitted\n", docker.run("run", "--rm", "--network", "none", "berth/committed:live", "cat", "/live", "/newdir/f")
        .assertOk().stdout());
    docker.run("rm", "-f", "live").assertOk();
    docker.run("rmi", "berth/committed:v1", "berth/committed:cmd", "berth/committed:live").assertOk();
  }

  private static void waitFor(java.util.function.BooleanSupplier ok) {
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!ok.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out");
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  // ---- tar fixtures ----

  private interface TarBody {
    void write(TarArchiveOutputStream t) throws IOException;
  }

  private static byte[] tar(TarBody body) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(b)) {
      t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      body.write(t);
    }
    return b.toByteArray();
  }

  private static void file(TarArchiveOutputStream t, String name, String content) throws IOException {
    byte[] data = content.getBytes(StandardCharsets.UTF_8);
    TarArchiveEntry e = new TarArchiveEntry(name, true);
    e.setSize(data.length);
    e.setMode(0100644);
    t.putArchiveEntry(e);
    t.write(data);
    t.closeArchiveEntry();
  }

  private static void symlink(TarArchiveOutputStream t, String name, String target) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name, TarArchiveEntry.LF_SYMLINK, true);
    e.setLinkName(target);
    t.putArchiveEntry(e);
    t.closeArchiveEntry();
  }

  private static void hardlink(TarArchiveOutputStream t, String name, String target) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name, TarArchiveEntry.LF_LINK, true);
    e.setLinkName(target);
    t.putArchiveEntry(e);
    t.closeArchiveEntry();
  }
}
