package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
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
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorOutputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorOutputStream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The build cache through the docker CLI ({@code docker builder prune}, {@code docker system df}, {@code docker
 * system prune}) and ADD of xz and bzip2 archives.
 */
@Tag("root")
@Timeout(value = 240)
class BuildCacheCliIT extends BusyboxEngineCase {
  private static Result build(DockerCli d, Path ctx, String... extra) {
    List<String> args = new java.util.ArrayList<>(List.of("build", "--network", "none"));
    args.addAll(List.of(extra));
    args.add(ctx.toString());
    return d.run(args.toArray(String[]::new));
  }

  private static int count(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  /** The "Build Cache" line of {@code docker system df}: TOTAL|ACTIVE|SIZE|RECLAIMABLE. */
  private static String dfLine() {
    for (String l : docker.run("system", "df", "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}").assertOk().lines()) {
      if (l.startsWith("Build Cache|")) {
        return l.substring("Build Cache|".length());
      }
    }
    throw new AssertionError("no Build Cache line");
  }

  @Test
  void builderPruneFreesTheCacheSoTheNextBuildRunsItsStepsAgain() throws IOException {
    Path ctx = context(Map.of("Dockerfile", """
        FROM busybox
        RUN head -c 300000 /dev/zero > /zeros
        ENV STAGE=one
        COPY f.txt /f.txt
        RUN echo built > /built
        """, "f.txt", "f\n"));
    build(docker, ctx, "-t", "cached").assertOk();
    Result failed = build(docker, context(Map.of("Dockerfile",
        "FROM busybox\nRUN head -c 200000 /dev/zero > /left\nRUN exit 1\n")));
    assertEquals(1, failed.exitCode(), failed.toString());

    // the 3 untagged steps under cached + the failed build's first step; only that one's 200 kB are not also in
    // a tagged image
    String before = dfLine();
    assertTrue(before.matches("4\\|0\\|2\\d\\d\\.?\\d*kB\\|2\\d\\d\\.?\\d*kB"), before);
    Result v = docker.run("system", "df", "-v").assertOk();
    assertTrue(v.stdout().contains("Build cache usage: 2"), v.stdout());
    assertTrue(v.stdout().contains("regular"), v.stdout());

    // an intermediate image a container uses is in use: kept, and active in df
    String intermediate = docker.run("inspect", "-f", "{{.Parent}}", "cached").assertOk().out().trim();
    docker.run("create", "--name", "user", intermediate, "true").assertOk();
    assertTrue(dfLine().startsWith("4|1|"), dfLine());

    Result prune = docker.run("builder", "prune", "-f").assertOk();
    assertTrue(prune.stdout().contains("Deleted build cache objects:"), prune.stdout());
    assertEquals(3, count(prune.stdout(), "sha256:"), prune.stdout());
    assertTrue(prune.stdout().matches("(?s).*Total reclaimed space: 2\\d\\d\\.?\\d*kB.*"), prune.stdout());
    assertTrue(dfLine().startsWith("1|1|"), "only the used one is left: " + dfLine());
    docker.run("rm", "user").assertOk();
    docker.run("builder", "prune", "-f", "--all").assertOk();
    assertTrue(dfLine().startsWith("0|0|0B|0B"), dfLine());

    assertEquals("built\n", docker.run("run", "--rm", "cached", "cat", "/built").assertOk().stdout(),
        "the tagged image is whole");
    assertEquals("300000\n", docker.run("run", "--rm", "cached", "sh", "-c", "wc -c < /zeros").assertOk().stdout());
    docker.run("history", "cached").assertOk();
    Result again = build(docker, ctx, "-t", "cached").assertOk();
    assertEquals(0, count(again.stdout(), "Using cache"), "every step runs again: " + again.stdout());
    Result third = build(docker, ctx, "-t", "cached").assertOk();
    assertEquals(4, count(third.stdout(), "Using cache"), "and makes a new cache: " + third.stdout());

    // docker system prune takes the build cache too (and --filter until= keeps what is newer)
    docker.run("system", "prune", "-f", "--filter", "until=1h").assertOk();
    assertTrue(dfLine().startsWith("3|"), dfLine());
    Result sys = docker.run("system", "prune", "-f").assertOk();
    assertTrue(sys.stdout().contains("Deleted build cache objects:"), sys.stdout());
    assertTrue(dfLine().startsWith("0|"), dfLine());
    assertEquals(0, count(build(docker, ctx, "-t", "cached").assertOk().stdout(), "Using cache"));

    Result bad = docker.run("builder", "prune", "-f", "--filter", "bogus=1");
    assertEquals(1, bad.exitCode(), bad.toString());
    assertTrue(bad.stderr().contains("invalid filter 'bogus'"), bad.stderr());
  }

  @Test
  void aStepTakenFromTheCacheCountsAsAUseAndAnUntilPruneKeepsIt() throws Exception {
    Path ctx = context(Map.of("Dockerfile", "FROM busybox\nRUN echo one > /one\nLABEL stage=two\n"));
    build(docker, ctx, "-t", "reused").assertOk();
    String step = docker.run("inspect", "-f", "{{.Parent}}", "reused").assertOk().out().trim(); // the RUN step
    assertEquals("1", usage(step), "made once");
    Thread.sleep(3000);
    assertEquals(2, count(build(docker, ctx, "-t", "reused").assertOk().stdout(), "Using cache"));
    assertEquals("2", usage(step), "made, then taken from the cache");

    // used a moment ago: a prune of what was not used in the last 2 s keeps it, although it was made before that
    docker.run("builder", "prune", "-f", "--filter", "until=2s").assertOk();
    assertEquals("2", usage(step));
    assertEquals(2, count(build(docker, ctx, "-t", "reused").assertOk().stdout(), "Using cache"));
    Thread.sleep(3000);
    docker.run("builder", "prune", "-f", "--filter", "until=2s").assertOk();
    assertEquals(1, docker.run("image", "inspect", step).exitCode(), "not used for 3 s: pruned");
    assertEquals(0, count(build(docker, ctx, "-t", "reused").assertOk().stdout(), "Using cache"));
    docker.run("rmi", "reused").assertOk(); // the other test counts the cache from empty
    docker.run("builder", "prune", "-f", "--all").assertOk();
  }

  /** The USAGE column of {@code docker system df -v} for the build cache entry with this image ID. */
  private static String usage(String id) {
    String shortId = id.substring("sha256:".length(), "sha256:".length() + 12);
    for (String l : docker.run("system", "df", "-v").assertOk().lines()) {
      String[] f = l.trim().split("\\s{2,}");
      if (f.length == 7 && f[0].equals(shortId) && f[1].equals("regular")) {
        return f[5];
      }
    }
    throw new AssertionError("no build cache entry " + shortId + " in docker system df -v");
  }

  private static void archive(Path to, String name, byte[] content, java.util.function.Function<OutputStream,
      OutputStream> compress) throws IOException {
    try (OutputStream raw = Files.newOutputStream(to); OutputStream c = compress.apply(raw);
        TarArchiveOutputStream out = new TarArchiveOutputStream(c)) {
      TarArchiveEntry e = new TarArchiveEntry(name);
      e.setSize(content.length);
      e.setMode(0640);
      e.setIds(5, 6);
      out.putArchiveEntry(e);
      out.write(content);
      out.closeArchiveEntry();
    }
  }

  @Test
  void addUnpacksXzAndBzip2ArchivesAndCopiesOtherFiles() throws IOException {
    Path ctx = context(Map.of("Dockerfile", """
        FROM busybox
        ADD a.tar.xz b.tar.bz2 /unpacked/
        ADD notes.xz /copied/
        """));
    archive(ctx.resolve("a.tar.xz"), "from-xz.txt", "xz\n".getBytes(StandardCharsets.UTF_8), o -> {
      try {
        return new XZCompressorOutputStream(o);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    archive(ctx.resolve("b.tar.bz2"), "from-bz2.txt", "bz2\n".getBytes(StandardCharsets.UTF_8), o -> {
      try {
        return new BZip2CompressorOutputStream(o);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    try (OutputStream o = new XZCompressorOutputStream(Files.newOutputStream(ctx.resolve("notes.xz")))) {
      o.write("not a tar\n".getBytes(StandardCharsets.UTF_8));
    }
    build(docker, ctx, "-t", "unpacked").assertOk();
    assertEquals(List.of("5:6 640 /unpacked/from-bz2.txt bz2", "5:6 640 /unpacked/from-xz.txt xz", "/copied/notes.xz"),
        docker.run("run", "--rm", "unpacked", "sh", "-c", "for f in /unpacked/*; do echo $(stat -c '%u:%g %a' $f) $f "
            + "$(cat $f); done; ls /copied/*").assertOk().lines());
  }
}
