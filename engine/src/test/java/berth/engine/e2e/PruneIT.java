package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Disk usage and clean-up through the real docker CLI (#6): {@code system df} (-v) with the sizes on disk, and
 * container, image, network and system prune with their filters, checked against what is left on disk.
 */
@Tag("root")
@Timeout(value = 180)
class PruneIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MIB = 1024 * 1024;

  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-prune-");
    TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(60));
  }

  @AfterAll
  static void tearDown() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @BeforeEach
  void load() {
    docker.run("load", "-q", "-i", fixtures.resolve("busybox.tar").toString()).assertOk();
  }

  @AfterEach
  void reset() {
    docker.removeAllContainers();
    docker.run("system", "prune", "-a", "-f").assertOk();
  }

  private List<String> dirs(String... under) throws IOException {
    try (Stream<Path> s = Files.list(engine.dataRoot().resolve(Path.of("", under)))) {
      return s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("tmp") && !n.equals("rw")
          && !n.equals("empty")).sorted().toList();
    } catch (java.nio.file.NoSuchFileException e) {
      return List.of();
    }
  }

  @Test
  void systemDfReportsTheSizesOnDisk() throws IOException {
    docker.run("run", "--network", "none", "--name", "writer", "busybox", "dd", "if=/dev/zero", "of=/big", "bs=1024",
        "count=1024").assertOk();
    docker.run("commit", "writer", "berth/big").assertOk();
    docker.run("create", "--network", "none", "--name", "idle", "busybox").assertOk();
    long busyboxSize = Long.parseLong(docker.run("image", "inspect", "busybox", "--format", "{{.Size}}").assertOk().out());

    String raw = engine.rawGet("/system/df", Duration.ofSeconds(20));
    JsonNode df = JSON.readTree(raw.substring(raw.indexOf("\r\n\r\n") + 4));
    JsonNode big = null;
    JsonNode bb = null;
    for (JsonNode i : df.get("Images")) {
      String tag = i.get("RepoTags").get(0).asText();
      if (tag.equals("berth/big:latest")) {
        big = i;
      } else if (tag.equals("busybox:latest")) {
        bb = i;
      }
    }
    assertEquals(busyboxSize, bb.get("Size").asLong());
    assertEquals(busyboxSize, bb.get("SharedSize").asLong(), "busybox's layer is shared with the committed image");
    assertEquals(2, bb.get("Containers").asInt());
    assertEquals(busyboxSize, big.get("SharedSize").asLong());
    assertEquals(MIB, big.get("Size").asLong() - busyboxSize, "the commit's unique layer holds the 1 MiB file");
    assertEquals(busyboxSize + MIB, df.get("LayersSize").asLong());
    for (JsonNode c : df.get("Containers")) {
      String name = c.get("Names").get(0).asText();
      if (name.equals("/writer")) {
        assertEquals(MIB, c.get("SizeRw").asLong(), "the writable layer's bytes");
      } else {
        assertEquals("/idle", name);
        assertEquals(0, c.get("SizeRw").asLong());
      }
    }
    assertEquals(0, df.get("BuildCache").size());

    List<String> summary = docker.run("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}")
        .assertOk().lines();
    assertEquals(4, summary.size(), summary.toString());
    assertTrue(summary.get(0).startsWith("Images|2|1|"), summary.toString());
    assertEquals(List.of("Containers|2|0|1.049MB", "Local Volumes|0|0|0B", "Build Cache|0|0|0B"),
        summary.subList(1, 4));
    Result v = docker.run("system", "df", "-v");
    v.assertOk();
    assertTrue(v.stdout().contains("berth/big") && v.stdout().contains("1.049MB") && v.stdout().contains("writer")
        && v.stdout().contains("idle"), v.stdout());
  }

  @Test
  void containerPruneKeepsRunningOnesAndHonoursLabelAndUntil() throws IOException {
    docker.run("create", "--network", "none", "--name", "ca", "--label", "tier=a", "busybox").assertOk();
    docker.run("create", "--network", "none", "--name", "cb", "busybox").assertOk();
    docker.run("run", "-d", "--network", "none", "--name", "up", "busybox", "sleep", "300").assertOk();
    assertTrue(docker.run("container", "prune", "-f", "--filter", "until=1h").assertOk().stdout()
        .contains("Total reclaimed space: 0B"), "nothing is an hour old");
    assertEquals(List.of("ca", "cb", "up"), names());
    Result labelled = docker.run("container", "prune", "-f", "--filter", "label=tier=a").assertOk();
    assertEquals(List.of("cb", "up"), names(), labelled.toString());
    docker.run("container", "prune", "-f", "--filter", "label!=tier").assertOk();
    assertEquals(List.of("up"), names(), "a running container is never pruned");
    assertEquals(1, rwCount(), "one writable layer left");
  }

  private int rwCount() throws IOException {
    try (Stream<Path> s = Files.list(engine.dataRoot().resolve("layers").resolve("rw"))) {
      return (int) s.count();
    }
  }

  private List<String> names() {
    List<String> out = new ArrayList<>(docker.run("ps", "-a", "--format", "{{.Names}}").assertOk().lines());
    out.sort(null);
    return out;
  }

  @Test
  void imagePruneDanglingThenAllUnusedWithFilters() throws IOException {
    docker.run("run", "--network", "none", "--name", "src", "busybox", "touch", "/one").assertOk();
    String first = docker.run("commit", "src", "berth/c:v").assertOk().out();
    String second = docker.run("commit", "--change", "LABEL keep=yes", "src", "berth/c:v").assertOk().out();
    docker.run("commit", "--change", "LABEL keep=yes", "src", "berth/kept:v").assertOk();
    assertEquals("<none>", docker.run("image", "inspect", first, "--format", "{{if .RepoTags}}tagged{{else}}<none>{{end}}")
        .assertOk().out(), "the first commit lost its tag to the second: dangling");

    Result dangling = docker.run("image", "prune", "-f");
    dangling.assertOk();
    assertTrue(dangling.stdout().contains("deleted: " + first), dangling.toString());
    assertFalse(docker.run("image", "inspect", first).ok());
    assertTrue(docker.run("image", "inspect", second).ok(), "a tagged image is not dangling");

    Result labelled = docker.run("image", "prune", "-a", "-f", "--filter", "label!=keep");
    labelled.assertOk();
    assertTrue(docker.run("image", "inspect", "berth/c:v").ok() && docker.run("image", "inspect", "berth/kept:v").ok(),
        "both carry keep: " + labelled);
    assertTrue(docker.run("image", "inspect", "busybox").ok(), "busybox has no keep label but a container uses it");

    docker.run("rm", "src").assertOk();
    Result all = docker.run("image", "prune", "-a", "-f", "--filter", "label=keep=yes");
    all.assertOk();
    assertFalse(docker.run("image", "inspect", "berth/c:v").ok(), all.toString());
    assertFalse(docker.run("image", "inspect", "berth/kept:v").ok(), all.toString());
    assertEquals(List.of("busybox:latest"), docker.run("images", "--format", "{{.Repository}}:{{.Tag}}").assertOk().lines());
    docker.run("image", "prune", "-a", "-f").assertOk();
    assertEquals(List.of(), docker.run("images", "-q").assertOk().lines());
    assertEquals(List.of(), dirs("layers"), "the layers went with the images");
  }

  @Test
  void networkPruneAndSystemPruneAll() throws IOException {
    docker.run("network", "create", "gone1").assertOk();
    docker.run("network", "create", "--label", "keep=1", "kept1").assertOk();
    Result r = docker.run("network", "prune", "-f", "--filter", "label!=keep");
    r.assertOk();
    assertTrue(r.stdout().contains("gone1") && !r.stdout().contains("kept1"), r.toString());
    assertEquals(List.of("bridge", "host", "kept1", "none"),
        docker.run("network", "ls", "--format", "{{.Name}}").assertOk().lines().stream().sorted().toList());

    docker.run("run", "--network", "none", "--name", "done", "busybox", "true").assertOk();
    docker.run("run", "-d", "--network", "none", "--name", "up", "busybox", "sleep", "300").assertOk();
    docker.run("commit", "done", "berth/unused").assertOk();
    Result all = docker.run("system", "prune", "-a", "-f");
    all.assertOk();
    assertTrue(all.stdout().contains("Deleted Containers:") && all.stdout().contains("Deleted Networks:")
        && all.stdout().contains("untagged: berth/unused:latest") && all.stdout().contains("Total reclaimed space:"),
        all.toString());
    assertEquals(List.of("up"), names());
    assertEquals(List.of("busybox:latest"), docker.run("images", "--format", "{{.Repository}}:{{.Tag}}").assertOk().lines(),
        "the running container's image stays");
    assertEquals(List.of("bridge", "host", "none"),
        docker.run("network", "ls", "--format", "{{.Name}}").assertOk().lines().stream().sorted().toList());
    Result builder = docker.run("builder", "prune", "-f");
    builder.assertOk();
    assertTrue(builder.stdout().contains("Total:") || builder.stdout().contains("0B"), builder.toString());
  }
}
