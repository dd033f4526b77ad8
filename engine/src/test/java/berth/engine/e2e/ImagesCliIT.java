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
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The image commands of the real docker CLI against one engine process: what a user sees (stdout lines,
 * exit codes, error text) and what is left on disk. Every test starts from an empty engine ({@link #reset}
 * removes all images after each).
 */
@Tag("root")
@Timeout(value = 120)
class ImagesCliIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);
  private static final Pattern FULL_ID = Pattern.compile("sha256:[0-9a-f]{64}");

  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;
  static ImageArchive busybox;
  static ImageArchive multi;
  static ImageArchive legacy;
  static ImageArchive oci;
  static ImageArchive ociZstd;
  static Path rootfs;
  static Path rootfsGz;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-images-");
    busybox = TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    multi = TestImages.multiLayer(fixtures.resolve("multilayer.tar"), "berth/multilayer:latest");
    legacy = TestImages.legacyArchive(fixtures.resolve("legacy.tar"), "berth/legacy:latest");
    oci = TestImages.ociLayout(fixtures.resolve("oci.tar"), "v1");
    ociZstd = TestImages.ociLayoutZstd(fixtures.resolve("oci-zstd.tar"), "zstd");
    rootfs = TestImages.rootfsTar(fixtures.resolve("rootfs.tar"));
    rootfsGz = fixtures.resolve("rootfs.tar.gz");
    try (OutputStream os = new GZIPOutputStream(Files.newOutputStream(rootfsGz))) {
      Files.copy(rootfs, os);
    }
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(COMMAND_TIMEOUT); // well inside the test's @Timeout
  }

  @AfterAll
  static void tearDown() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  /** Removes every image, so each test starts from an empty engine. */
  @AfterEach
  void reset() {
    Set<String> ids = new LinkedHashSet<>(docker.run("images", "-aq", "--no-trunc").assertOk().lines());
    if (!ids.isEmpty()) {
      List<String> args = new ArrayList<>(List.of("rmi", "-f"));
      args.addAll(ids);
      docker.run(args.toArray(String[]::new)).assertOk();
    }
    assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines(), "images left after reset");
  }

  // ---- version and info -------------------------------------------------------------------------

  @Test
  void versionShowsServerApiVersions() {
    Result r = docker.run("version").assertOk();
    int server = r.stdout().indexOf("\nServer:");
    assertTrue(server >= 0, "no Server section in\n" + r.stdout());
    String section = r.stdout().substring(server);
    assertTrue(Pattern.compile("(?m)^\\s+API version:\\s+1\\.47 \\(minimum version 1\\.24\\)\\s*$").matcher(section).find(),
        "Server section lacks 'API version: 1.47 (minimum version 1.24)':\n" + section);
    assertEquals("1.47 1.24", docker.run("version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}}")
        .assertOk().out());
  }

  @Test
  void infoShowsImagesDriverRootDirAndCgroupVersion() throws IOException {
    Result before = docker.run("info").assertOk();
    assertEquals("0", infoField(before, "Images"));
    assertEquals("overlay2", infoField(before, "Storage Driver"));
    assertEquals(engine.dataRoot().toString(), infoField(before, "Docker Root Dir"));
    assertEquals(hostCgroupVersion(), infoField(before, "Cgroup Version"));

    load(busybox);
    assertEquals("1", infoField(docker.run("info").assertOk(), "Images"));
    load(multi);
    assertEquals("2", infoField(docker.run("info").assertOk(), "Images"));
  }

  // ---- load -------------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"busybox", "multilayer", "legacy", "oci-gzip", "oci-zstd"})
  void loadEachFormatThenImagesListsIt(String kind) throws IOException {
    ImageArchive a = fixture(kind);
    String tag = a.repoTags().get(0);
    Result r = docker.run("load", "-i", a.path().toString()).assertOk();
    assertEquals(List.of("Loaded image: " + tag), r.lines(), "docker load output for " + kind);
    assertTrue(imageRows().contains(tag + " " + shortId(a.imageId())), "docker images after loading " + kind
        + ": " + imageRows());
    JsonNode img = inspect(tag);
    assertEquals(a.imageId(), img.path("Id").asText());
    assertEquals(a.diffIds(), strings(img.path("RootFS").path("Layers")));
    assertEquals(List.of(tag), strings(img.path("RepoTags")));
  }

  @Test
  void loadFromStdin() throws IOException {
    Result r = docker.runWithStdin(multi.path(), "load").assertOk();
    assertEquals(List.of("Loaded image: berth/multilayer:latest"), r.lines());
    assertEquals(multi.imageId(), inspect("berth/multilayer").path("Id").asText());
    assertEquals(multi.diffIds(), strings(inspect("berth/multilayer").path("RootFS").path("Layers")));
  }

  // ---- listing ----------------------------------------------------------------------------------

  @Test
  void imagesListingFlagsAndFilters() throws IOException {
    for (ImageArchive a : List.of(busybox, multi, legacy, oci, ociZstd)) {
      load(a);
    }
    // busybox's only tag moves to the legacy image: the busybox image is left dangling
    docker.run("tag", "berth/legacy:latest", "busybox:latest").assertOk();
    String dangling = shortId(busybox.imageId());
    Set<String> tagged = Set.of(
        "berth/multilayer:latest " + shortId(multi.imageId()),
        "berth/legacy:latest " + shortId(legacy.imageId()),
        "busybox:latest " + shortId(legacy.imageId()),
        "ocitest:v1 " + shortId(oci.imageId()),
        "ocitest:zstd " + shortId(ociZstd.imageId()));
    Set<String> all = new TreeSet<>(tagged);
    all.add("<none>:<none> " + dangling);

    assertEquals(all, new TreeSet<>(imageRows()), "docker images --format");
    assertEquals(all, new TreeSet<>(imageRows("-a")), "docker images -a");
    assertEquals(Set.of(dangling, shortId(multi.imageId()), shortId(legacy.imageId()), shortId(oci.imageId()),
        shortId(ociZstd.imageId())), new TreeSet<>(docker.run("images", "-q").assertOk().lines()), "docker images -q");

    // --digests: a DIGEST column, <none> for loaded images (no registry digest)
    List<String> table = docker.run("images", "--digests").assertOk().lines();
    assertTrue(table.get(0).matches("REPOSITORY\\s+TAG\\s+DIGEST\\s+IMAGE ID\\s+CREATED\\s+SIZE"), table.get(0));
    assertEquals(6, table.size() - 1, "rows of docker images --digests: " + table);
    for (String row : table.subList(1, table.size())) {
      assertEquals("<none>", row.split("\\s{2,}")[2], "DIGEST column of " + row);
    }

    assertEquals(List.of("<none>:<none> " + dangling), imageRows("--filter", "dangling=true"));
    assertEquals(tagged, new TreeSet<>(imageRows("--filter", "dangling=false")));
    assertEquals(Set.of("berth/multilayer:latest " + shortId(multi.imageId()),
        "berth/legacy:latest " + shortId(legacy.imageId())), new TreeSet<>(imageRows("--filter", "reference=berth/*")));
    assertEquals(List.of("ocitest:zstd " + shortId(ociZstd.imageId())), imageRows("--filter", "reference=ocitest:zstd"));
    assertEquals(List.of("berth/multilayer:latest " + shortId(multi.imageId())),
        imageRows("--filter", "label=berth.test=multi"));
    assertEquals(List.of(), imageRows("--filter", "label=berth.test=other"));

    // before/since compare creation times: the fixtures are from 2024, an import is from now
    String imported = docker.run("import", rootfs.toString(), "newer:1").assertOk().out();
    assertEquals(List.of("newer:1 " + shortId(imported)), imageRows("--filter", "since=berth/multilayer"));
    Set<String> older = new TreeSet<>(all);
    assertEquals(older, new TreeSet<>(imageRows("--filter", "before=newer:1")));
    assertEquals(List.of(), imageRows("--filter", "since=newer:1"));

    Result bad = docker.run("images", "--filter", "nosuchfilter=1");
    assertEquals(1, bad.exitCode(), bad.toString());
    assertTrue(bad.stderr().contains("invalid filter 'nosuchfilter'"), bad.stderr());
  }

  // ---- inspect and history ----------------------------------------------------------------------

  @Test
  void inspectShowsIdLayersConfigAndSize() throws IOException {
    load(busybox);
    load(multi);
    JsonNode m = inspect("berth/multilayer");
    JsonNode b = inspect("busybox");
    assertAll(
        () -> assertEquals(multi.imageId(), m.path("Id").asText()),
        () -> assertEquals(multi.diffIds(), strings(m.path("RootFS").path("Layers"))),
        () -> assertEquals("layers", m.path("RootFS").path("Type").asText()),
        () -> assertEquals(List.of("sh", "-c", "cat /data/a.txt"), strings(m.path("Config").path("Cmd"))),
        () -> assertEquals(List.of(TestImages.PATH_ENV, "BERTH_TEST=multi"), strings(m.path("Config").path("Env"))),
        () -> assertEquals("multi", m.path("Config").path("Labels").path("berth.test").asText()),
        () -> assertEquals("/data", m.path("Config").path("WorkingDir").asText()),
        () -> assertEquals(TestImages.CREATED, m.path("Created").asText()),
        () -> assertEquals(List.of("sh"), strings(b.path("Config").path("Cmd"))),
        () -> assertEquals(busybox.imageId(), b.path("Id").asText()));
    long busyboxBinary = Files.size(busyboxBinary());
    long bSize = b.path("Size").asLong();
    assertTrue(bSize >= busyboxBinary && bSize < busyboxBinary + 4096,
        "busybox Size " + bSize + " should be the busybox binary (" + busyboxBinary + ") plus /etc/group and /etc/passwd");
    // the three layers above busybox hold 142 + 4 + 15 bytes of file data
    assertEquals(bSize + 161, m.path("Size").asLong(), "multilayer Size");
    assertEquals("linux/amd64", docker.run("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "berth/multilayer")
        .assertOk().out());

    Result missing = docker.run("image", "inspect", "nosuch:tag");
    assertEquals(1, missing.exitCode(), missing.toString());
    assertTrue(missing.stderr().contains("No such image: nosuch:tag"), missing.stderr());
  }

  @Test
  void historyShowsRowsSizesAndCreatedBy() throws IOException {
    load(multi);
    List<String> rows = docker.run("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}",
        "berth/multilayer").assertOk().lines();
    List<String> expected = List.of(
        multi.imageId() + "|CMD [\"sh\" \"-c\" \"cat /data/a.txt\"]|0B",
        "<missing>|WORKDIR /data|0B",
        "<missing>|EXPOSE map[8080/tcp:{}]|0B",
        "<missing>|LABEL berth.test=multi|0B",
        "<missing>|RUN /bin/sh -c echo 'layer 4 (gzip)' > /etc/layer4 # buildkit|15B",
        "<missing>|ENV BERTH_TEST=multi|0B",
        "<missing>|RUN /bin/sh -c rm /data/b.txt && rm -rf /data/dir && mkdir /data/dir && echo new > /data/dir/new.txt # buildkit|4B",
        "<missing>|COPY data /data # buildkit|142B");
    assertEquals(9, rows.size(), "history rows: " + rows);
    assertEquals(expected, rows.subList(0, 8));
    assertTrue(rows.get(8).matches("<missing>\\|ADD file:busybox-static in / # berth TestImages: /bin/busybox \\+ applet "
        + "symlinks, FROM scratch\\|[0-9.]+MB"), rows.get(8));

    List<String> table = docker.run("history", "berth/multilayer").assertOk().lines();
    assertTrue(table.get(0).matches("IMAGE\\s+CREATED\\s+CREATED BY\\s+SIZE\\s+COMMENT"), table.get(0));
    assertEquals(10, table.size(), "table: " + table);
    assertTrue(table.get(1).startsWith(shortId(multi.imageId()) + " "), table.get(1));
    assertTrue(table.get(1).contains("CMD [\"sh\" \"-c\" \"cat /data/a.txt\"]"), table.get(1));
    for (String row : table.subList(2, table.size())) {
      assertTrue(row.startsWith("<missing> "), row);
    }
    assertTrue(table.get(9).contains("ADD file:busybox-static in /"), table.get(9));
  }

  // ---- tag and rmi ------------------------------------------------------------------------------

  @Test
  void tagThenRmiUntagsThenDeletesAndRemovesUnusedLayers() throws IOException {
    load(busybox);
    load(multi);
    String bb = shortId(busybox.imageId());
    Result tag = docker.run("tag", "busybox", "bench/bb:v2").assertOk();
    assertEquals("", tag.out());
    assertTrue(imageRows().containsAll(List.of("busybox:latest " + bb, "bench/bb:v2 " + bb)), imageRows().toString());

    // by ID with two tags: refused
    Result refused = docker.run("rmi", bb);
    assertEquals(1, refused.exitCode(), refused.toString());
    assertTrue(refused.stderr().contains("must be forced"), refused.stderr());
    assertTrue(imageRows().containsAll(List.of("busybox:latest " + bb, "bench/bb:v2 " + bb)), "refused rmi removed a tag");

    // one of two tags: untag only
    assertEquals(List.of("Untagged: bench/bb:v2"), docker.run("rmi", "bench/bb:v2").assertOk().lines());
    assertTrue(imageRows().contains("busybox:latest " + bb));
    assertFalse(imageRows().contains("bench/bb:v2 " + bb));

    // the last tag: untag + delete, and the layers only it used are gone
    Set<String> layersBefore = layerDirs();
    for (String d : multi.diffIds()) {
      assertTrue(layersBefore.contains(hex(d)), "layer dir of " + d + " before rmi: " + layersBefore);
    }
    Result rmi = docker.run("rmi", "berth/multilayer").assertOk();
    assertEquals(List.of("Untagged: berth/multilayer:latest", "Deleted: " + multi.imageId()), rmi.lines());
    Set<String> layersAfter = layerDirs();
    assertEquals(Set.of(hex(busybox.diffIds().get(0))), layersAfter, "layer dirs after removing multilayer");
    Set<String> blobs = blobs();
    for (int i = 1; i < multi.layerDigests().size(); i++) {
      assertFalse(blobs.contains(hex(multi.layerDigests().get(i))), "blob of layer " + (i + 1) + " left behind");
    }
    assertFalse(blobs.contains(hex(multi.imageId())), "config blob of the deleted image left behind");
    assertTrue(blobs.contains(hex(busybox.layerDigests().get(0))), "busybox's layer blob was removed");
    assertTrue(blobs.contains(hex(busybox.imageId())), "busybox's config blob was removed");

    // -f by ID with two tags
    docker.run("tag", "busybox", "bench/bb:v3").assertOk();
    Result forced = docker.run("rmi", "-f", bb).assertOk();
    assertEquals(Set.of("Untagged: busybox:latest", "Untagged: bench/bb:v3", "Deleted: " + busybox.imageId()),
        new TreeSet<>(forced.lines()));
    assertEquals(List.of(), docker.run("images", "-q").assertOk().lines());
    assertEquals(Set.of(), layerDirs(), "layer dirs after removing every image");
    assertEquals(Set.of(), blobs(), "blobs after removing every image");

    Result nosuch = docker.run("rmi", "nosuch");
    assertEquals(1, nosuch.exitCode(), nosuch.toString());
    assertTrue(nosuch.stderr().contains("No such image: nosuch:latest"), nosuch.stderr());
  }

  // ---- save -------------------------------------------------------------------------------------

  @Test
  void saveThenLoadRoundTripKeepsIdsAndBlobsByteForByte() throws IOException {
    load(busybox);
    load(multi);
    docker.run("tag", "busybox", "bench/bb:v2").assertOk();
    Path saved = fixtures.resolve("saved-" + System.nanoTime() + ".tar");
    try {
      Result save = docker.run("save", "busybox", "bench/bb:v2", "berth/multilayer", "-o", saved.toString()).assertOk();
      assertEquals("", save.out());
      Map<String, byte[]> tar = readTar(saved);
      Map<String, byte[]> blobs = checkBlobs(tar);
      for (ImageArchive a : List.of(busybox, multi)) {
        assertTrue(blobs.containsKey(hex(a.imageId())), "config blob of " + a.repoTags() + " missing: " + blobs.keySet());
        for (String d : a.layerDigests()) {
          assertTrue(blobs.containsKey(hex(d)), "layer blob " + d + " of " + a.repoTags() + " missing: " + blobs.keySet());
        }
      }
      // uncompressed layers: the blob is the layer tar itself, so its digest is the diffID
      assertEquals(busybox.diffIds().get(0), busybox.layerDigests().get(0));
      JsonNode manifest = JSON.readTree(tar.get("manifest.json"));
      Set<String> repoTags = new TreeSet<>();
      for (JsonNode item : manifest) {
        repoTags.addAll(strings(item.path("RepoTags")));
      }
      assertEquals(Set.of("busybox:latest", "bench/bb:v2", "berth/multilayer:latest"), repoTags);

      docker.run("rmi", "busybox", "bench/bb:v2", "berth/multilayer").assertOk();
      assertEquals(List.of(), docker.run("images", "-q").assertOk().lines());

      Result reload = docker.run("load", "-i", saved.toString()).assertOk();
      assertEquals(Set.of("Loaded image: busybox:latest", "Loaded image: bench/bb:v2",
          "Loaded image: berth/multilayer:latest"), new TreeSet<>(reload.lines()));
      assertEquals(busybox.imageId(), inspect("busybox").path("Id").asText());
      assertEquals(busybox.imageId(), inspect("bench/bb:v2").path("Id").asText());
      assertEquals(multi.imageId(), inspect("berth/multilayer").path("Id").asText());
      assertEquals(multi.diffIds(), strings(inspect("berth/multilayer").path("RootFS").path("Layers")));
      // and the blobs the engine now holds are those of the archive
      Set<String> stored = blobs();
      for (String d : multi.layerDigests()) {
        assertTrue(stored.contains(hex(d)), "blob " + d + " not stored after reload: " + stored);
      }
    } finally {
      Files.deleteIfExists(saved);
    }
  }

  @Test
  void saveToStdout() throws IOException {
    load(busybox);
    Path out = fixtures.resolve("stdout-" + System.nanoTime() + ".tar");
    try {
      Result r = docker.runToFile(out, "save", "busybox").assertOk();
      assertEquals("", r.stderr().strip());
      Map<String, byte[]> tar = readTar(out);
      Map<String, byte[]> blobs = checkBlobs(tar);
      assertEquals(Set.of(hex(busybox.imageId()), hex(busybox.layerDigests().get(0)), hex(busybox.manifestDigest())),
          blobs.keySet(), "blobs of `docker save busybox`");
      JsonNode manifest = JSON.readTree(tar.get("manifest.json"));
      assertEquals(1, manifest.size());
      assertEquals("blobs/sha256/" + hex(busybox.imageId()), manifest.get(0).path("Config").asText());
      assertEquals(List.of("busybox:latest"), strings(manifest.get(0).path("RepoTags")));
      assertEquals(List.of("blobs/sha256/" + hex(busybox.layerDigests().get(0))), strings(manifest.get(0).path("Layers")));
    } finally {
      Files.deleteIfExists(out);
    }
  }

  // ---- import -----------------------------------------------------------------------------------

  @Test
  void importRootfsTarWithChangesAndGzipFromStdin() throws IOException {
    String rootfsDiffId = "sha256:" + sha256(Files.readAllBytes(rootfs));

    Result plain = docker.run("import", rootfs.toString(), "myimp:1").assertOk();
    assertTrue(FULL_ID.matcher(plain.out()).matches(), "docker import output: " + plain);
    JsonNode p = inspect("myimp:1");
    assertEquals(plain.out(), p.path("Id").asText());
    assertEquals(List.of(rootfsDiffId), strings(p.path("RootFS").path("Layers")));
    assertEquals("linux", p.path("Os").asText());

    Result changed = docker.run("import", "--change", "CMD [\"sh\"]", "--change", "ENV A=b", "-m", "msg",
        rootfs.toString(), "myimp:2").assertOk();
    JsonNode c = inspect("myimp:2");
    assertEquals(changed.out(), c.path("Id").asText());
    assertEquals(List.of("sh"), strings(c.path("Config").path("Cmd")));
    assertEquals(List.of("A=b"), strings(c.path("Config").path("Env")));
    assertEquals("msg", c.path("Comment").asText());
    assertEquals(List.of(rootfsDiffId), strings(c.path("RootFS").path("Layers")));

    Result gz = docker.runWithStdin(Files.readAllBytes(rootfsGz), "import", "-", "x").assertOk();
    JsonNode x = inspect("x");
    assertEquals(gz.out(), x.path("Id").asText());
    assertEquals(List.of(rootfsDiffId), strings(x.path("RootFS").path("Layers")),
        "a gzip'd rootfs must be stored as the uncompressed layer");
    assertTrue(imageRows().contains("x:latest " + shortId(gz.out())), imageRows().toString());
  }

  // ---- system df --------------------------------------------------------------------------------

  @Test
  void systemDfShowsImagesAndSizes() throws IOException {
    load(busybox);
    load(multi);
    long busyboxSize = inspect("busybox").path("Size").asLong();
    long total = inspect("berth/multilayer").path("Size").asLong(); // its layers include busybox's only layer

    List<String> df = docker.run("system", "df").assertOk().lines();
    assertTrue(df.get(0).matches("TYPE\\s+TOTAL\\s+ACTIVE\\s+SIZE\\s+RECLAIMABLE"), df.get(0));
    String[] images = row(df, "Images");
    assertEquals("2", images[1], "TOTAL");
    assertEquals("0", images[2], "ACTIVE");
    assertSize(total, images[3], "Images SIZE");
    assertTrue(images[4].endsWith("(100%)"), "RECLAIMABLE " + images[4]);

    List<String> v = docker.run("system", "df", "-v").assertOk().lines();
    int start = v.indexOf("Images space usage:");
    assertTrue(start >= 0, "no 'Images space usage:' in " + v);
    assertTrue(v.get(start + 1).matches("REPOSITORY\\s+TAG\\s+IMAGE ID\\s+CREATED\\s+SIZE\\s+SHARED SIZE\\s+UNIQUE SIZE\\s+CONTAINERS"),
        v.get(start + 1));
    Map<String, String[]> rows = new LinkedHashMap<>();
    for (String l : v.subList(start + 2, v.size())) {
      if (l.endsWith("space usage:")) {
        break;
      }
      String[] cols = l.split("\\s{2,}");
      rows.put(cols[0] + ":" + cols[1], cols);
    }
    assertEquals(Set.of("busybox:latest", "berth/multilayer:latest"), rows.keySet());
    String[] m = rows.get("berth/multilayer:latest");
    String[] b = rows.get("busybox:latest");
    assertEquals(shortId(multi.imageId()), m[2]);
    assertEquals(shortId(busybox.imageId()), b[2]);
    assertSize(busyboxSize, m[5], "multilayer SHARED SIZE");
    assertEquals("161B", m[6], "multilayer UNIQUE SIZE");
    assertSize(busyboxSize, b[5], "busybox SHARED SIZE");
    assertEquals("0B", b[6], "busybox UNIQUE SIZE");
    assertEquals("0", m[7], "CONTAINERS");
  }

  // ---- events -----------------------------------------------------------------------------------

  @Test
  void eventsSeeLoadTagUntagDelete() throws Exception {
    load(busybox); // before the window: must not show up in --since/--until
    try (DockerCli.Background bg = docker.background("events", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")) {
      awaitEventListeners(1);
      Thread.sleep(20);
      String since = unixTime(Instant.now());
      load(legacy);
      docker.run("tag", "berth/legacy", "berth/legacy:two").assertOk();
      docker.run("rmi", "berth/legacy:two").assertOk();
      docker.run("rmi", "berth/legacy").assertOk();
      String until = unixTime(Instant.now());

      Duration wait = Duration.ofSeconds(10);
      bg.awaitLine("image load berth/legacy:latest"::equals, wait, "image load");
      bg.awaitLine("image tag berth/legacy:two"::equals, wait, "image tag");
      bg.awaitLine("image untag berth/legacy:two"::equals, wait, "image untag");
      bg.awaitLine(("image delete " + legacy.imageId())::equals, wait, "image delete");
      assertTrue(bg.isAlive(), "docker events ended by itself; stderr: " + bg.stderr());

      Result window = docker.timeout(Duration.ofSeconds(30))
          .run("events", "--since", since, "--until", until, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
          .assertOk();
      docker.timeout(COMMAND_TIMEOUT);
      List<String> lines = window.lines();
      for (String want : List.of("image load berth/legacy:latest", "image tag berth/legacy:two", "image untag berth/legacy:two", "image untag berth/legacy:latest",
          "image delete " + legacy.imageId())) {
        assertTrue(lines.contains(want), "missing '" + want + "' in docker events --since/--until: " + lines);
      }
      assertFalse(lines.contains("image load busybox:latest"), "an event from before --since: " + lines);
    } finally {
      docker.timeout(COMMAND_TIMEOUT);
    }
  }

  // ---- prune ------------------------------------------------------------------------------------

  @Test
  void imagePruneRemovesDanglingOnly() throws IOException {
    load(busybox);
    load(legacy);
    docker.run("tag", "berth/legacy", "busybox:latest").assertOk(); // busybox's image loses its only tag
    assertEquals(List.of(shortId(busybox.imageId())), docker.run("images", "-q", "--filter", "dangling=true").assertOk().lines());

    Result r = docker.run("image", "prune", "-f").assertOk();
    List<String> lines = r.lines();
    assertEquals("Deleted Images:", lines.get(0), r.stdout());
    assertTrue(lines.contains("deleted: " + busybox.imageId()), r.stdout());
    assertFalse(lines.contains("deleted: " + legacy.imageId()), r.stdout());
    assertTrue(lines.get(lines.size() - 1).startsWith("Total reclaimed space: "), r.stdout());
    assertEquals(List.of(shortId(legacy.imageId())), new ArrayList<>(new LinkedHashSet<>(docker.run("images", "-q")
        .assertOk().lines())));
    assertEquals(Set.of("berth/legacy:latest " + shortId(legacy.imageId()), "busybox:latest " + shortId(legacy.imageId())),
        new TreeSet<>(imageRows()));
    assertEquals(Set.of(hex(legacy.diffIds().get(0)), hex(legacy.diffIds().get(1))), layerDirs());

    Result again = docker.run("image", "prune", "-f").assertOk();
    assertTrue(again.out().contains("Total reclaimed space: 0B"), again.stdout());
  }

  @Test
  void imagePruneAllRemovesEveryUnusedImage() throws IOException {
    load(busybox);
    load(multi);
    long total = inspect("berth/multilayer").path("Size").asLong();
    Result r = docker.run("image", "prune", "-a", "-f").assertOk();
    List<String> lines = r.lines();
    for (String want : List.of("untagged: busybox:latest", "untagged: berth/multilayer:latest",
        "deleted: " + busybox.imageId(), "deleted: " + multi.imageId())) {
      assertTrue(lines.contains(want), "missing '" + want + "' in\n" + r.stdout());
    }
    String last = lines.get(lines.size() - 1);
    assertTrue(last.startsWith("Total reclaimed space: "), r.stdout());
    assertSize(total, last.substring("Total reclaimed space: ".length()), "reclaimed space");
    assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());
    assertEquals(Set.of(), layerDirs(), "layer dirs after prune -a");
    assertEquals(Set.of(), blobs(), "blobs after prune -a");
    assertEquals("0", infoField(docker.run("info").assertOk(), "Images"));
  }

  // ---- helpers ----------------------------------------------------------------------------------

  static ImageArchive fixture(String kind) {
    return switch (kind) {
      case "busybox" -> busybox;
      case "multilayer" -> multi;
      case "legacy" -> legacy;
      case "oci-gzip" -> oci;
      case "oci-zstd" -> ociZstd;
      default -> throw new IllegalArgumentException(kind);
    };
  }

  static void load(ImageArchive a) {
    Result r = docker.run("load", "-i", a.path().toString()).assertOk();
    assertEquals(a.repoTags().stream().map(t -> "Loaded image: " + t).toList(), r.lines());
  }

  /** {@code docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' ARGS} lines. */
  static List<String> imageRows(String... args) {
    List<String> cmd = new ArrayList<>(List.of("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"));
    cmd.addAll(List.of(args));
    return docker.run(cmd.toArray(String[]::new)).assertOk().lines();
  }

  static JsonNode inspect(String name) throws IOException {
    Result r = docker.run("image", "inspect", name).assertOk();
    JsonNode arr = JSON.readTree(r.stdout());
    assertEquals(1, arr.size(), r.stdout());
    return arr.get(0);
  }

  static List<String> strings(JsonNode array) {
    assertTrue(array.isArray(), "not an array: " + array);
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  static String shortId(String id) {
    return hex(id).substring(0, 12);
  }

  static String hex(String digest) {
    assertTrue(FULL_ID.matcher(digest).matches(), "not a sha256 digest: " + digest);
    return digest.substring(7);
  }

  /** The value of a "Key: value" line of docker info. */
  static String infoField(Result info, String key) {
    Matcher m = Pattern.compile("(?m)^\\s*" + Pattern.quote(key) + ": (.*)$").matcher(info.stdout());
    if (!m.find()) {
      fail("no '" + key + ":' in docker info:\n" + info.stdout());
    }
    return m.group(1).strip();
  }

  /** "2" when /sys/fs/cgroup is a cgroup2 mount (unified hierarchy), else "1" — read from /proc/mounts. */
  static String hostCgroupVersion() throws IOException {
    for (String l : Files.readAllLines(Path.of("/proc/mounts"))) {
      String[] f = l.split(" ");
      if (f.length > 2 && f[1].equals("/sys/fs/cgroup")) {
        return f[2].equals("cgroup2") ? "2" : "1";
      }
    }
    return "1";
  }

  static Path busyboxBinary() {
    String p = System.getProperty("berth.test.busybox");
    if (p == null) {
      p = System.getenv("BERTH_TEST_BUSYBOX");
    }
    return Path.of(p == null ? "/bin/busybox" : p);
  }

  /** Names of the unpacked layer dirs under {@code <dataRoot>/layers} (the store's tmp dir excluded). */
  static Set<String> layerDirs() throws IOException {
    return list(engine.dataRoot().resolve("layers")).stream().filter(n -> !n.equals("tmp"))
        .collect(Collectors.toCollection(TreeSet::new));
  }

  static Set<String> blobs() throws IOException {
    return new TreeSet<>(list(engine.dataRoot().resolve("content/blobs/sha256")));
  }

  static List<String> list(Path dir) throws IOException {
    List<String> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      ds.forEach(p -> out.add(p.getFileName().toString()));
    }
    return out;
  }

  static Map<String, byte[]> readTar(Path p) throws IOException {
    Map<String, byte[]> out = new LinkedHashMap<>();
    try (InputStream in = Files.newInputStream(p); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        if (e.isFile()) {
          out.put(e.getName(), tar.readAllBytes());
        }
      }
    }
    return out;
  }

  /** Checks every {@code blobs/sha256/<hex>} member hashes to its name; returns them by hex. */
  static Map<String, byte[]> checkBlobs(Map<String, byte[]> tar) {
    Map<String, byte[]> blobs = new LinkedHashMap<>();
    tar.forEach((name, data) -> {
      if (name.startsWith("blobs/sha256/")) {
        String hex = name.substring("blobs/sha256/".length());
        assertEquals(hex, sha256(data), "content of " + name + " does not hash to its name");
        blobs.put(hex, data);
      }
    });
    assertFalse(blobs.isEmpty(), "no blobs in the saved archive: " + tar.keySet());
    assertNotNull(tar.get("manifest.json"), "no manifest.json in the saved archive: " + tar.keySet());
    assertNotNull(tar.get("index.json"), "no index.json in the saved archive: " + tar.keySet());
    return blobs;
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String[] row(List<String> table, String first) {
    for (String l : table) {
      String[] cols = l.split("\\s{2,}");
      if (cols[0].equals(first)) {
        return cols;
      }
    }
    fail("no row '" + first + "' in " + table);
    return null;
  }

  /** Asserts a docker CLI size ("1.983MB", "161B", decimal units) is {@code bytes} to its shown precision. */
  static void assertSize(long bytes, String shown, String what) {
    Matcher m = Pattern.compile("([0-9.]+)(B|kB|MB|GB|TB)").matcher(shown.strip());
    assertTrue(m.matches(), what + ": not a size: '" + shown + "'");
    double unit = switch (m.group(2)) {
      case "B" -> 1;
      case "kB" -> 1e3;
      case "MB" -> 1e6;
      case "GB" -> 1e9;
      default -> 1e12;
    };
    double value = Double.parseDouble(m.group(1)) * unit;
    assertTrue(Math.abs(value - bytes) <= Math.max(1, bytes * 0.005), what + ": shown " + shown + " but expected ~" + bytes + " bytes");
  }

  static String unixTime(Instant t) {
    return t.getEpochSecond() + "." + String.format("%09d", t.getNano());
  }

  static void awaitEventListeners(int n) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      last = docker.run("info", "--format", "{{.NEventsListener}}").assertOk().out();
      if (Integer.parseInt(last) >= n) {
        return;
      }
      Thread.sleep(50);
    }
    fail("the events listener never subscribed (NEventsListener=" + last + ")");
  }
}
