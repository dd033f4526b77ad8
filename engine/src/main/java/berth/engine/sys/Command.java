package berth.engine.sys;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a short-lived system tool (ip, iptables-restore, nsenter …) with a deadline; its output is kept. */
public final class Command {
  /** Reads the tools' outputs; daemon threads that go when idle. */
  private static final java.util.concurrent.ExecutorService DRAINERS =
      java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "command-output");
        t.setDaemon(true);
        return t;
      });

  private Command() {}

  /** The tool outlived its deadline (it was killed). */
  public static final class TimeoutException extends IOException {
    TimeoutException(String message) {
      super(message);
    }
  }

  /** What a finished command left: exit status and both outputs. */
  public record Result(int exit, String out, String err) {
    public boolean ok() {
      return exit == 0;
    }
  }

  /**
   * The tool on PATH, else in /usr/sbin, /sbin, /usr/bin or /bin (the JVM may run with a PATH without the
   * sbin directories); the bare name if none has it, so the error names it.
   */
  public static String find(String name) {
    String path = System.getenv("PATH");
    StringBuilder dirs = new StringBuilder(path == null ? "" : path);
    dirs.append(":/usr/sbin:/sbin:/usr/bin:/bin");
    for (String d : dirs.toString().split(":")) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, name))) {
        return Path.of(d, name).toString();
      }
    }
    return name;
  }

  /**
   * Runs argv with {@code stdin} (may be null), killing it after {@code timeoutMillis}: then
   * {@link TimeoutException}; an interrupt gives {@link java.io.InterruptedIOException}; a tool that cannot be
   * started gives ProcessBuilder's own IOException.
   */
  public static Result run(List<String> argv, byte[] stdin, long timeoutMillis) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(argv);
    if (stdin == null) {
      pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    }
    Process p = pb.start();
    CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()), DRAINERS);
    CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()), DRAINERS);
    if (stdin != null) {
      try (OutputStream o = p.getOutputStream()) {
        o.write(stdin);
      } catch (IOException e) {
        // the tool quit early: its exit status and stderr tell why
      }
    }
    try {
      if (!p.waitFor(timeoutMillis, TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new TimeoutException(argv.get(0) + " did not finish within " + timeoutMillis + " ms");
      }
      return new Result(p.exitValue(), new String(out.join(), StandardCharsets.UTF_8),
          new String(err.join(), StandardCharsets.UTF_8).trim());
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      java.io.InterruptedIOException x = new java.io.InterruptedIOException("interrupted while running " + argv.get(0));
      x.initCause(e);
      throw x;
    }
  }

  /** Runs argv and fails with its stderr unless it exits 0. */
  public static String check(List<String> argv, byte[] stdin, long timeoutMillis) throws IOException {
    Result r = run(argv, stdin, timeoutMillis);
    if (!r.ok()) {
      throw new IOException(String.join(" ", argv.subList(0, Math.min(argv.size(), 4))) + " failed (exit " + r.exit()
          + "): " + (r.err().isEmpty() ? r.out().trim() : r.err()));
    }
    return r.out();
  }

  private static byte[] drain(InputStream in) {
    try (in) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      in.transferTo(b);
      return b.toByteArray();
    } catch (IOException e) {
      return new byte[0];
    }
  }
}
