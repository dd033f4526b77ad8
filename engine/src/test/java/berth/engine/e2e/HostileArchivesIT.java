package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.HostileArchives;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import berth.engine.testing.TestImages.ImageArchive;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every {@link HostileArchives} case through {@code docker load -i}: refused with exit code 1 and a clear
 * one-line message, nothing written outside the data root, nothing left inside it, and the engine still
 * serving. Plus a gzip bomb against an engine whose data root is a small tmpfs.
 */
@Tag("root")
@Timeout(value = 120)
class HostileArchivesIT {
  /** File names the archives plant (or would plant if followed), looked for outside the data root. */
  static final Set<String> PLANTED = Set.of("escape.txt", "escape", "pwned", HostileArchives.HARDLINK_NAME, "outside.txt",
      HostileArchives.SYMLINK_NAME, "hostile.txt", HostileArchives.BOMB_FILE);
  /** Where the planted paths land if followed literally from / or /tmp. */
  static final List<Path> ABSOLUTE_TARGETS = List.of(Path.of("/escape"), Path.of("/escape.txt"), Path.of("/pwned"),
      Path.of("/tmp/pwned"), Path.of("/outside.txt"), Path.of("/x"), Path.of("/tmp/x"), Path.of("/tmp/escape.txt"),
      Path.of("/tmp/outside.txt"), Path.of("/passwd-link"), Path.of("/etc/passwd-link"));

  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;
  static ImageArchive busybox;

  /** A case: the generator name and what the error must say (a literal substring, or a regex for "re:..."). */
  record Case(String name, String expect) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> cases() {
    return Stream.of(
        new Case("dotdotLayer", "invalid layer: path escapes layer root: " + HostileArchives.DOTDOT_ENTRY),
        new Case("absoluteEscape", "invalid layer: path escapes layer root: " + HostileArchives.ABSOLUTE_ENTRY),
        new Case("symlinkEscape", "invalid layer: path traverses a symlink: " + HostileArchives.SYMLINK_CHILD),
        new Case("symlinkEscapeRelative", "invalid layer: path traverses a symlink: " + HostileArchives.SYMLINK_CHILD),
        new Case("hardlinkEscape", "hard link target escapes layer root: " + HostileArchives.HARDLINK_NAME + " -> "
            + HostileArchives.HARDLINK_TARGET),
        new Case("archiveDotdot", "path " + HostileArchives.OUTER_DOTDOT_ENTRIES.get(0) + " escapes the archive"),
        new Case("manifestMissingBlob", "manifest.json references missing layer blobs/sha256/"),
        new Case("digestMismatch", "digest mismatch"),
        new Case("diffIdMismatch", "but the image config says sha256:"
            + sha256("not the layer".getBytes(java.nio.charset.StandardCharsets.UTF_8))),
        new Case("truncatedGzip", "re:(?i).*(unexpected end|truncated).*"),
        new Case("truncatedArchive", "re:(?i).*truncated.*"),
        new Case("zeroByte", "no manifest.json or index.json found"),
        new Case("notATar", "re:(?i).*invalid archive.*tar.*"),
        new Case("malformedManifestJson", "malformed manifest.json"),
        new Case("manifestPathTraversal", "path " + HostileArchives.MANIFEST_TRAVERSAL_LAYER + " escapes the archive"),
        new Case("configNotJson", "image config is not valid JSON"));
  }

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-hostile-");
    busybox = TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(java.time.Duration.ofSeconds(60)); // well inside the test's @Timeout
    // A baseline image whose layer every hostile archive shares: a failed load must not take it away.
    assertEquals(List.of("Loaded image: busybox:latest"),
        docker.run("load", "-i", busybox.path().toString()).assertOk().lines());
  }

  @AfterAll
  static void tearDown() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @Test
  void everyGeneratorIsCovered() {
    Set<String> covered = new TreeSet<>(cases().map(Case::name).toList());
    covered.add("gzipBomb"); // gzipBombOnSmallTmpfs
    assertEquals(new TreeSet<>(HostileArchives.NAMES), covered);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void refusedCleanlyAndEngineStillServes(Case c) throws Exception {
    Path archive = HostileArchives.write(c.name(), fixtures.resolve(c.name() + ".tar"), 0);
    Snapshot before = Snapshot.take();

    Result r = docker.run("load", "-i", archive.toString());

    Snapshot after = Snapshot.take();
    String msg = r.stderr().strip();
    assertAll(
        () -> assertEquals(1, r.exitCode(), "exit code: " + r),
        () -> assertTrue(matches(c.expect(), msg), "error for " + c.name() + " should say " + c.expect() + ": " + r),
        () -> assertFalse(msg.contains("\n"), "error should be one line: " + r),
        () -> assertFalse(msg.contains("Exception"), "error leaks a Java exception name: " + r),
        () -> assertFalse(r.stdout().contains("Loaded image"), "stdout claims a load: " + r));
    assertAll(
        () -> assertEquals(before.images, after.images, "docker images -q changed"),
        () -> assertEquals(before.layers, after.layers, "dirs under <dataRoot>/layers changed"),
        () -> assertEquals(before.blobs, after.blobs, "blobs under <dataRoot>/content/blobs/sha256 changed"),
        () -> assertEquals(List.of(), list(engine.dataRoot().resolve("content/ingest")), "content/ingest not empty"),
        () -> assertEquals(List.of(), list(engine.dataRoot().resolve("layers/tmp")), "layers/tmp not empty"),
        () -> assertEquals(List.of(), list(engine.dataRoot().resolve("tmp")), "<dataRoot>/tmp not empty"),
        () -> assertEquals(before.passwdSha, after.passwdSha, "/etc/passwd changed"),
        () -> assertEquals(before.passwdLinks, after.passwdLinks, "/etc/passwd got another hard link"),
        () -> assertEquals(before.plantedOutside, after.plantedOutside, "planted names appeared outside the data root"),
        () -> assertEquals(before.rootEntries, after.rootEntries, "planted names appeared in /"),
        () -> assertEquals(before.workDir, after.workDir, "the data root's parent dir changed"),
        () -> assertEquals(List.of(), after.absoluteHits, "files at escape targets"),
        () -> assertEquals(Set.of(), plantedIn(engine.dataRoot()), "planted names left inside the data root"));

    docker.run("version").assertOk();
    assertEquals(List.of("Loaded image: busybox:latest"),
        docker.run("load", "-i", busybox.path().toString()).assertOk().lines(), "a valid load after " + c.name());
    assertEquals(busybox.imageId(), docker.run("image", "inspect", "--format", "{{.Id}}", "busybox").assertOk().out());
  }

  /** A gzip bomb inflating to 1 GiB against a data root on a 64 MiB tmpfs: "no space", and nothing left. */
  @Test
  @Timeout(value = 180)
  void gzipBombOnSmallTmpfs() throws Exception {
    Path work = EngineProcess.newWorkDir();
    Path mnt = work.resolve("mnt");
    Files.createDirectories(mnt);
    docker.exec(List.of("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt.toString())).assertOk();
    try {
      Path bomb = HostileArchives.gzipBomb(fixtures.resolve("bomb.tar"), 1L << 30);
      Path dataRoot = mnt.resolve("data");
      try (EngineProcess small = EngineProcess.start(dataRoot, List.of()); DockerCli cli = new DockerCli(small)) {
        long usedBefore = used(mnt);
        Result r = cli.timeout(java.time.Duration.ofSeconds(150)).run("load", "-i", bomb.toString());
        long usedAfter = used(mnt);
        assertEquals(1, r.exitCode(), r.toString());
        assertTrue(r.stderr().toLowerCase(java.util.Locale.ROOT).contains("no space"), "error should mention no space: " + r);
        assertFalse(r.stdout().contains("Loaded image"), r.toString());
        assertTrue(usedAfter - usedBefore < 512 * 1024, "tmpfs usage went from " + usedBefore + " to " + usedAfter
            + " bytes: leftovers " + plantedIn(dataRoot) + " ingest=" + list(dataRoot.resolve("content/ingest"))
            + " layers/tmp=" + list(dataRoot.resolve("layers/tmp")) + "\n" + small.logTail());
        assertEquals(List.of(), list(dataRoot.resolve("content/ingest")));
        assertEquals(List.of(), list(dataRoot.resolve("layers/tmp")));
        assertEquals(List.of("tmp"), list(dataRoot.resolve("layers")));
        assertEquals(List.of(), list(dataRoot.resolve("content/blobs/sha256")));
        assertEquals(List.of(), cli.run("images", "-q").assertOk().lines());

        cli.run("version").assertOk();
        assertEquals(List.of("Loaded image: busybox:latest"),
            cli.run("load", "-i", busybox.path().toString()).assertOk().lines(), "a valid load after the bomb");
      }
    } finally {
      Result u = docker.exec(List.of("umount", mnt.toString()));
      if (!u.ok()) {
        docker.exec(List.of("umount", "-l", mnt.toString()));
      }
      Files.deleteIfExists(fixtures.resolve("bomb.tar"));
      EngineProcess.deleteTree(work);
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** What is observable before and after a case. */
  record Snapshot(List<String> images, Set<String> layers, Set<String> blobs, String passwdSha, Object passwdLinks,
                  Set<Path> plantedOutside, Set<String> rootEntries, Set<String> workDir, List<Path> absoluteHits) {
    static Snapshot take() throws IOException {
      Path passwd = Path.of("/etc/passwd");
      List<Path> hits = new ArrayList<>();
      for (Path p : ABSOLUTE_TARGETS) {
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
          hits.add(p);
        }
      }
      Set<String> root = new TreeSet<>();
      for (String n : list(Path.of("/"))) {
        if (n.startsWith("escape") || n.startsWith("pwned") || n.startsWith("outside") || n.startsWith("passwd-link")
            || n.equals("x") || n.equals("evil") || n.startsWith("hostile")) {
          root.add(n);
        }
      }
      return new Snapshot(
          new ArrayList<>(new TreeSet<>(docker.run("images", "-aq", "--no-trunc").assertOk().lines())),
          new TreeSet<>(list(engine.dataRoot().resolve("layers"))),
          new TreeSet<>(list(engine.dataRoot().resolve("content/blobs/sha256"))),
          sha256(Files.readAllBytes(passwd)),
          Files.getAttribute(passwd, "unix:nlink", LinkOption.NOFOLLOW_LINKS),
          plantedUnderTmp(),
          root,
          new TreeSet<>(list(engine.workDir())),
          hits);
    }
  }

  /** Files under /tmp (outside the data root) named like a planted file. */
  static Set<Path> plantedUnderTmp() throws IOException {
    Set<Path> out = new TreeSet<>();
    Path skip = engine.dataRoot();
    Files.walkFileTree(Path.of("/tmp"), new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
        if (dir.equals(skip) || !Files.isReadable(dir)) {
          return FileVisitResult.SKIP_SUBTREE;
        }
        if (PLANTED.contains(String.valueOf(dir.getFileName()))) {
          out.add(dir);
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
        if (PLANTED.contains(String.valueOf(file.getFileName()))) {
          out.add(file);
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) {
        return FileVisitResult.CONTINUE; // others' temp files come and go
      }
    });
    return out;
  }

  /** Files under {@code top} named like a planted file (a bomb or hostile layer left unpacked). */
  static Set<String> plantedIn(Path top) throws IOException {
    Set<String> out = new TreeSet<>();
    if (!Files.exists(top)) {
      return out;
    }
    Files.walkFileTree(top, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
        if (PLANTED.contains(String.valueOf(file.getFileName()))) {
          out.add(top.relativize(file).toString());
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
        if (PLANTED.contains(String.valueOf(dir.getFileName()))) {
          out.add(top.relativize(dir).toString());
        }
        return FileVisitResult.CONTINUE;
      }
    });
    return out;
  }

  static boolean matches(String expect, String msg) {
    if (expect.startsWith("re:")) {
      return Pattern.compile(expect.substring(3), Pattern.DOTALL).matcher(msg).matches();
    }
    return msg.contains(expect);
  }

  static List<String> list(Path dir) throws IOException {
    List<String> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      ds.forEach(p -> out.add(p.getFileName().toString()));
    }
    out.sort(null);
    return out;
  }

  static long used(Path mount) throws IOException {
    FileStore fs = Files.getFileStore(mount);
    return fs.getTotalSpace() - fs.getUnallocatedSpace();
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
