package berth.engine.runtime;

import berth.engine.errdefs.EngineException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Launches {@code berth-mon}, the per-container monitor (engine/src/main/c/berth-mon.c), and talks to it.
 * The monitor runs {@code runc create} (or {@code runc exec}), keeps the process's stdio, log and terminal,
 * reaps it and records its exit in its directory; it outlives the engine. Its directory holds:
 * {@code attach} (socket, stdcopy frames both ways), {@code exit} (the exit code, written last),
 * {@code oom}, {@code mon.pid}, {@code pid}, {@code monitor.log}.
 */
public final class Monitor {
  /** Client-to-monitor frame types; the monitor sends Stdcopy STDOUT (1) and STDERR (2). */
  static final int STDIN = 0;
  static final int RESIZE = 5;
  static final int MUTE = 6;
  static final int START = 7;
  /** How long a monitor may take from launch to the created process before it is killed. */
  private static final long LAUNCH_TIMEOUT_SECONDS = 120;

  private final Path binary;
  private final Runc runc;

  public Monitor(Path binary, Runc runc) {
    this.binary = binary;
    this.runc = runc;
  }

  /**
   * The monitor binary: the {@code berth.monitor} system property, else {@code berth-mon} next to the
   * engine's jar (a checkout's engine/target), else /usr/libexec/berth/berth-mon.
   */
  public static Path find() {
    String prop = System.getProperty("berth.monitor");
    if (prop != null && !prop.isEmpty()) {
      return Path.of(prop);
    }
    try {
      Path jar = Path.of(Monitor.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      Path near = jar.getParent().resolve("berth-mon");
      if (Files.isExecutable(near)) {
        return near;
      }
    } catch (java.net.URISyntaxException | RuntimeException e) {
      // fall through
    }
    return Path.of("/usr/libexec/berth/berth-mon");
  }

  /**
   * What to run.
   *
   * @param id the runc container ID
   * @param dir the monitor's directory (exists, empty; for a container also the runc bundle)
   * @param execProcess for an exec: the OCI process JSON to run in the running container {@code id}; else null,
   *     and the container is created and started in one step ({@code runc run -d})
   * @param logPath the json-file log, or null for none
   * @param oomFile the memcg file whose {@code oom_kill} counter tells an OOM kill, or null
   * @param waitAttach start the process only once this many clients are attached ({@link #launch}'s onReady
   *     connects them); 0 for none
   * @param waitStart start the process only after {@link #launch}'s onReady has run (it connects whoever
   *     should see the first output), however many clients it connected
   */
  public record Options(String id, Path dir, Path execProcess, boolean tty, boolean stdin, Path logPath,
      long logMaxSize, int logMaxFile, Path oomFile, int waitAttach, boolean waitStart) {}

  /**
   * Runs the monitor and waits until the process runs (a container: created and started; an exec). {@code onReady} runs once the attach socket listens, before runc runs. Returns the pid.
   *
   * @throws EngineException INVALID_PARAMETER with runc's message when runc refuses the process, as dockerd
   *     reports OCI runtime errors; UNAVAILABLE when the monitor cannot run
   */
  public long launch(Options o, Consumer<Path> onReady) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(binary.toString(), "--id", o.id(), "--runc", runc.binary().toString(),
        "--runc-root", runc.root().toString(), "--bundle", o.dir().toString(), "--dir", o.dir().toString()));
    if (o.execProcess() != null) {
      cmd.addAll(List.of("--exec", o.execProcess().toString()));
    } else {
      cmd.add("--run");
    }
    if (o.tty()) {
      cmd.add("--tty");
    }
    if (o.stdin()) {
      cmd.add("--stdin");
    }
    if (o.logPath() != null) {
      cmd.addAll(List.of("--log-driver", "json-file", "--log-path", o.logPath().toString(), "--log-max-size",
          Long.toString(o.logMaxSize()), "--log-max-file", Integer.toString(o.logMaxFile())));
    }
    if (o.oomFile() != null) {
      cmd.addAll(List.of("--oom-file", o.oomFile().toString()));
    }
    if (o.waitAttach() > 0) {
      cmd.add("--wait-attach=" + o.waitAttach());
    }
    if (o.waitStart()) {
      cmd.add("--wait-start");
    }
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
          .redirectError(ProcessBuilder.Redirect.appendTo(o.dir().resolve("monitor.log").toFile())).start();
    } catch (IOException e) {
      throw EngineException.unavailable("cannot run the container monitor %s: %s", binary, e.getMessage());
    }
    // A monitor that never reports (runc hung, a client never came) is killed: its pipe then ends.
    java.util.concurrent.CompletableFuture<Void> synced = new java.util.concurrent.CompletableFuture<>();
    synced.completeOnTimeout(null, LAUNCH_TIMEOUT_SECONDS, java.util.concurrent.TimeUnit.SECONDS)
        .thenRun(() -> kill(o.dir()));
    boolean ok = false;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.equals("ready")) {
          if (onReady != null) {
            onReady.accept(o.dir());
          }
          if (o.waitStart()) {
            try (Attachment a = attach(o.dir(), true)) {
              a.send(START, new byte[0], 0, 0);
            }
          }
        } else if (line.startsWith("pid ")) {
          ok = true;
          return Long.parseLong(line.substring(4).trim());
        } else if (line.startsWith("error ")) {
          throw runtimeError(line.substring(6), o.execProcess() != null);
        }
      }
    } finally {
      synced.cancel(false);
      if (!ok) {
        kill(o.dir()); // a monitor left waiting (an onReady that threw, a failed start frame) must not linger
      }
    }
    String log = "";
    try {
      log = Files.readString(o.dir().resolve("monitor.log"), StandardCharsets.UTF_8).trim();
    } catch (NoSuchFileException e) {
      // nothing logged
    }
    throw EngineException.unavailable("the container monitor exited before the process was created%s",
        log.isEmpty() ? "" : ": " + log);
  }

  /** dockerd's wording for runtime failures, and its status: 400 when the command cannot be run. */
  static EngineException runtimeError(String msg, boolean exec) {
    String m = exec ? "OCI runtime exec failed: " + msg + ": unknown"
        : "failed to create task for container: OCI runtime create failed: " + msg + ": unknown";
    if (!exec && msg.toLowerCase(java.util.Locale.ROOT).contains("not a directory")) {
      // a bind of a file over a directory or the reverse: dockerd adds this hint (daemon/errors.go)
      m += ": Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path "
          + "exists and is the expected type";
    }
    return new EngineException(berth.engine.errdefs.ErrorKind.INVALID_PARAMETER, m);
  }

  /** The recorded exit code, or -1 while the process runs. */
  public static int exitCode(Path dir) throws IOException {
    try {
      return Integer.parseInt(Files.readString(dir.resolve("exit"), StandardCharsets.UTF_8).trim());
    } catch (NoSuchFileException e) {
      return -1;
    } catch (NumberFormatException e) {
      return 255;
    }
  }

  /** Whether the memory cgroup OOM-killed something of the process. */
  public static boolean oomKilled(Path dir) {
    return Files.exists(dir.resolve("oom"));
  }

  /** Kills the monitor of this directory, if it is alive (it never runs runc after that). */
  public static void kill(Path dir) {
    monitor(dir).ifPresent(ProcessHandle::destroyForcibly);
  }

  /** Whether the monitor of this directory is alive. */
  public static boolean alive(Path dir) {
    return monitor(dir).isPresent();
  }

  /** The live berth-mon process whose pid {@code mon.pid} holds. */
  private static java.util.Optional<ProcessHandle> monitor(Path dir) {
    try {
      long pid = Long.parseLong(Files.readString(dir.resolve("mon.pid"), StandardCharsets.UTF_8).trim());
      return ProcessHandle.of(pid).filter(h -> h.isAlive()
          && h.info().command().map(c -> c.endsWith("berth-mon")).orElse(true));
    } catch (IOException | NumberFormatException e) {
      return java.util.Optional.empty();
    }
  }

  /** Opens an attach connection; a muted one receives no output (for control messages). */
  public static Attachment attach(Path dir, boolean muted) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(dir.resolve("attach")));
      Attachment a = new Attachment(ch);
      if (muted) {
        a.send(MUTE, new byte[0], 0, 0);
      }
      return a;
    } catch (IOException e) {
      ch.close();
      throw e;
    }
  }

  /** Resizes the process's terminal. */
  public static void resize(Path dir, int rows, int cols) throws IOException {
    try (Attachment a = attach(dir, true)) {
      a.send(RESIZE, new byte[] {(byte) (rows >> 8), (byte) rows, (byte) (cols >> 8), (byte) cols}, 0, 4);
    }
  }

  /** One connection to the monitor's attach socket. Reads from one thread, writes from another. */
  public static final class Attachment implements AutoCloseable {
    private final SocketChannel ch;
    private final ByteBuffer head = ByteBuffer.allocate(8);

    Attachment(SocketChannel ch) {
      this.ch = ch;
    }

    /** Sends stdin bytes. */
    public void stdin(byte[] b, int off, int len) throws IOException {
      send(STDIN, b, off, len);
    }

    /** Closes the process's stdin. */
    public void closeStdin() throws IOException {
      send(STDIN, new byte[0], 0, 0);
    }

    synchronized void send(int type, byte[] b, int off, int len) throws IOException {
      ByteBuffer h = ByteBuffer.allocate(8);
      h.put((byte) type).put((byte) 0).put((byte) 0).put((byte) 0).putInt(len).flip();
      ByteBuffer[] bufs = {h, ByteBuffer.wrap(b, off, len)};
      while (h.hasRemaining() || bufs[1].hasRemaining()) {
        ch.write(bufs);
      }
    }

    /**
     * The next output frame as {@code [stream][0 0 0][len]} + payload in one buffer (Docker's stdcopy frame,
     * ready to forward), or null at the end (the process exited and its output was delivered).
     */
    public ByteBuffer read() throws IOException {
      head.clear();
      if (!fill(head)) {
        return null;
      }
      int len = head.getInt(4);
      ByteBuffer frame = ByteBuffer.allocate(8 + len);
      frame.put(head.flip());
      if (!fill(frame)) {
        return null;
      }
      return frame.flip();
    }

    private boolean fill(ByteBuffer b) throws IOException {
      while (b.hasRemaining()) {
        if (ch.read(b) < 0) {
          return false;
        }
      }
      return true;
    }

    @Override
    public void close() throws IOException {
      ch.close();
    }
  }
}
