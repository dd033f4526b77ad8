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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An engine whose {@code build-context-max-size} is 1 MB, through the docker CLI: a larger context fails clearly and
 * leaves nothing, and the engine keeps building. Its own class: it needs its own engine, and two engines in one
 * network namespace contend for the {@code berth0} bridge.
 */
@Tag("root")
@Timeout(value = 180)
class BuildContextLimitIT {
  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-buildlimit-");
    TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    Path config = Files.writeString(fixtures.resolve("small-context.json"), "{\"build-context-max-size\": 1000000}");
    engine = EngineProcess.start(List.of("--config-file", config.toString()));
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(120));
    docker.run("load", "-q", "-i", fixtures.resolve("busybox.tar").toString()).assertOk();
  }

  @AfterAll
  static void tearDown() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @Test
  void aContextOverTheEnginesLimitFailsClearlyAndTheEngineKeepsServing() throws IOException {
    Path ctx = Files.createTempDirectory(fixtures, "ctx-");
    Files.writeString(ctx.resolve("Dockerfile"), "FROM busybox\nCOPY big /big\n");
    byte[] big = new byte[3_000_000];
    new java.util.Random(7).nextBytes(big);
    Files.write(ctx.resolve("big"), big);
    Result r = docker.run("build", "--network", "none", "-t", "toolarge", ctx.toString());
    assertEquals(1, r.exitCode(), r.toString());
    assertTrue(r.stderr().contains("the build context is larger than this engine accepts (1000000 bytes: "
        + "build-context-max-size in its configuration)"), r.stderr());
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines());
    try (Stream<Path> left = Files.list(engine.dataRoot().resolve("tmp"))) {
      assertEquals(List.of(), left.toList(), "the spooled part is removed");
    }
    Files.delete(ctx.resolve("big"));
    Files.writeString(ctx.resolve("Dockerfile"), "FROM busybox\nRUN echo fits > /fits\n");
    docker.run("build", "--network", "none", "-t", "fits", ctx.toString()).assertOk();
    assertEquals("fits\n", docker.run("run", "--rm", "--network", "none", "fits", "cat", "/fits").assertOk().stdout());
    assertFalse(docker.run("images", "-q", "toolarge").assertOk().stdout().contains("\n"));
  }
}
