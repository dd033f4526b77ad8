package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code docker build} with the classic builder (the CLI runs with DOCKER_BUILDKIT=0 and has no buildx): what
 * the user sees, what the images hold when run, the cache, multi-stage builds, .dockerignore, build args, and
 * bad input failing clearly with no container left behind.
 */
@Tag("root")
@Timeout(value = 180)
class BuildCliIT {
  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-build-");
    TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(120));
    docker.run("load", "-q", "-i", fixtures.resolve("busybox.tar").toString()).assertOk();
  }

  @AfterAll
  static void tearDown() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @AfterEach
  void reset() {
    docker.removeAllContainers().assertOk();
  }

  /** A fresh context directory with these files (path → content). */
  private static Path context(Map<String, String> files) throws IOException {
    Path dir = Files.createTempDirectory(fixtures, "ctx-");
    for (Map.Entry<String, String> f : files.entrySet()) {
      Path p = dir.resolve(f.getKey());
      Files.createDirectories(p.getParent());
      Files.writeString(p, f.getValue());
    }
    return dir;
  }

  private Result build(Path ctx, String... extra) {
    List<String> args = new java.util.ArrayList<>(List.of("build"));
    args.addAll(List.of(extra));
    args.add(ctx.toString());
    return docker.run(args.toArray(String[]::new));
  }

  private String runOut(String image, String... cmd) {
    List<String> args = new java.util.ArrayList<>(List.of("run", "--rm", image));
    args.addAll(List.of(cmd));
    return docker.run(args.toArray(String[]::new)).assertOk().stdout();
  }

  private void assertNoContainers() {
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines(), "no intermediate container is left");
  }

  @Test
  void nodeStyleBuildRunsAndRebuildsFromCacheUntilASourceChanges() throws IOException {
    Path ctx = context(Map.of(
        "Dockerfile", """
            # a Node-style app, with busybox standing in for node
            FROM busybox
            WORKDIR /app
            COPY package.json ./
            RUN echo "installing $(cat package.json)" && \\
                echo deps > /app/node_modules.txt
            COPY . .
            RUN echo 'app:x:1001:1001::/home/app:/bin/sh' >> /etc/passwd && mkdir -p /home/app
            USER app
            EXPOSE 3000
            ENV GREETING="hello world"
            CMD ["sh", "-c", "cat /app/server.js; echo $GREETING; id -u; pwd"]
            """,
        "package.json", "{\"name\":\"demo\"}\n",
        "server.js", "console.log('v1')\n"));
    Result first = build(ctx, "-t", "demo:1", "-t", "demo:latest").assertOk();
    String out = first.stdout();
    assertTrue(out.contains("Step 1/10 : FROM busybox"), out);
    assertTrue(out.contains("Step 4/10 : RUN echo \"installing $(cat package.json)\" &&"), out);
    assertTrue(out.contains("installing {\"name\":\"demo\"}"), "RUN output reaches the client: " + out);
    assertTrue(out.matches("(?s).* ---> Running in [0-9a-f]{12}\n.*"), out);
    assertTrue(out.contains("Removing intermediate container"), out);
    assertTrue(out.matches("(?s).*Successfully built [0-9a-f]{12}\nSuccessfully tagged demo:1\n"
        + "Successfully tagged demo:latest\n"), out);
    assertFalse(out.contains("Using cache"), out);
    assertNoContainers();

    assertEquals("console.log('v1')\nhello world\n1001\n/app\n", runOut("demo:1"));
    assertEquals("deps\n", runOut("demo:1", "cat", "/app/node_modules.txt"));
    assertEquals("[\"sh\",\"-c\",\"cat /app/server.js; echo $GREETING; id -u; pwd\"]",
        docker.run("inspect", "-f", "{{json .Config.Cmd}}", "demo:1").assertOk().out().trim());
    assertEquals("app|/app|{\"3000/tcp\":{}}", docker.run("inspect", "-f",
        "{{.Config.User}}|{{.Config.WorkingDir}}|{{json .Config.ExposedPorts}}", "demo:1").assertOk().out().trim());
    List<String> history = docker.run("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "demo:1")
        .assertOk().lines();
    assertTrue(history.get(0).startsWith("/bin/sh -c #(nop) CMD [\"sh\" \"-c\""), history.toString());
    assertTrue(history.get(0).endsWith("|0B"), history.toString());
    assertTrue(history.stream().anyMatch(h -> h.startsWith("/bin/sh -c echo 'app:x:1001:1001::/home/app:/bin/sh' >> /etc/passwd && mkdir -p /home/app|")), history.toString());
    assertTrue(history.stream().anyMatch(h -> h.matches("/bin/sh -c #\\(nop\\) COPY file:[0-9a-f]{64} in /app/ \\|.*")),
        history.toString());

    // unchanged: every step from the cache, the same image
    Result again = build(ctx, "-t", "demo:2").assertOk();
    String id1 = docker.run("inspect", "-f", "{{.Id}}", "demo:1").assertOk().out().trim();
    String id2 = docker.run("inspect", "-f", "{{.Id}}", "demo:2").assertOk().out().trim();
    assertEquals(id1, id2, again.stdout());
    assertEquals(9, count(again.stdout(), " ---> Using cache"), again.stdout());
    assertFalse(again.stdout().contains("Running in"), again.stdout());

    // a source file changes: the dependency step stays cached, the rest is rebuilt
    Files.writeString(ctx.resolve("server.js"), "console.log('v2')\n");
    Result third = build(ctx, "-t", "demo:3").assertOk();
    String t = third.stdout();
    assertEquals(3, count(t, " ---> Using cache"), t); // WORKDIR, COPY package.json, RUN install; not COPY . .
    assertTrue(t.substring(t.indexOf("Step 4/10"), t.indexOf("Step 5/10")).contains("Using cache"), t);
    assertTrue(t.substring(t.indexOf("Step 5/10")).contains("Running in"), t);
    assertTrue(runOut("demo:3").startsWith("console.log('v2')\n"));

    // --no-cache runs everything again
    Result fresh = build(ctx, "--no-cache", "-t", "demo:4").assertOk();
    assertEquals(0, count(fresh.stdout(), "Using cache"), fresh.stdout());
    assertNoContainers();

    // the cache survives a restart of the engine
    engine.restart();
    Result afterRestart = build(ctx, "-t", "demo:5").assertOk();
    assertEquals(9, count(afterRestart.stdout(), " ---> Using cache"), afterRestart.stdout());

    // intermediate images are hidden from `docker images` and go with the image they led to
    List<String> listed = docker.run("images", "--format", "{{.Repository}}:{{.Tag}}").assertOk().lines();
    assertFalse(listed.contains("<none>:<none>"), listed.toString());
  }

  private static int count(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }
}
