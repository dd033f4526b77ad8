package berth.desktop.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The docker CLI's context for Berth's socket, made and selected through the user's own {@code docker} command
 * (so it lands wherever that CLI keeps its contexts, {@code $DOCKER_CONFIG} included). Not thread-safe; each call
 * runs the CLI and waits for it.
 */
final class DockerContext {
  static final String NAME = "berth";
  private final String docker;

  DockerContext(String docker) {
    this.docker = docker;
  }

  /**
   * Creates the context {@link #NAME} for {@code socket}, or points the existing one at it; true if it now does,
   * false (with nothing changed) when there is no docker CLI on the PATH. Throws when the CLI refuses.
   */
  boolean ensure(Path socket) throws IOException {
    String host = "unix://" + socket;
    Run inspect = run("context", "inspect", NAME, "--format", "{{.Endpoints.docker.Host}}");
    if (inspect == null) {
      return false;
    }
    if (inspect.code == 0 && inspect.out.strip().equals(host)) {
      return true;
    }
    Run r = inspect.code == 0
        ? run("context", "update", NAME, "--docker", "host=" + host)
        : run("context", "create", NAME, "--description", "Berth", "--docker", "host=" + host);
    if (r.code != 0) {
      throw new IOException("docker context " + NAME + ": " + r.out.strip());
    }
    return true;
  }

  /** Makes {@link #NAME} the docker CLI's current context. Throws when the CLI refuses. */
  void use() throws IOException {
    Run r = run("context", "use", NAME);
    if (r == null || r.code != 0) {
      throw new IOException("docker context use " + NAME + ": " + (r == null ? "no docker CLI" : r.out.strip()));
    }
  }

  private record Run(int code, String out) {}

  /** Runs the CLI with {@code args}; null when it cannot be started (not installed). */
  private Run run(String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(docker));
    cmd.addAll(List.of(args));
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    } catch (IOException e) {
      return null;
    }
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("docker " + String.join(" ", args) + " did not finish within 30 s");
      }
      return new Run(p.exitValue(), out);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running docker", e);
    }
  }
}
