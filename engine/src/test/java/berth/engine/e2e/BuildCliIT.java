package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli.Result;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

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
class BuildCliIT extends BusyboxEngineCase {
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

    // each step's image names its history entry, as dockerd's history does for a classic build
    List<String> ids = docker.run("history", "-q", "demo:1").assertOk().lines();
    assertEquals(11, ids.size(), ids.toString()); // busybox's two entries + nine steps after FROM
    assertEquals(docker.run("inspect", "-f", "{{.Id}}", "demo:1").assertOk().out().substring(7, 19), ids.get(0));
    assertEquals(docker.run("inspect", "-f", "{{.Id}}", "busybox").assertOk().out().substring(7, 19), ids.get(9));
    assertEquals(List.of("<missing>"), ids.stream().filter(x -> !x.matches("[0-9a-f]{12}")).toList(), ids.toString());

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
    String parent = docker.run("inspect", "-f", "{{.Parent}}", "demo:1").assertOk().out().trim();
    assertTrue(parent.startsWith("sha256:"), parent);
    assertFalse(docker.run("images", "-q", "--no-trunc").assertOk().lines().contains(parent));
    assertTrue(docker.run("images", "-aq", "--no-trunc").assertOk().lines().contains(parent));
  }

  @Test
  void multiStageBuildCopiesOnlyTheArtifactWithOwnersModesAndBuildArgs() throws IOException {
    Path ctx = context(Map.of("Dockerfile", """
        ARG BASE=busybox
        FROM ${BASE} AS build
        ARG VERSION=0.0
        RUN mkdir -p /out && echo "app $VERSION" > /out/app.txt && echo junk > /out/junk
        FROM scratch AS final
        COPY --from=build /out/app.txt /app.txt
        FROM busybox
        COPY --from=final /app.txt /srv/
        COPY --from=0 --chown=1000:50 --chmod=640 /out/app.txt /srv/owned.txt
        CMD ["cat", "/srv/app.txt"]
        """));
    Result r = build(ctx, "--build-arg", "VERSION=1.2", "--build-arg", "UNUSED=x", "-t", "multi").assertOk();
    assertTrue(r.stdout().contains("Step 1/10 : ARG BASE=busybox"), r.stdout());
    assertTrue(r.stdout().contains("[Warning] One or more build-args [UNUSED] were not consumed"), r.stdout());
    assertEquals("app 1.2\n", runOut("multi"));
    assertEquals("1000:50 640 app 1.2", runOut("multi", "sh", "-c",
        "stat -c '%u:%g %a' /srv/owned.txt | tr -d '\\n'; echo -n ' '; cat /srv/owned.txt").trim());
    assertEquals("", runOut("multi", "sh", "-c", "ls /out 2>/dev/null || true"), "the build stage is not in the image");
    List<String> history = docker.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", "multi").assertOk().lines();
    assertTrue(history.stream().noneMatch(h -> h.contains("VERSION")), "only the last stage's steps: " + history);

    // --target stops at the named stage: an image of one layer holding only the artifact
    build(ctx, "--target", "final", "--build-arg", "VERSION=2.0", "-t", "artifact").assertOk();
    assertEquals("1", docker.run("inspect", "-f", "{{len .RootFS.Layers}}", "artifact").assertOk().out().trim());
    Path saved = fixtures.resolve("artifact.tar");
    docker.run("save", "-o", saved.toString(), "artifact").assertOk();
    assertEquals(List.of("app.txt"), layerEntries(saved), "the final stage holds the copied file alone");
    Result missing = build(ctx, "--target", "nosuch");
    assertEquals(1, missing.exitCode(), missing.toString());
    assertTrue(missing.stderr().contains("failed to reach build target nosuch in Dockerfile"), missing.stderr());

    // a changed build arg invalidates the RUN that sees it, not the steps before
    Result other = build(ctx, "--build-arg", "VERSION=1.3", "-t", "multi:1.3").assertOk();
    assertTrue(other.stdout().contains("Running in"), other.stdout());
    assertEquals("app 1.3\n", runOut("multi:1.3"));
    assertNoContainers();
  }

  /** The names in the only layer of a saved one-layer image. */
  private static List<String> layerEntries(Path saved) throws IOException {
    Path dir = Files.createTempDirectory(fixtures, "saved-");
    List<String> names = new java.util.ArrayList<>();
    try (var in = new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(Files.newInputStream(saved))) {
      for (TarArchiveEntry e; (e = in.getNextEntry()) != null; ) {
        if (e.isFile()) {
          Path f = dir.resolve(e.getName());
          Files.createDirectories(f.getParent());
          Files.copy(in, f);
        }
      }
    }
    String layer = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("manifest.json").toFile())
        .get(0).get("Layers").get(0).asText();
    try (var in = new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(
        Files.newInputStream(dir.resolve(layer)))) {
      for (TarArchiveEntry e; (e = in.getNextEntry()) != null; ) {
        names.add(e.getName());
      }
    }
    return names;
  }

  @Test
  void dockerignoreKeepsFilesOutOnTheClientAndInTheEngine() throws IOException {
    Map<String, String> files = Map.of(
        "Dockerfile", "FROM busybox\nCOPY . /ctx/\nCMD [\"sh\", \"-c\", \"cd /ctx && find . -type f | sort\"]\n",
        ".dockerignore", "# keep secrets and docs out\n.git\n.env*\n*.md\n!README.md\n**/*.log\n",
        ".git/HEAD", "ref: refs/heads/main\n",
        ".env", "SECRET=1\n",
        ".env.local", "SECRET=2\n",
        "README.md", "readme\n",
        "NOTES.md", "notes\n",
        "src/app.js", "app\n",
        "src/debug.log", "log\n");
    Path ctx = context(files);
    build(ctx, "-t", "ignored").assertOk();
    List<String> expected = List.of("./.dockerignore", "./Dockerfile", "./README.md", "./src/app.js");
    assertEquals(expected, docker.run("run", "--rm", "ignored").assertOk().lines());

    // a context tar on stdin reaches the engine as it is: the engine applies .dockerignore itself
    Path tar = fixtures.resolve("ignored-context.tar");
    try (TarArchiveOutputStream out = new TarArchiveOutputStream(Files.newOutputStream(tar))) {
      for (Map.Entry<String, String> f : new java.util.TreeMap<>(files).entrySet()) {
        byte[] b = f.getValue().getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry e = new TarArchiveEntry(f.getKey());
        e.setSize(b.length);
        e.setMode(0644);
        out.putArchiveEntry(e);
        out.write(b);
        out.closeArchiveEntry();
      }
    }
    docker.runWithStdin(tar, "build", "-t", "ignored2", "-").assertOk();
    assertEquals(expected, docker.run("run", "--rm", "ignored2").assertOk().lines());
  }

  @Test
  void dockerfileFlagStdinDockerfileAddOfATarLabelsQuietAndMetadata() throws IOException {
    Path ctx = context(Map.of(
        "docker/Dockerfile.dev", """
            FROM busybox
            LABEL org.example.team="the builders" version=1
            ADD bundle.tar.gz /opt/
            ADD plain.txt /opt/plain/
            COPY src/*.txt /opt/txt/
            COPY src /opt/srcdir
            COPY src/a.txt /opt/renamed.txt
            ENV DIR=/opt/bundle
            WORKDIR $DIR
            VOLUME /data
            STOPSIGNAL SIGINT
            HEALTHCHECK --interval=30s --retries=2 CMD true
            ENTRYPOINT ["cat"]
            CMD ["hello.txt"]
            ONBUILD RUN echo triggered > /triggered
            """,
        "plain.txt", "plain\n", "src/a.txt", "a\n", "src/b.txt", "b\n", "src/sub/c.md", "c\n"));
    try (OutputStream raw = Files.newOutputStream(ctx.resolve("bundle.tar.gz"));
        OutputStream gz = new java.util.zip.GZIPOutputStream(raw);
        TarArchiveOutputStream out = new TarArchiveOutputStream(gz)) {
      byte[] b = "from the archive\n".getBytes(StandardCharsets.UTF_8);
      TarArchiveEntry e = new TarArchiveEntry("bundle/hello.txt");
      e.setSize(b.length);
      e.setMode(0600);
      e.setIds(7, 8);
      out.putArchiveEntry(e);
      out.write(b);
      out.closeArchiveEntry();
    }
    Result q = build(ctx, "-q", "-f", ctx.resolve("docker/Dockerfile.dev").toString(), "--label", "built.by=berth", "-t", "meta").assertOk();
    String id = docker.run("inspect", "-f", "{{.Id}}", "meta").assertOk().out().trim();
    assertEquals(id + "\n", q.stdout(), "-q prints the image ID alone");
    assertEquals("from the archive\n", runOut("meta"), "ADD unpacks a local archive; WORKDIR and ENTRYPOINT apply");
    assertEquals("7:8 600|plain\n", docker.run("run", "--rm", "--entrypoint", "sh", "meta", "-c",
        "stat -c '%u:%g %a' hello.txt | tr -d '\\n'; echo -n '|'; cat /opt/plain/plain.txt").assertOk().stdout());
    assertEquals(List.of("/opt/renamed.txt", "/opt/srcdir/a.txt", "/opt/srcdir/b.txt", "/opt/srcdir/sub/c.md",
        "/opt/txt/a.txt", "/opt/txt/b.txt"), docker.run("run", "--rm", "--entrypoint", "sh", "meta", "-c",
        "find /opt/txt /opt/srcdir /opt/renamed.txt -type f | sort").assertOk().lines(),
        "wildcards; a directory's contents; a file renamed by a destination without '/'");
    String meta = docker.run("inspect", "-f", "{{json .Config.Labels}}|{{json .Config.Volumes}}|{{.Config.StopSignal}}"
        + "|{{json .Config.Healthcheck}}|{{json .Config.OnBuild}}|{{.Config.WorkingDir}}", "meta").assertOk().out().trim();
    assertEquals("{\"built.by\":\"berth\",\"org.example.team\":\"the builders\",\"version\":\"1\"}|{\"/data\":{}}|SIGINT"
        + "|{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":30000000000,\"Retries\":2}|[\"RUN echo triggered > /triggered\"]"
        + "|/opt/bundle", meta);

    // ONBUILD triggers run in the next build FROM it; a Dockerfile alone on stdin has an empty context
    Result child = docker.runWithStdin("FROM meta\nSHELL [\"/bin/sh\", \"-xc\"]\nRUN cat /triggered && ls /sys/class/net\n"
        .getBytes(StandardCharsets.UTF_8), "build", "--network", "none", "-t", "child", "-").assertOk();
    assertTrue(child.stdout().contains("# Executing 1 build trigger"), child.stdout());
    assertTrue(child.stdout().contains("\nlo\n") && !child.stdout().contains("eth0"), "RUN has --network none: " + child.stdout());
    assertTrue(child.stdout().contains("+ cat /triggered"), "RUN uses the SHELL: " + child.stdout());
    assertEquals("triggered\n", docker.run("run", "--rm", "--entrypoint", "cat", "child", "/triggered").assertOk()
        .stdout());
    assertEquals("null", docker.run("inspect", "-f", "{{json .Config.OnBuild}}", "child").assertOk().out().trim());
    assertNoContainers();
  }

  @Test
  void addFetchesUrlsWithoutUnpackingThem() throws IOException {
    byte[] tar = Files.readAllBytes(fixtures.resolve("busybox.tar"));
    com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/files/", x -> {
      if (x.getRequestURI().getPath().equals("/files/remote.tar")) {
        x.getResponseHeaders().add("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT");
        x.sendResponseHeaders(200, tar.length);
        x.getResponseBody().write(tar);
      } else {
        x.sendResponseHeaders(404, -1);
      }
      x.close();
    });
    server.start();
    try {
      String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/files/";
      Path ctx = context(Map.of("Dockerfile", "FROM busybox\nADD " + base + "remote.tar /dl/\n"));
      build(ctx, "-t", "fetched").assertOk();
      assertEquals(tar.length + " 600 1704067200\n", runOut("fetched", "stat", "-c", "%s %a %Y", "/dl/remote.tar"),
          "a fetched archive is a file (mode 0600, Last-Modified), not unpacked");
      Result cached = build(ctx, "-t", "fetched").assertOk();
      assertTrue(cached.stdout().contains("Using cache"), "the same download hits the cache: " + cached.stdout());

      Result missing = build(context(Map.of("Dockerfile", "FROM busybox\nADD " + base + "nope /x\n")));
      assertEquals(1, missing.exitCode(), missing.toString());
      assertTrue(missing.stderr().contains("ADD failed: invalid response status 404"), missing.stderr());
      assertNoContainers();
    } finally {
      server.stop(0);
    }
  }

  @Test
  void pruneAndRmiTakeBuildLeftoversButKeepTheCacheOfTaggedImages() throws IOException {
    Path kept = context(Map.of("Dockerfile", "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n"));
    build(kept, "-t", "kept").assertOk();
    Result failed = build(context(Map.of("Dockerfile", "FROM busybox\nRUN echo x > /x\nRUN exit 1\n")));
    assertEquals(1, failed.exitCode(), failed.toString());
    String leftover = failed.stdout().replaceAll("(?s).*Step 2/3 : RUN echo x > /x\n.* ---> ([0-9a-f]{12})\nStep 3/3.*",
        "$1");
    assertTrue(leftover.matches("[0-9a-f]{12}"), failed.stdout());
    assertTrue(docker.run("images", "-q", "--filter", "dangling=true").assertOk().lines().contains(leftover),
        "a failed build leaves its last step as a dangling image, as dockerd does");

    docker.run("image", "prune", "-f").assertOk();
    assertFalse(docker.run("images", "-aq").assertOk().lines().contains(leftover));
    Result again = build(kept, "-t", "kept").assertOk();
    assertEquals(2, count(again.stdout(), "Using cache"), "prune keeps the intermediate images of kept: "
        + again.stdout());

    String parent = docker.run("inspect", "-f", "{{.Parent}}", "kept").assertOk().out().trim();
    Result rmi = docker.run("rmi", "kept").assertOk();
    assertEquals(2, count(rmi.stdout(), "Deleted: sha256:"), "rmi takes the untagged parents along: " + rmi.stdout());
    assertTrue(rmi.stdout().contains("Deleted: " + parent), rmi.stdout());
    docker.run("inspect", "busybox").assertOk();
  }

  @Test
  void whatAnInterruptedBuildLeftIsUndoneAtTheNextStart() throws IOException, InterruptedException {
    // a COPY step cut short by a crash: its writable layer and its overlay mount under tmp/
    engine.stop();
    Path root = engine.dataRoot();
    Path lower;
    try (Stream<Path> layers = Files.list(root.resolve("layers"))) {
      lower = layers.filter(p -> p.getFileName().toString().matches("[0-9a-f]{64}")).findFirst().orElseThrow()
          .resolve("diff");
    }
    Path rw = Files.createDirectories(root.resolve("layers/rw/build-0123abcd"));
    Files.createDirectories(rw.resolve("diff"));
    Files.createDirectories(rw.resolve("work"));
    Path mnt = Files.createDirectories(root.resolve("tmp/build-crashed/mnt-build-0123abcd"));
    Process mount = new ProcessBuilder("mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + lower + ",upperdir="
        + rw.resolve("diff") + ",workdir=" + rw.resolve("work"), mnt.toString()).inheritIO().start();
    assertEquals(0, mount.waitFor());
    Files.writeString(mnt.resolve("half-copied.txt"), "x");
    long before;
    try (Stream<Path> files = Files.walk(lower)) {
      before = files.count();
    }

    engine.restart();
    String mounts = Files.readString(Path.of("/proc/self/mountinfo"));
    assertFalse(mounts.contains(root.resolve("tmp").toString() + "/"), "the step's mount is gone");
    assertFalse(Files.exists(rw), "the step's writable layer is gone");
    assertFalse(Files.exists(root.resolve("tmp/build-crashed")));
    try (Stream<Path> files = Files.walk(lower)) {
      assertEquals(before, files.count(), "the image's layer under the mount is untouched");
    }
    assertEquals("ok\n", docker.run("run", "--rm", "--network", "none", "busybox", "echo", "ok").assertOk().stdout());
  }

  @Test
  void badInputFailsClearlyAndLeavesNothingBehind() throws IOException {
    List<String> imagesBefore = docker.run("images", "-q", "--filter", "dangling=false").assertOk().lines();
    record Case(String dockerfile, Map<String, String> files, String expected) {}
    List<Case> cases = List.of(
        new Case("FROM busybox\nFOO bar\n", Map.of(), "dockerfile parse error on line 2: unknown instruction: FOO"),
        new Case("FROM busybox\nRUN echo one\nRUN exit 3\n", Map.of(),
            "The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
        new Case("FROM busybox\nCOPY ../x /x\n", Map.of(), "forbidden path outside the build context: ../x"),
        new Case("FROM busybox\nCOPY missing.txt /x\n", Map.of(),
            "file not found in build context or excluded by .dockerignore: stat missing.txt"),
        new Case("FROM busybox\nCOPY *.nope /x/\n", Map.of(), "no source files were specified"),
        new Case("FROM busybox\nCOPY --from=nosuch /a /b\n", Map.of(), "invalid from flag value nosuch"),
        // an image that is not present is pulled: here from a registry port nothing listens on
        new Case("FROM 127.0.0.1:1/nosuchimage:1.0\n", Map.of(), "dial tcp: connect: connection refused"),
        new Case("FROM busybox\nCOPY a.txt b.txt /dest\n", Map.of("a.txt", "a", "b.txt", "b"),
            "When using COPY with more than one source file, the destination must be a directory and end with a /"));
    for (Case c : cases) {
      Map<String, String> files = new java.util.HashMap<>(c.files());
      files.put("Dockerfile", c.dockerfile());
      Result r = build(context(files));
      // a failing RUN's exit code is the CLI's (dockerd's JSONError code); other failures exit 1
      assertEquals(c.expected().contains("non-zero code: 3") ? 3 : 1, r.exitCode(), r.toString());
      assertTrue(r.stderr().contains(c.expected()), c.expected() + "\n" + r);
      assertNoContainers();
    }
    // with -q the held-back output comes before the error, and the exit code is still the command's
    Result quiet = build(context(Map.of("Dockerfile", "FROM busybox\nRUN echo about to fail; exit 3\n")), "-q");
    assertEquals(3, quiet.exitCode(), quiet.toString());
    assertTrue(quiet.stderr().contains("about to fail"), "the CLI shows it on stderr: " + quiet);
    assertTrue(quiet.stderr().contains("returned a non-zero code: 3"), quiet.toString());
    // the error itself ends with the command's last output lines
    Result loud = build(context(Map.of("Dockerfile",
        "FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo out $i; done; echo oops >&2; exit 4\n")));
    assertEquals(4, loud.exitCode(), loud.toString());
    String err = loud.stderr();
    assertTrue(err.contains("returned a non-zero code: 4\nlast output:\n  out 4\n  out 5\n"), err);
    assertTrue(err.contains("  out 12\n  oops"), err);
    assertFalse(err.contains("  out 3\n"), "only the last ten lines: " + err);
    assertNoContainers();

    // a symlink in the context that points outside it
    Path ctx = context(Map.of("Dockerfile", "FROM busybox\nCOPY link /x\n"));
    Files.createSymbolicLink(ctx.resolve("link"), Path.of("/etc/hostname"));
    Result link = build(ctx);
    assertEquals(1, link.exitCode(), link.toString());
    assertTrue(link.stderr().contains("forbidden path outside the build context: link"), link.stderr());

    // a truncated context on stdin
    Path tar = fixtures.resolve("truncated.tar");
    try (TarArchiveOutputStream out = new TarArchiveOutputStream(Files.newOutputStream(tar))) {
      byte[] b = new byte[20_000];
      TarArchiveEntry e = new TarArchiveEntry("Dockerfile");
      e.setSize(b.length);
      out.putArchiveEntry(e);
      out.write(b);
      out.closeArchiveEntry();
    }
    byte[] whole = Files.readAllBytes(tar);
    Files.write(tar, java.util.Arrays.copyOf(whole, 5_000));
    Result truncated = docker.runWithStdin(tar, "build", "-");
    assertEquals(1, truncated.exitCode(), truncated.toString());
    assertTrue(truncated.stderr().contains("the build context is not a complete archive"), truncated.stderr());

    // a context whose symlink would lead a later entry outside it
    Path outside = Files.createTempDirectory(fixtures, "outside-");
    Path hostile = fixtures.resolve("hostile.tar");
    try (TarArchiveOutputStream out = new TarArchiveOutputStream(Files.newOutputStream(hostile))) {
      TarArchiveEntry l = new TarArchiveEntry("a", TarArchiveEntry.LF_SYMLINK);
      l.setLinkName(outside.toString());
      out.putArchiveEntry(l);
      out.closeArchiveEntry();
      byte[] b = "FROM busybox\n".getBytes(StandardCharsets.UTF_8);
      for (String name : List.of("a/pwned", "Dockerfile")) {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(b.length);
        out.putArchiveEntry(e);
        out.write(b);
        out.closeArchiveEntry();
      }
    }
    Result escape = docker.runWithStdin(hostile, "build", "-");
    assertEquals(1, escape.exitCode(), escape.toString());
    assertTrue(escape.stderr().contains("invalid archive: a/pwned goes through the symlink a"), escape.stderr());
    try (Stream<Path> written = Files.list(outside)) {
      assertEquals(List.of(), written.toList(), "nothing is written outside the context");
    }

    assertNoContainers();
    assertEquals(imagesBefore, docker.run("images", "-q", "--filter", "dangling=false").assertOk().lines(),
        "no image is tagged by a failed build");
    docker.run("version").assertOk();
    try (Stream<Path> left = Files.list(engine.dataRoot().resolve("tmp"))) {
      assertEquals(List.of(), left.toList(), "spooled contexts are removed");
    }
    Path rw = engine.dataRoot().resolve("layers/rw");
    if (Files.isDirectory(rw)) {
      try (Stream<Path> left = Files.list(rw)) {
        assertEquals(List.of(), left.toList(), "no writable layer is left");
      }
    }
  }

  private static int count(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }
}
