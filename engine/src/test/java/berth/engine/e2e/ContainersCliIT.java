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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Containers that are created but not run (#3's first slice), through the real docker CLI: create,
 * ps, inspect, rename, rm, prune, and the image conflicts a container causes (#2's 409).
 */
@Tag("root")
class ContainersCliIT {
  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-ctr-");
    TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(60));
  }

  @AfterAll
  static void tearDown() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @AfterEach
  void reset() {
    docker.run("container", "prune", "-f").assertOk();
    docker.run("image", "prune", "-a", "-f").assertOk();
  }

  private void loadBusybox() {
    docker.run("load", "-q", "-i", fixtures.resolve("busybox.tar").toString()).assertOk();
  }

  private List<String> dirs(String... under) throws IOException {
    try (Stream<Path> s = Files.list(engine.dataRoot().resolve(Path.of("", under)))) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (java.nio.file.NoSuchFileException e) {
      return List.of();
    }
  }

  @Test
  void createThenPsInspectRenameAndRm() throws IOException {
    loadBusybox();
    String id = docker.run("create", "--name", "web", "-e", "A=1", "--label", "tier=front", "busybox", "echo", "hi")
        .assertOk().out().trim();
    assertTrue(id.matches("[0-9a-f]{64}"), id);
    assertEquals(List.of(), docker.run("ps", "-q").assertOk().lines(), "a created container is not running");
    assertEquals(List.of("web Created \"echo hi\""),
        docker.run("ps", "-a", "--format", "{{.Names}} {{.Status}} {{.Command}}").assertOk().lines());
    assertEquals("/web created echo [hi] [PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin A=1] "
            + "map[tier:front]",
        docker.run("inspect", "web", "--format",
            "{{.Name}} {{.State.Status}} {{.Path}} {{.Args}} {{.Config.Env}} {{.Config.Labels}}").assertOk().out().trim());
    assertEquals(List.of(id), dirs("layers", "rw"), "the writable layer is prepared at create");
    assertEquals("1 0 1", docker.run("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}}")
        .assertOk().out().trim());

    docker.run("rename", "web", "web2").assertOk();
    assertEquals(List.of("web2"), docker.run("ps", "-a", "--format", "{{.Names}}").assertOk().lines());
    assertEquals(List.of("web2"), docker.run("ps", "-a", "--filter", "label=tier=front", "--format", "{{.Names}}")
        .assertOk().lines());
    assertEquals(List.of(), docker.run("ps", "-a", "--filter", "label=tier=back", "-q").assertOk().lines());

    docker.run("rm", id.substring(0, 12)).assertOk();
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines());
    assertEquals(List.of(), dirs("layers", "rw"), "rm removes the writable layer");
    assertEquals(List.of(), dirs("containers"), "rm removes the container's record");
  }

  @Test
  void badCreatesSayWhyAndLeaveNothingBehind() throws IOException {
    loadBusybox();
    docker.run("create", "--name", "taken", "busybox").assertOk();
    Result dup = docker.run("create", "--name", "taken", "busybox");
    dup.assertExit(1);
    assertTrue(dup.stderr().contains("Conflict. The container name \"/taken\" is already in use by container"), dup.toString());
    Result badName = docker.run("create", "--name", "bad name", "busybox");
    assertTrue(badName.stderr().contains("Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
        badName.toString());
    Result noCmd = docker.run("create", "--entrypoint", "", "busybox");
    assertTrue(noCmd.stderr().contains("no command specified"), noCmd.toString());
    Result badCap = docker.run("create", "--cap-add", "NOPE", "busybox");
    assertTrue(badCap.stderr().contains("unknown capability"), badCap.toString());
    Result noImage = docker.run("create", "--pull", "never", "nosuch");
    assertTrue(noImage.stderr().contains("No such image: nosuch:latest"), noImage.toString());
    assertEquals(List.of("taken"), docker.run("ps", "-a", "--format", "{{.Names}}").assertOk().lines());
    assertEquals(1, dirs("layers", "rw").size(), "failed creates prepare no writable layer");
    assertEquals(1, dirs("containers").size());
  }

  @Test
  void anImageInUseIsKeptUntilForcedAndItsLayersUntilTheContainerGoes() throws IOException {
    loadBusybox();
    String ctr = docker.run("create", "busybox").assertOk().out().trim();
    Result byTag = docker.run("rmi", "busybox");
    byTag.assertExit(1);
    assertTrue(byTag.stderr().contains("conflict: unable to remove repository reference \"busybox\" (must force) - "
        + "container " + ctr.substring(0, 12) + " is using its referenced image"), byTag.toString());
    String imageId = docker.run("image", "inspect", "busybox", "--format", "{{.Id}}").assertOk().out().trim();
    Result byId = docker.run("rmi", imageId.substring(7, 19));
    assertTrue(byId.stderr().contains("image is being used by stopped container " + ctr.substring(0, 12)), byId.toString());
    assertEquals(1, docker.run("image", "prune", "-a", "-f").assertOk().lines().size(), "prune keeps images in use");
    assertEquals(List.of("busybox:latest"), docker.run("images", "--format", "{{.Repository}}:{{.Tag}}").assertOk().lines());

    docker.run("rmi", "-f", "busybox").assertOk();
    List<String> layers = dirs("layers").stream().filter(n -> n.matches("[0-9a-f]{64}")).toList();
    assertEquals(1, layers.size(), "the container still stands on the image's layer");
    docker.run("rm", ctr).assertOk();
    assertEquals(List.of(), dirs("layers").stream().filter(n -> n.matches("[0-9a-f]{64}")).toList(),
        "with the container gone, nothing holds the layer");
  }

  @Test
  void pruneRemovesStoppedContainersAndEventsSeeTheLifecycle() throws Exception {
    loadBusybox();
    // --since replays what happened before the subscription was in place: under load the CLI may subscribe
    // after the first create (seen in CI)
    String since = Long.toString(System.currentTimeMillis() / 1000 - 1);
    try (DockerCli.Background events = docker.background("events", "--since", since, "--filter", "type=container",
        "--format", "{{.Action}} {{.Actor.Attributes.name}}")) {
      docker.run("create", "--name", "ca", "busybox").assertOk();
      docker.run("rename", "ca", "cb").assertOk();
      docker.run("create", "--name", "cc", "busybox").assertOk();
      Result prune = docker.run("container", "prune", "-f").assertOk();
      assertEquals(2, prune.lines().stream().filter(l -> l.matches("[0-9a-f]{64}")).count(), prune.toString());
      events.awaitLine("destroy cc"::equals, Duration.ofSeconds(20), "destroy event");
      List<String> seen = events.lines();
      assertTrue(seen.containsAll(List.of("create ca", "rename cb", "create cc", "destroy cb", "destroy cc")), seen.toString());
    }
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines());
    assertFalse(docker.run("start", "nosuch").ok());
  }
}
