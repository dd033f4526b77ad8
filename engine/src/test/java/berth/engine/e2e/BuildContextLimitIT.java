package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineWithBusybox;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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
  static EngineWithBusybox env;

  @BeforeAll
  static void setUp() throws IOException {
    env = EngineWithBusybox.withConfig("berth-e2e-buildlimit-", "{\"build-context-max-size\": 1000000}");
  }

  @AfterAll
  static void tearDown() throws IOException {
    if (env != null) {
      env.close();
    }
  }

  @Test
  void aContextOverTheEnginesLimitFailsClearlyAndTheEngineKeepsServing() throws IOException {
    Path ctx = env.context(Map.of());
    Files.writeString(ctx.resolve("Dockerfile"), "FROM busybox\nCOPY big /big\n");
    byte[] big = new byte[3_000_000];
    new java.util.Random(7).nextBytes(big);
    Files.write(ctx.resolve("big"), big);
    DockerCli docker = env.docker;
    Result r = docker.run("build", "--network", "none", "-t", "toolarge", ctx.toString());
    assertEquals(1, r.exitCode(), r.toString());
    assertTrue(r.stderr().contains("the build context is larger than this engine accepts (1000000 bytes: "
        + "build-context-max-size in its configuration)"), r.stderr());
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines());
    try (Stream<Path> left = Files.list(env.engine.dataRoot().resolve("tmp"))) {
      assertEquals(List.of(), left.toList(), "the spooled part is removed");
    }
    Files.delete(ctx.resolve("big"));
    Files.writeString(ctx.resolve("Dockerfile"), "FROM busybox\nRUN echo fits > /fits\n");
    docker.run("build", "--network", "none", "-t", "fits", ctx.toString()).assertOk();
    assertEquals("fits\n", docker.run("run", "--rm", "--network", "none", "fits", "cat", "/fits").assertOk().stdout());
    assertFalse(docker.run("images", "-q", "toolarge").assertOk().stdout().contains("\n"));
  }
}
