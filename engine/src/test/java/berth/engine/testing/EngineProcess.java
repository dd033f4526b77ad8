package berth.engine.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The engine as a child process, for end-to-end tests: {@code java -cp target/berth-engine.jar:target/lib/*
 * berth.engine.EngineMain --data-root DIR --host unix://SOCK} on a fresh temp dir under /tmp, started and
 * waited for ({@code GET /_ping}, up to 30 s). Stdout and stderr go to {@link #log()}; failure messages
 * carry its tail. {@link #close()} sends SIGTERM, waits, then kills, and removes the temp dir it made
 * (keep it with {@code -Dberth.it.keep=true}).
 *
 * <pre>
 *   static EngineProcess engine;
 *   &#64;BeforeAll static void up() throws Exception { engine = EngineProcess.start(); }
 *   &#64;AfterAll static void down() { if (engine != null) engine.close(); }
 * </pre>
 */
public final class EngineProcess implements AutoCloseable {
  public static final Duration START_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
  static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-Xmx512m");

  private final Path workDir;
  private final Path dataRoot;
  private final boolean ownsDataRoot;
  private final Path socket;
  private final Path log;
  private final List<String> extraArgs;
  private Process process;
  private Integer lastExitCode;

  private EngineProcess(Path workDir, Path dataRoot, boolean ownsDataRoot, List<String> extraArgs) {
    this.workDir = workDir;
    this.dataRoot = dataRoot;
    this.ownsDataRoot = ownsDataRoot;
    this.socket = workDir.resolve("docker.sock");
    this.log = workDir.resolve("engine.log");
    this.extraArgs = List.copyOf(extraArgs);
    if (socket.toString().length() >= 100) {
      throw new IllegalStateException("socket path too long for a unix socket: " + socket);
    }
  }

  // ---- starting ---------------------------------------------------------------------------------

  /** An engine on a fresh data root. */
  public static EngineProcess start() throws IOException {
    return start(null, List.of());
  }

  /** An engine on a fresh data root with extra command-line arguments (e.g. {@code --config-file F}). */
  public static EngineProcess start(List<String> extraArgs) throws IOException {
    return start(null, extraArgs);
  }

  /** An engine on the given data root (null: a fresh one in the temp dir). */
  public static EngineProcess start(Path dataRoot) throws IOException {
    return start(dataRoot, List.of());
  }

  /**
   * An engine on {@code dataRoot} (null: a fresh {@code data} dir in the engine's temp dir, removed on
   * close; a given data root is never removed) with extra arguments, running and answering {@code /_ping}.
   */
  public static EngineProcess start(Path dataRoot, List<String> extraArgs) throws IOException {
    Path work = newWorkDir();
    boolean owns = dataRoot == null;
    EngineProcess e = new EngineProcess(work, owns ? work.resolve("data") : dataRoot.toAbsolutePath(), owns, extraArgs);
    try {
      e.launch();
      e.awaitReady();
    } catch (IOException | RuntimeException | Error ex) {
      e.close();
      throw ex;
    }
    return e;
  }

  /** What a run of the engine that ended by itself did. */
  public record Exited(int exitCode, String output) {}

  /**
   * Runs the engine expecting it to exit by itself (a refused start): returns its exit code and combined
   * output; fails if it is still running after {@code timeout} (it is killed then).
   */
  public static Exited runToExit(Path dataRoot, Path socket, List<String> extraArgs, Duration timeout)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("berth-engine-run-", ".log");
    try {
      List<String> cmd = command(dataRoot, socket, extraArgs);
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.to(out.toFile())).start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        fail("engine did not exit within " + timeout + " (expected a refused start): " + String.join(" ", cmd)
            + "\n--- output ---\n" + tail(out, 60));
      }
      return new Exited(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** A new temp dir under /tmp, short enough for a socket path. */
  /** Tears down an end-to-end test class: the CLI, then the engine, then its fixture files; nulls are skipped. */
  public static void closeAll(DockerCli docker, EngineProcess engine, Path fixtures) throws IOException {
    if (docker != null) {
      docker.close();
    }
    if (engine != null) {
      engine.close();
    }
    if (fixtures != null) {
      deleteTree(fixtures);
    }
  }

  public static Path newWorkDir() throws IOException {
    return Files.createTempDirectory(Path.of("/tmp"), "berth-e2e-");
  }

  /** The engine's jar, {@code target/berth-engine.jar} of the engine module; fails clearly if missing. */
  public static Path jar() {
    List<Path> candidates = new ArrayList<>();
    String basedir = System.getProperty("basedir");
    if (basedir != null) {
      candidates.add(Path.of(basedir, "target", "berth-engine.jar"));
    }
    candidates.add(Path.of("target", "berth-engine.jar"));
    candidates.add(Path.of("engine", "target", "berth-engine.jar"));
    for (Path c : candidates) {
      if (Files.isRegularFile(c)) {
        return c.toAbsolutePath().normalize();
      }
    }
    fail("the engine jar is missing (looked for " + candidates + " from " + Path.of("").toAbsolutePath()
        + "): build it first with `mvn -q -B -pl engine -DskipTests package`");
    throw new AssertionError("unreachable");
  }

  private static Path snapshot;

  /**
   * A private copy of the jar and its lib dir, taken once per test JVM: other builds in the same checkout
   * rewrite target/ while engines from it are running, and a JVM whose jar changes under it fails at random.
   */
  static synchronized Path engineJar() {
    if (snapshot != null) {
      return snapshot;
    }
    Path jar = jar();
    Path lib = jar.getParent().resolve("lib");
    if (!Files.isDirectory(lib)) {
      fail("the engine's runtime libraries are missing: " + lib + " (run `mvn -pl engine package`)");
    }
    try {
      Path dir = Files.createTempDirectory(Path.of("/tmp"), "berth-e2e-jar-");
      Files.createDirectory(dir.resolve("lib"));
      Files.copy(jar, dir.resolve(jar.getFileName()));
      Path monitor = jar.getParent().resolve("berth-mon"); // the engine looks for its monitor next to its jar
      if (Files.isExecutable(monitor)) {
        Files.copy(monitor, dir.resolve("berth-mon"), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
      }
      try (var ls = Files.list(lib)) {
        for (Path p : ls.toList()) {
          Files.copy(p, dir.resolve("lib").resolve(p.getFileName()));
        }
      }
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          deleteTree(dir);
        } catch (IOException e) {
          // a temp dir
        }
      }));
      snapshot = dir.resolve(jar.getFileName());
      return snapshot;
    } catch (IOException e) {
      throw new UncheckedIOException("could not copy the engine jar", e);
    }
  }

  /** The command line that runs the engine (a private copy of its jar) on {@code dataRoot} and {@code socket}. */
  public static List<String> command(Path dataRoot, Path socket, List<String> extraArgs) {
    Path jar = engineJar();
    Path lib = jar.getParent().resolve("lib");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(JVM_FLAGS);
    cmd.add("-cp");
    cmd.add(jar + ":" + lib + "/*");
    cmd.add("berth.engine.EngineMain");
    cmd.add("--data-root");
    cmd.add(dataRoot.toString());
    cmd.add("--host");
    cmd.add("unix://" + socket);
    cmd.addAll(extraArgs);
    return cmd;
  }

  private void launch() throws IOException {
    List<String> cmd = command(dataRoot, socket, extraArgs);
    Files.writeString(log, "$ " + String.join(" ", cmd) + "\n", StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    process = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    lastExitCode = null;
  }

  private void awaitReady() {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    String last = "no attempt";
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        fail("engine exited with code " + process.exitValue() + " before answering /_ping\n" + logTail());
      }
      if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
        try {
          String reply = rawGet("/_ping", Duration.ofSeconds(2));
          if (reply.startsWith("HTTP/1.1 200") && reply.endsWith("OK")) {
            return;
          }
          last = "reply: " + reply;
        } catch (IOException e) {
          last = e.toString();
        }
      }
      sleep(100);
    }
    fail("engine did not answer /_ping within " + START_TIMEOUT + " (last: " + last + ")\n" + logTail());
  }

  /**
   * A minimal {@code GET path} over the socket with {@code Connection: close}; returns the whole raw reply
   * (status line, headers, body). For readiness checks; tests use the docker CLI or curl.
   */
  public String rawGet(String path, Duration timeout) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    CompletableFuture<String> f = CompletableFuture.supplyAsync(() -> {
      try {
        ch.connect(UnixDomainSocketAddress.of(socket));
        ch.write(ByteBuffer.wrap(("GET " + path + " HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII)));
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        while (ch.read(buf) >= 0) {
          buf.flip();
          out.write(buf.array(), 0, buf.limit());
          buf.clear();
        }
        return out.toString(StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IOException("no complete reply to GET " + path + " within " + timeout);
    } catch (ExecutionException e) {
      Throwable c = e.getCause() instanceof UncheckedIOException u ? u.getCause() : e.getCause();
      throw c instanceof IOException io ? io : new IOException(c);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    } finally {
      ch.close();
    }
  }

  // ---- accessors --------------------------------------------------------------------------------

  public Path socket() {
    return socket;
  }

  public Path dataRoot() {
    return dataRoot;
  }

  /** {@code unix:///path/to/docker.sock}, for DOCKER_HOST. */
  public String dockerHost() {
    return "unix://" + socket;
  }

  /** The file holding the engine's stdout and stderr (appended to across restarts). */
  public Path log() {
    return log;
  }

  /** The temp dir holding the socket and log (and the data root unless one was given). */
  public Path workDir() {
    return workDir;
  }

  public long pid() {
    return process.pid();
  }

  public Process process() {
    return process;
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** The exit code of the last stop, or null while running / never stopped. */
  public Integer lastExitCode() {
    return lastExitCode;
  }

  /** The last lines of the log, headed for a failure message. */
  public String logTail() {
    return "--- engine log " + log + " (tail) ---\n" + tail(log, 80);
  }

  /** Asks the engine for a thread dump (SIGQUIT, into the log) and returns the log tail: for hangs. */
  public String diagnostics() {
    if (process != null && process.isAlive()) {
      try {
        new ProcessBuilder("kill", "-QUIT", Long.toString(process.pid())).start().waitFor(5, TimeUnit.SECONDS);
        Thread.sleep(500);
      } catch (IOException | InterruptedException e) {
        // best effort
      }
    }
    return "--- engine log " + log + " (tail, after a thread dump) ---\n" + tail(log, 400);
  }

  /** Copies the log to target/e2e-logs/ of the engine module, so it outlives the temp dir. */
  private void keepLog() {
    try {
      Path dir = jar().getParent().resolve("e2e-logs");
      Files.createDirectories(dir);
      if (Files.exists(log)) {
        Files.copy(log, dir.resolve(workDir.getFileName() + ".log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException | RuntimeException | AssertionError e) {
      // only a diagnostic
    }
  }

  static String tail(Path file, int lines) {
    try {
      List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(log unreadable: " + e + ")";
    }
  }

  // ---- stopping ---------------------------------------------------------------------------------

  /**
   * Sends SIGTERM and waits up to {@code timeout}; returns the exit code, or null if the engine was still
   * running then (it is left running: the caller decides).
   */
  public Integer terminate(Duration timeout) throws InterruptedException {
    if (process == null) {
      return lastExitCode;
    }
    process.destroy(); // SIGTERM
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      return null;
    }
    lastExitCode = process.exitValue();
    return lastExitCode;
  }

  /** SIGTERM, wait {@link #STOP_TIMEOUT}, then SIGKILL. Returns the exit code. */
  public int stop() {
    if (process == null) {
      return lastExitCode == null ? -1 : lastExitCode;
    }
    try {
      Integer code = terminate(STOP_TIMEOUT);
      if (code == null) {
        process.destroyForcibly();
        process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        lastExitCode = process.isAlive() ? -1 : process.exitValue();
        appendLog("[EngineProcess] engine did not stop on SIGTERM within " + STOP_TIMEOUT + "; killed");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
    return lastExitCode == null ? -1 : lastExitCode;
  }

  /** Stops the engine (SIGTERM) and starts it again on the same data root, socket and arguments. */
  public void restart() throws IOException {
    stop();
    appendLog("[EngineProcess] restart (previous exit code " + lastExitCode + ")");
    launch();
    awaitReady();
  }

  private void appendLog(String line) {
    try {
      Files.writeString(log, line + "\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
    } catch (IOException e) {
      // only a diagnostic
    }
  }

  /** The engine's exec root (sockets and run state of containers), derived from the data root. */
  public Path execRoot() {
    return Path.of(berth.engine.config.ConfigLoader.defaultExecRoot(dataRoot.toString()));
  }

  /** Removes the exec root unless something is still mounted under it (that is reported: a leak). */
  private void removeExecRoot() {
    Path x = execRoot();
    try {
      if (!Files.exists(x)) {
        return;
      }
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        if (line.contains(" " + x + "/")) {
          System.err.println("[EngineProcess] not removing " + x + ": still mounted: " + line);
          return;
        }
      }
      deleteTree(x);
    } catch (IOException e) {
      System.err.println("[EngineProcess] could not remove " + x + ": " + e);
    }
  }

  /** Stops the engine and removes the temp dir (and the data root if this made it). */
  @Override
  public void close() {
    if (process != null && process.isAlive()) {
      stop();
    }
    keepLog();
    if (Boolean.getBoolean("berth.it.keep")) {
      System.err.println("[EngineProcess] keeping " + workDir + " (berth.it.keep)");
      return;
    }
    removeExecRoot();
    try {
      if (!ownsDataRoot) {
        Files.deleteIfExists(socket);
        Files.deleteIfExists(log);
        Files.deleteIfExists(workDir);
      } else {
        deleteTree(workDir);
      }
    } catch (IOException e) {
      System.err.println("[EngineProcess] could not remove " + workDir + ": " + e);
    }
  }

  /** Deletes a tree without following symlinks (hostile layers hold links to / and /etc). */
  public static void deleteTree(Path top) throws IOException {
    if (!Files.exists(top, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Files.walkFileTree(top, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.deleteIfExists(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
        if (e instanceof NoSuchFileException) {
          return FileVisitResult.CONTINUE;
        }
        throw e;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        Files.deleteIfExists(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  @Override
  public String toString() {
    return "EngineProcess[pid=" + (process == null ? "-" : process.pid()) + ", dataRoot=" + dataRoot
        + ", socket=" + socket + "]";
  }
}
