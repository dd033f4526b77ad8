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

  /** The module's own build of the berth CLI, as a command line. */
  static List<String> berth(Path module, List<String> args) {
    return berth(module.resolve("target/berth-desktop.jar"), module.resolve("target/lib"), args);
  }

  /** The berth CLI in {@code jar} with the libraries in {@code lib}, run by this test's JVM, as a command line. */
  static List<String> berth(Path jar, Path lib, List<String> args) {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        jar + ":" + lib + "/*", BerthCli.class.getName()));
    cmd.addAll(args);
    return cmd;
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
        return new Result(cmd, -1, Files.readString(out), "timed out; " + Files.readString(err));
      }
      return new Result(cmd, p.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
