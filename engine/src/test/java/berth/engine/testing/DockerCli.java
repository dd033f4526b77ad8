package berth.engine.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Runs the real docker CLI ({@code /usr/local/bin/docker}, or {@code -Dberth.it.docker}) against an engine:
 * {@code DOCKER_HOST} set to it, {@code DOCKER_CLI_HINTS=false}, {@code DOCKER_BUILDKIT=0}, and a private
 * {@code DOCKER_CONFIG} temp dir, with a timeout (default 120 s). Also runs other commands (curl) the same way.
 * Close it to remove the config dir.
 */
public final class DockerCli implements AutoCloseable {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);
  private static final List<String> SCRUBBED_ENV = List.of("DOCKER_CONTEXT", "DOCKER_API_VERSION", "DOCKER_TLS_VERIFY",
      "DOCKER_CERT_PATH", "DOCKER_TLS", "DOCKER_DEFAULT_PLATFORM");

  private final String dockerHost;
  private final Path configDir;
  private final String docker;
  private Duration timeout = DEFAULT_TIMEOUT;
  /** The engine this talks to, if known: a timed-out command's failure then carries its thread dump. */
  private EngineProcess engine;

  /** What a command did. */
  public record Result(List<String> command, int exitCode, String stdout, String stderr) {
    /** Non-empty stdout lines, trailing whitespace removed. */
    public List<String> lines() {
      return stdout.lines().map(String::stripTrailing).filter(l -> !l.isEmpty()).toList();
    }

    public List<String> stderrLines() {
      return stderr.lines().map(String::stripTrailing).filter(l -> !l.isEmpty()).toList();
    }

    /** stdout without the trailing newline. */
    public String out() {
      return stdout.strip();
    }

    public boolean ok() {
      return exitCode == 0;
    }

    /** Fails unless the exit code is 0; returns this for chaining. */
    public Result assertOk() {
      if (exitCode != 0) {
        fail("expected success: " + this);
      }
      return this;
    }

    /** Fails unless the exit code is {@code code}. */
    public Result assertExit(int code) {
      if (exitCode != code) {
        fail("expected exit code " + code + ": " + this);
      }
      return this;
    }

    @Override
    public String toString() {
      return "`" + String.join(" ", command) + "` exited " + exitCode + "\n--- stdout ---\n" + abbreviate(stdout)
          + "\n--- stderr ---\n" + abbreviate(stderr);
    }

    private static String abbreviate(String s) {
      return s.length() > 8000 ? s.substring(0, 4000) + "\n[...]\n" + s.substring(s.length() - 4000) : s;
    }
  }

  public DockerCli(String dockerHost) throws IOException {
    this.dockerHost = dockerHost;
    this.configDir = Files.createTempDirectory("berth-docker-config-");
    this.docker = System.getProperty("berth.it.docker", "/usr/local/bin/docker");
    if (!Files.isExecutable(Path.of(docker))) {
      fail("the docker CLI is missing: " + docker + " (set -Dberth.it.docker=PATH)");
    }
  }

  public DockerCli(EngineProcess engine) throws IOException {
    this(engine.dockerHost());
    this.engine = engine;
  }

  /** Sets the timeout for later commands. */
  public DockerCli timeout(Duration t) {
    this.timeout = t;
    return this;
  }

  public Path configDir() {
    return configDir;
  }

  // ---- docker -----------------------------------------------------------------------------------

  /** {@code docker rm -f} of every container there is; the result of that rm (or of ps if there were none). */
  public Result removeAllContainers() {
    Result ps = run("ps", "-aq");
    if (!ps.ok() || ps.lines().isEmpty()) {
      return ps;
    }
    List<String> args = new java.util.ArrayList<>(List.of("rm", "-f"));
    args.addAll(ps.lines());
    return run(args.toArray(String[]::new));
  }

  /** {@code docker ARGS}. */
  public Result run(String... args) {
    return exec(dockerCommand(args), null, null, null, timeout);
  }

  /** {@code docker ARGS < stdin}. */
  public Result runWithStdin(Path stdin, String... args) {
    return exec(dockerCommand(args), stdin, null, null, timeout);
  }

  /** {@code docker ARGS}, these bytes on stdin. */
  public Result runWithStdin(byte[] stdin, String... args) {
    return exec(dockerCommand(args), null, stdin, null, timeout);
  }

  /** {@code docker ARGS > stdoutFile}; the result's stdout is empty. */
  public Result runToFile(Path stdoutFile, String... args) {
    return exec(dockerCommand(args), null, null, stdoutFile, timeout);
  }

  /** Any command (curl, ...) with the same environment. */
  public Result exec(List<String> command) {
    return exec(command, null, null, null, timeout);
  }

  private List<String> dockerCommand(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(docker);
    cmd.addAll(Arrays.asList(args));
    return cmd;
  }

  private void environment(ProcessBuilder pb) {
    Map<String, String> env = pb.environment();
    SCRUBBED_ENV.forEach(env::remove);
    env.put("DOCKER_HOST", dockerHost);
    env.put("DOCKER_CLI_HINTS", "false");
    env.put("DOCKER_CONFIG", configDir.toString());
    env.put("DOCKER_BUILDKIT", "0");
  }

  /** Runs a command; stdin from a file or bytes (else empty), stdout to a file or captured. */
  public Result exec(List<String> command, Path stdinFile, byte[] stdinBytes, Path stdoutFile, Duration limit) {
    Path out = null;
    Path err = null;
    try {
      out = stdoutFile != null ? null : Files.createTempFile(configDir, "out-", ".txt");
      err = Files.createTempFile(configDir, "err-", ".txt");
      ProcessBuilder pb = new ProcessBuilder(command);
      environment(pb);
      pb.redirectOutput(ProcessBuilder.Redirect.to((stdoutFile != null ? stdoutFile : out).toFile()));
      pb.redirectError(ProcessBuilder.Redirect.to(err.toFile()));
      if (stdinFile != null) {
        pb.redirectInput(ProcessBuilder.Redirect.from(stdinFile.toFile()));
      } else if (stdinBytes == null) {
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      }
      Process p = pb.start();
      Thread feeder = null;
      if (stdinBytes != null) {
        feeder = new Thread(() -> {
          try (OutputStream os = p.getOutputStream()) {
            os.write(stdinBytes);
          } catch (IOException e) {
            // the command stopped reading; its exit code tells
          }
        }, "docker-stdin");
        feeder.setDaemon(true);
        feeder.start();
      }
      if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        fail("`" + String.join(" ", command) + "` did not finish within " + limit + "\n--- stdout ---\n"
            + (out == null ? "(to " + stdoutFile + ")" : Files.readString(out)) + "\n--- stderr ---\n"
            + Files.readString(err) + (engine == null ? "" : "\n" + engine.diagnostics()));
      }
      if (feeder != null) {
        feeder.join(10_000);
      }
      return new Result(List.copyOf(command), p.exitValue(),
          out == null ? "" : Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("could not run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running " + command, e);
    } finally {
      try {
        if (out != null) {
          Files.deleteIfExists(out);
        }
        if (err != null) {
          Files.deleteIfExists(err);
        }
      } catch (IOException e) {
        // temp files in the config dir; removed on close
      }
    }
  }

  // ---- background -------------------------------------------------------------------------------

  /** Starts {@code docker ARGS} (e.g. {@code events --format ...}) in the background; read its lines, then stop it. */
  public Background background(String... args) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(dockerCommand(args));
    environment(pb);
    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    return new Background(pb.command(), pb.start());
  }

  /** A running command whose stdout lines are collected as they come. */
  public static final class Background implements AutoCloseable {
    private final List<String> command;
    private final Process process;
    private final LinkedBlockingQueue<String> pending = new LinkedBlockingQueue<>();
    private final List<String> seen = new ArrayList<>();
    private final StringBuilder stderr = new StringBuilder();
    private final Thread outReader;
    private final Thread errReader;

    Background(List<String> command, Process process) {
      this.command = List.copyOf(command);
      this.process = process;
      this.outReader = reader(process, true);
      this.errReader = reader(process, false);
    }

    private Thread reader(Process p, boolean out) {
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
            out ? p.getInputStream() : p.getErrorStream(), StandardCharsets.UTF_8))) {
          String line;
          while ((line = r.readLine()) != null) {
            if (out) {
              pending.add(line);
            } else {
              synchronized (stderr) {
                stderr.append(line).append('\n');
              }
            }
          }
        } catch (IOException e) {
          // the process went away
        }
      }, "docker-bg-" + (out ? "out" : "err"));
      t.setDaemon(true);
      t.start();
      return t;
    }

    /** The next line, or null if none arrives within {@code timeout}. */
    public String nextLine(Duration timeout) throws InterruptedException {
      String l = pending.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (l != null) {
        synchronized (seen) {
          seen.add(l);
        }
      }
      return l;
    }

    /** Reads lines until one matches; fails (listing what came) if none does within {@code timeout}. */
    public String awaitLine(Predicate<String> match, Duration timeout, String what) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      synchronized (seen) {
        for (String l : seen) {
          if (match.test(l)) {
            return l;
          }
        }
      }
      while (true) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          fail("`" + String.join(" ", command) + "` printed no line matching " + what + " within " + timeout
              + "; lines so far: " + lines() + "; alive: " + process.isAlive() + "; stderr: " + stderr());
        }
        String l = nextLine(Duration.ofNanos(left));
        if (l != null && match.test(l)) {
          return l;
        }
      }
    }

    /** Every line read so far (through nextLine/awaitLine), plus those waiting. */
    public List<String> lines() {
      List<String> all;
      synchronized (seen) {
        pending.drainTo(seen);
        all = List.copyOf(seen);
      }
      return all;
    }

    public String stderr() {
      synchronized (stderr) {
        return stderr.toString();
      }
    }

    public boolean isAlive() {
      return process.isAlive();
    }

    public Process process() {
      return process;
    }

    /** Stops the command (SIGTERM, then SIGKILL) and returns every line it printed. */
    public List<String> stop() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      outReader.join(5000);
      errReader.join(5000);
      return lines();
    }

    @Override
    public void close() throws InterruptedException {
      if (process.isAlive()) {
        stop();
      }
    }
  }

  @Override
  public void close() {
    try {
      EngineProcess.deleteTree(configDir);
    } catch (IOException e) {
      // a temp dir
    }
  }
}
