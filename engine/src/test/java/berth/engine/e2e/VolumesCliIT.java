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
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Volumes, bind mounts and tmpfs (#6) through the real docker CLI on real runc: a volume's life and its data
 * across containers, copy-up from the image, in-use protection (also across an engine restart), anonymous
 * volumes with {@code rm -v}, {@code --volumes-from}, binds read-write and read-only seen from the host,
 * tmpfs options in /proc/mounts, {@code --read-only} with writable mounts, prune, events, and bad input
 * answered with dockerd's messages and nothing left behind.
 */
@Tag("root")
class VolumesCliIT {
  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-volumes-");
    TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    TestImages.multiLayer(fixtures.resolve("multi.tar"), "multi:latest");
    TestImages.busyboxWithVolume(fixtures.resolve("withvol.tar"), "withvol:latest");
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(60));
    for (String t : List.of("busybox", "multi", "withvol")) {
      docker.run("load", "-q", "-i", fixtures.resolve(t + ".tar").toString()).assertOk();
    }
  }

  @AfterAll
  static void tearDown() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @AfterEach
  void reset() {
    docker.removeAllContainers().assertOk();
    for (String v : docker.run("volume", "ls", "-q").assertOk().lines()) {
      docker.run("volume", "rm", "-f", v).assertOk();
    }
  }

  private String fmt(String object, String format) {
    return docker.run("inspect", object, "--format", format).assertOk().out().trim();
  }

  private Path volumesDir() {
    return engine.dataRoot().resolve("volumes");
  }

  /** Nothing a failed command could have left: no container, no volume, no volume directory. */
  private void assertNothingLeft(Result r) throws IOException {
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines(), "no container after " + r);
    assertEquals(List.of(), docker.run("volume", "ls", "-q").assertOk().lines(), "no volume after " + r);
    try (var s = Files.list(volumesDir())) {
      assertEquals(List.of(), s.toList(), "no volume directory after " + r);
    }
  }

  private static String timestamp() {
    return Long.toString(System.currentTimeMillis() / 1000);
  }

  @Test
  void aNamedVolumeKeepsItsDataAcrossContainersAndIsProtectedWhileUsed() throws Exception {
    String since = timestamp();
    docker.run("volume", "create", "--label", "team=a", "data1").assertOk();
    assertEquals("data1 local team=a", docker.run("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}")
        .assertOk().out());
    String mountpoint = docker.run("volume", "inspect", "data1", "--format", "{{.Mountpoint}}").assertOk().out();
    assertEquals(volumesDir().resolve("data1/_data").toString(), mountpoint);
    docker.run("run", "--name", "writer", "-v", "data1:/data", "busybox", "sh", "-c", "echo persisted > /data/f")
        .assertOk();
    assertEquals("persisted\n", Files.readString(Path.of(mountpoint, "f")), "the data lives in the volume's _data");
    assertEquals("persisted\n", docker.run("run", "--rm", "-v", "data1:/again", "busybox", "cat", "/again/f")
        .assertOk().stdout());
    assertEquals("volume data1 " + mountpoint + " /data local z true",
        fmt("writer", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Source}} {{.Destination}} {{.Driver}} {{.Mode}} "
            + "{{.RW}} {{.Propagation}}{{end}}"));
    assertEquals("writer", docker.run("ps", "-a", "--filter", "volume=data1", "--format", "{{.Names}}").assertOk()
        .out());

    // in use by a stopped container: 409 with dockerd's message, and the volume stays
    Result inUse = docker.run("volume", "rm", "data1");
    assertEquals(1, inUse.exitCode(), inUse.toString());
    assertTrue(inUse.stderr().contains("remove data1: volume is in use - ["), inUse.toString());
    assertEquals("data1", docker.run("volume", "ls", "-q", "--filter", "dangling=false").assertOk().out());
    assertEquals("", docker.run("volume", "ls", "-q", "--filter", "dangling=true").assertOk().out());
    Result forced = docker.run("volume", "rm", "-f", "data1");
    assertEquals(1, forced.exitCode(), "force does not remove a volume in use: " + forced);

    List<String> events = volumeEvents(since);
    assertTrue(events.containsAll(List.of("create data1", "mount data1", "unmount data1")), events.toString());

    // the reference is in the container record: it survives an engine restart
    engine.restart();
    since = timestamp();
    Result afterRestart = docker.run("volume", "rm", "data1");
    assertTrue(afterRestart.stderr().contains("volume is in use"), afterRestart.toString());
    docker.run("rm", "writer").assertOk();
    assertTrue(Files.isDirectory(Path.of(mountpoint)), "rm without -v keeps a named volume");
    docker.run("volume", "rm", "data1").assertOk();
    assertFalse(Files.exists(volumesDir().resolve("data1")), "the volume's directory is gone");
    Result gone = docker.run("volume", "inspect", "data1");
    assertEquals(1, gone.exitCode());
    assertTrue(gone.stderr().contains("no such volume"), gone.toString());

    // -v with a name that does not exist yet creates the volume
    docker.run("run", "--rm", "-v", "made-by-run:/m", "busybox", "true").assertOk();
    assertEquals("made-by-run", docker.run("volume", "ls", "-q").assertOk().out());

    events = volumeEvents(since);
    assertTrue(events.containsAll(List.of("destroy data1", "create made-by-run", "mount made-by-run",
        "unmount made-by-run")), events.toString());
  }

  /** The volume events since then, up to a second from now (--until is exclusive at a second's granularity). */
  private List<String> volumeEvents(String since) {
    return docker.run("events", "--since", since, "--until", Long.toString(System.currentTimeMillis() / 1000 + 1),
        "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}").assertOk().lines();
  }

  @Test
  void copyUpFillsANewVolumeFromTheImageKeepingOwnersAndModesOnlyOnce() throws Exception {
    Result ls = docker.run("run", "--name", "cu", "-v", "cu:/data", "multi", "ls", "-ln", "/data").assertOk();
    assertTrue(ls.stdout().matches("(?s).*-rw-r-----\\s+1 1000\\s+1000 .*owned.txt.*"), ls.toString());
    Path data = volumesDir().resolve("cu/_data");
    assertEquals(1000, Files.getAttribute(data.resolve("owned.txt"), "unix:uid"));
    assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve("owned.txt"))));
    assertTrue(Files.isSymbolicLink(data.resolve("link")), "symlinks are copied as links");
    assertEquals("a\n", Files.readString(data.resolve("a.txt")));
    assertFalse(Files.exists(data.resolve("b.txt")), "whited-out files are not in the image's view");
    // a volume with content keeps it: no second copy-up
    docker.run("run", "--rm", "-v", "cu:/data", "busybox", "sh", "-c", "echo changed > /data/a.txt; rm /data/owned.txt")
        .assertOk();
    docker.run("start", "-a", "cu").assertOk();
    assertEquals("changed\n", Files.readString(data.resolve("a.txt")));
    assertFalse(Files.exists(data.resolve("owned.txt")));
    // nocopy: the volume stays empty
    assertEquals("", docker.run("run", "--rm", "-v", "nc:/data:nocopy", "multi", "ls", "/data").assertOk().stdout());
    assertEquals("", docker.run("run", "--rm", "--mount", "type=volume,source=nc2,target=/data,volume-nocopy",
        "multi", "ls", "/data").assertOk().stdout());
  }

  @Test
  void imageVolumesAreAnonymousAndRemovedWithRmVAndRunRm() throws Exception {
    docker.run("create", "--name", "iv", "withvol", "sh", "-c", "ls -ln /seed; cat /seed/owned.txt").assertOk();
    String name = fmt("iv", "{{range .Mounts}}{{.Name}}{{end}}");
    assertTrue(name.matches("[0-9a-f]{64}"), name);
    assertEquals("/seed volume true", fmt("iv", "{{range .Mounts}}{{.Destination}} {{.Type}} {{.RW}}{{end}}"));
    assertEquals("map[com.docker.volume.anonymous:]", docker.run("volume", "inspect", name, "--format",
        "{{.Labels}}").assertOk().out());
    Result out = docker.run("start", "-a", "iv").assertOk();
    assertTrue(out.stdout().matches("(?s).*-rw-r-----\\s+1 1000\\s+1000 .*owned.txt\\nseeded\\n"), out.toString());
    assertEquals("750", Integer.toOctalString((int) Files.getAttribute(volumesDir().resolve(name + "/_data"),
        "unix:mode") & 0777), "the volume's root takes the image directory's mode");
    docker.run("rm", "-v", "iv").assertOk();
    assertEquals(List.of(), docker.run("volume", "ls", "-q").assertOk().lines(), "rm -v removes the anonymous volume");

    docker.run("run", "--rm", "withvol", "true").assertOk();
    docker.run("run", "--rm", "-v", "/anon", "busybox", "true").assertOk();
    assertEquals(List.of(), docker.run("volume", "ls", "-q").assertOk().lines(), "--rm removes anonymous volumes");

    // rm without -v keeps them; a named volume of the same container is never removed by -v
    docker.run("create", "--name", "keep", "-v", "/anon", "-v", "named1:/n", "busybox").assertOk();
    docker.run("rm", "keep").assertOk();
    assertEquals(2, docker.run("volume", "ls", "-q").assertOk().lines().size());
    docker.run("create", "--name", "keep2", "-v", "/anon", "-v", "named1:/n", "busybox").assertOk();
    docker.run("rm", "-v", "keep2").assertOk();
    assertEquals(2, docker.run("volume", "ls", "-q").assertOk().lines().size(), "the first anon volume and named1");
  }

  @Test
  void pruneRemovesUnusedAnonymousVolumesByDefaultAndNamedOnesWithAll() {
    docker.run("volume", "create", "named-unused").assertOk();
    docker.run("volume", "create", "--label", "keep=yes", "named-kept").assertOk();
    docker.run("create", "--name", "user", "-v", "named-used:/u", "-v", "/anon-used", "busybox").assertOk();
    docker.run("create", "--name", "gone", "-v", "/anon-unused", "busybox").assertOk();
    String anonUnused = fmt("gone", "{{range .Mounts}}{{.Name}}{{end}}");
    docker.run("rm", "gone").assertOk();
    Result p = docker.run("volume", "prune", "-f").assertOk();
    assertTrue(p.stdout().contains(anonUnused), p.toString());
    List<String> left = docker.run("volume", "ls", "-q").assertOk().lines();
    assertEquals(4, left.size(), left.toString());
    assertFalse(left.contains(anonUnused));
    Result all = docker.run("volume", "prune", "-f", "--all", "--filter", "label!=keep").assertOk();
    assertTrue(all.stdout().contains("named-unused"), all.toString());
    left = docker.run("volume", "ls", "-q").assertOk().lines();
    assertTrue(left.contains("named-kept") && left.contains("named-used") && !left.contains("named-unused"),
        left.toString());
    List<String> df = docker.run("system", "df", "-v").assertOk().lines();
    assertTrue(df.stream().anyMatch(l -> l.matches("named-used\\s+1\\s+0B")), df.toString());
    assertTrue(df.stream().anyMatch(l -> l.matches("named-kept\\s+0\\s+0B")), df.toString());
  }

  @Test
  void volumesFromSharesAnotherContainersMountsReadOnlyIfAsked() {
    docker.run("create", "--name", "src", "-v", "shared:/shared", "-v", "/anon", "busybox").assertOk();
    docker.run("run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c", "echo hi > /shared/x; echo a > /anon/y")
        .assertOk();
    Result ro = docker.run("run", "--rm", "--volumes-from", "src:ro", "busybox", "sh", "-c",
        "cat /shared/x /anon/y; touch /shared/z");
    assertEquals(1, ro.exitCode(), ro.toString());
    assertEquals("hi\na\n", ro.stdout());
    assertTrue(ro.stderr().contains("Read-only file system"), ro.toString());
    docker.run("create", "--name", "user", "--volumes-from", "src:ro", "busybox").assertOk();
    assertEquals("/anon false /shared false", fmt("user", "{{range .Mounts}}{{.Destination}} {{.RW}} {{end}}"));
    docker.run("rm", "src").assertOk();
    Result inUse = docker.run("volume", "rm", "shared");
    assertTrue(inUse.stderr().contains("volume is in use"), "still used through --volumes-from: " + inUse);
    docker.run("rm", "-v", "user").assertOk();
    assertEquals(List.of("shared"), docker.run("volume", "ls", "-q").assertOk().lines(),
        "the anonymous volume from src went with rm -v of its last user");
  }

  @Test
  void bindMountsShareHostDirectoriesReadWriteOrReadOnly() throws Exception {
    Path host = Files.createTempDirectory(fixtures, "bind-");
    Files.writeString(host.resolve("from-host"), "host\n");
    docker.run("run", "--name", "bb", "-v", host + ":/h", "busybox", "sh", "-c", "cat /h/from-host; echo ctr > /h/c")
        .assertOk();
    assertEquals("ctr\n", Files.readString(host.resolve("c")), "the host sees the container's writes");
    assertEquals("bind " + host + " /h  true rprivate",
        fmt("bb", "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}}{{end}}"));
    Result ro = docker.run("run", "--rm", "-v", host + ":/h:ro,z", "busybox", "sh", "-c", "cat /h/c; touch /h/n");
    assertEquals(1, ro.exitCode(), ro.toString());
    assertEquals("ctr\n", ro.stdout());
    assertTrue(ro.stderr().contains("Read-only file system"), ro.toString());
    Result mro = docker.run("run", "--rm", "--mount", "type=bind,source=" + host + ",target=/m,readonly",
        "busybox", "sh", "-c", "touch /m/n");
    assertTrue(mro.stderr().contains("Read-only file system"), mro.toString());
    docker.run("create", "--name", "slave", "--mount", "type=bind,source=" + host + ",target=/m,bind-propagation=rslave",
        "busybox").assertOk();
    assertEquals("bind /m rslave", fmt("slave", "{{range .Mounts}}{{.Type}} {{.Destination}} {{.Propagation}}{{end}}"));
    docker.run("start", "-a", "slave").assertOk();
    assertFalse(Files.exists(host.resolve("n")));
    // -v makes a missing host directory; a file can be bound too
    Path made = fixtures.resolve("made-by-v/sub");
    docker.run("run", "--rm", "-v", made + ":/x", "busybox", "touch", "/x/f").assertOk();
    assertTrue(Files.isRegularFile(made.resolve("f")));
    assertEquals("host\n", docker.run("run", "--rm", "-v", host.resolve("from-host") + ":/etc/f:ro", "busybox", "cat",
        "/etc/f").assertOk().stdout());
  }

  @Test
  void tmpfsMountsHonourSizeModeAndFlags() {
    String mounts = docker.run("run", "--rm", "--tmpfs", "/t:size=1m,mode=1770,exec", "--mount",
        "type=tmpfs,target=/m,tmpfs-size=2097152,tmpfs-mode=0700", "busybox", "cat", "/proc/mounts").assertOk().out();
    String t = mounts.lines().filter(l -> l.contains(" /t ")).findFirst().orElseThrow();
    assertTrue(t.startsWith("tmpfs /t tmpfs rw,nosuid,nodev,") && t.contains("size=1024k") && t.contains("mode=1770")
        && !t.contains("noexec"), t);
    String m = mounts.lines().filter(l -> l.contains(" /m ")).findFirst().orElseThrow();
    assertTrue(m.contains("nosuid,nodev,noexec") && m.contains("size=2048k") && m.contains("mode=700"), m);
    docker.run("create", "--name", "tm", "--tmpfs", "/t", "--mount", "type=tmpfs,target=/m", "busybox").assertOk();
    assertEquals("tmpfs /m true", fmt("tm", "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}}{{end}}"),
        "--mount tmpfs is in Mounts; --tmpfs is not, as with dockerd");
    // a tmpfs-backed volume of the local driver: mounted while used, gone from the host after
    docker.run("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=3m", "tv")
        .assertOk();
    String tv = docker.run("run", "--rm", "-v", "tv:/tv", "busybox", "sh", "-c",
        "echo x > /tv/f && grep ' /tv ' /proc/mounts").assertOk().out();
    assertTrue(tv.startsWith("tmpfs /tv tmpfs") && tv.contains("size=3072k"), tv);
    Path data = volumesDir().resolve("tv/_data");
    assertFalse(Files.exists(data.resolve("f")), "unmounted from the host once no container uses it");
  }

  @Test
  void aReadOnlyRootKeepsVolumesBindsAndTmpfsWritable() throws IOException {
    Path host = Files.createTempDirectory(fixtures, "ro-");
    Result r = docker.run("run", "--rm", "--read-only", "-v", "rov:/v", "-v", host + ":/h", "--tmpfs", "/t",
        "busybox", "sh", "-c", "touch /v/a /h/a /t/a && echo writable; touch /root-file");
    assertEquals(1, r.exitCode(), r.toString());
    assertEquals("writable\n", r.stdout());
    assertTrue(r.stderr().contains("Read-only file system"), r.toString());
    assertTrue(Files.exists(host.resolve("a")) && Files.exists(volumesDir().resolve("rov/_data/a")));
  }

  @Test
  void badInputGetsDockerdsMessagesAndLeavesNothing() throws IOException {
    Path host = Files.createTempDirectory(fixtures, "bad-");
    Files.writeString(host.resolve("file"), "f\n");
    String[][] cases = {
        {"create bad$name: \"bad$name\" includes invalid characters for a local volume name, only "
            + "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
            "volume", "create", "bad$name"},
        {"create a: volume name is too short, names should be at least two alphanumeric characters",
            "volume", "create", "a"},
        {"create opt1: invalid option: \"foo\"", "volume", "create", "--opt", "foo=bar", "opt1"},
        {"create opt2: missing required option: \"type\"", "volume", "create", "--opt", "device=/x", "opt2"},
        {"error looking up volume plugin nosuch: plugin \"nosuch\" not found", "volume", "create", "-d", "nosuch",
            "v3"},
        {"includes invalid characters for a local volume name", "run", "-v", "ok-vol:/ok", "-v", "bad$:/x", "busybox"},
        {"invalid mount config for type \"bind\": bind source path does not exist: " + host.resolve("missing"),
            "run", "--mount", "type=bind,source=" + host.resolve("missing") + ",target=/x", "busybox"},
        {"invalid mount config for type \"bind\": invalid mount path: 'relative' mount path must be absolute",
            "run", "--mount", "type=bind,source=relative,target=/x", "busybox"},
        {"invalid mount config for type \"foo\": mount type unknown", "run", "--mount", "type=foo,target=/x",
            "busybox"},
        {"invalid volume specification: 'vol:rel': invalid mount config for type \"volume\": invalid mount path: "
            + "'rel' mount path must be absolute", "run", "-v", "vol:rel", "busybox"},
        {"invalid specification: destination can't be '/'", "run", "-v", host + ":/", "busybox"},
        {"Duplicate mount point: /x", "run", "-v", "dup1:/x", "-v", host + ":/x", "busybox"},
        {"Duplicate mount point: /x", "run", "-v", "dup2:/x", "--mount", "type=tmpfs,target=/x", "busybox"},
        {"invalid mode: rx", "run", "-v", host + ":/x:rx", "busybox"},
        {"No such container: nosuch", "run", "--volumes-from", "nosuch", "busybox"},
        {"invalid tmpfs option [\"bogus\"]", "run", "--tmpfs", "/t:bogus", "busybox"},
    };
    for (String[] c : cases) {
      Result r = docker.run(java.util.Arrays.copyOfRange(c, 1, c.length));
      assertTrue(r.exitCode() != 0 && r.stderr().contains(c[0]), "expected «" + c[0] + "»: " + r);
      docker.removeAllContainers().assertOk(); // `run` may have failed at start, leaving a created container
      assertNothingLeft(r);
    }
    // a file bound over a directory: the start fails with dockerd's hint, and the container stays created
    Result mismatch = docker.run("run", "--name", "mm", "-v", host.resolve("file") + ":/etc", "busybox", "true");
    assertEquals(125, mismatch.exitCode(), mismatch.toString());
    assertTrue(mismatch.stderr().contains("Are you trying to mount a directory onto a file (or vice-versa)?"),
        mismatch.toString());
    assertEquals("created 127", fmt("mm", "{{.State.Status}} {{.State.ExitCode}}"));
    assertTrue(Files.isRegularFile(host.resolve("file"), LinkOption.NOFOLLOW_LINKS), "the host file is untouched");
  }
}
