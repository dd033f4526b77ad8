package berth.desktop.cli;

import berth.engine.testing.DockerCli.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** How the machine ITs run commands: to their end, output captured, stdin empty, no inherited docker target. */
final class Commands {
  private Commands() {}

  /** This module's directory (Maven's basedir). */
  static final Path MODULE = Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
  /** The guest boot image the repository's script builds. */
  static final Path IMAGE = MODULE.resolve("../guest-agent/target/image").normalize();

  /**
   * For a machine IT's set-up: skips without root (fails if root was required), then builds the guest image with
   * the repository's own script (cached between runs, rebuilt when its inputs change).
   */
  static void requireRootAndImage() throws Exception {
    berth.engine.testing.RequiresRoot.check();
    Result build = exec(List.of("bash", MODULE.resolve("../guest-agent/image/build-boot.sh").normalize().toString(),
        IMAGE.toString()), Duration.ofSeconds(600), null, Map.of());
    org.junit.jupiter.api.Assertions.assertEquals(0, build.exitCode(), build.toString());
  }

  /** The module's own build of the berth CLI on Berth's home {@code berthHome} and {@link #IMAGE}, as a command line. */
  static List<String> berth(Path berthHome, String... args) {
    List<String> a = new ArrayList<>(List.of("--home", berthHome.toString(), "--image", IMAGE.toString()));
    a.addAll(List.of(args));
    return berth(MODULE.resolve("target/berth-desktop.jar"), MODULE.resolve("target/lib"), a);
  }

  /** The console log in a machine's directory, for a failure's message; "" if none. */
  static String console(Path machineDir) throws java.io.IOException {
    Path log = machineDir.resolve("console.log");
    return Files.exists(log) ? "\nconsole:\n" + Files.readString(log, java.nio.charset.StandardCharsets.ISO_8859_1) : "";
  }

  /** The berth CLI in {@code jar} with the libraries in {@code lib}, run by this test's JVM, as a command line. */
  static List<String> berth(Path jar, Path lib, List<String> args) {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        jar + ":" + lib + "/*", BerthCli.class.getName()));
    cmd.addAll(args);
    return cmd;
  }

  /** A command's output as text, whatever its bytes (a console log holds more than UTF-8). */
  private static String text(Path f) throws java.io.IOException {
    return new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * Runs {@code cmd} in {@code dir} (null: this one) with {@code env} added, DOCKER_HOST and DOCKER_CONTEXT removed;
   * killed after {@code limit}, which the result then says.
   */
  static Result exec(List<String> cmd, Duration limit, Path dir, Map<String, String> env) throws Exception {
    Path out = Files.createTempFile("berth-cmd-", ".out");
    Path err = Files.createTempFile("berth-cmd-", ".err");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      if (dir != null) {
        pb.directory(dir.toFile());
      }
      pb.environment().remove("DOCKER_HOST");
      pb.environment().remove("DOCKER_CONTEXT");
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        return new Result(cmd, -1, text(out), "timed out; " + text(err));
      }
      return new Result(cmd, p.exitValue(), text(out), text(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
