package berth.agent.sshd;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import org.apache.sshd.server.Environment;
import org.apache.sshd.server.Signal;
import org.apache.sshd.server.channel.ChannelSession;

/**
 * A guest process for an exec or shell request: {@code /bin/sh -c COMMAND} (or an interactive {@code /bin/sh})
 * with the channel's stdin, stdout, stderr and the process's exit status. When the client asked for a pty, the
 * process gets a real one through util-linux {@code script} (stdout and stderr then arrive merged, as over any
 * pty); without {@code script} it runs without one and says so on stderr. A client's window-change (a resized
 * terminal on the host) resizes that pty, so full-screen programs redraw at the new size.
 */
final class ProcessCommand extends StreamCommand {
  private static final Logger LOG = Logger.getLogger(ProcessCommand.class.getName());
  static final Path SCRIPT = Path.of("/usr/bin/script");
  private final String commandLine; // null: an interactive shell
  private Process process;

  ProcessCommand(String commandLine) {
    this.commandLine = commandLine;
  }

  /** The argv for {@code commandLine} (null: a shell), with a pty through {@code script} if {@code pty}. */
  static List<String> argv(String commandLine, boolean pty) {
    if (!pty) {
      return commandLine == null ? List.of("/bin/sh", "-i") : List.of("/bin/sh", "-c", commandLine);
    }
    // script runs its -c argument with $SHELL -c; the command itself travels in the environment, so no
    // quoting of it is needed. stty gives the pty the client's window size first.
    String inner = "stty cols \"${BERTH_COLUMNS:-80}\" rows \"${BERTH_LINES:-24}\" 2>/dev/null; "
        + (commandLine == null ? "exec /bin/sh -l" : "exec /bin/sh -c \"$BERTH_COMMAND\"");
    return List.of(SCRIPT.toString(), "-qfec", inner, "/dev/null");
  }

  @Override
  public void start(ChannelSession channel, Environment env) throws IOException {
    Map<String, String> clientEnv = env.getEnv();
    boolean wantPty = clientEnv.containsKey(Environment.ENV_TERM) && !env.getPtyModes().isEmpty();
    boolean pty = wantPty && Files.isExecutable(SCRIPT);
    ProcessBuilder pb = new ProcessBuilder(argv(commandLine, pty));
    pb.directory(Path.of("/").toFile());
    Map<String, String> pe = pb.environment();
    if (commandLine != null) {
      pe.put("BERTH_COMMAND", commandLine);
    }
    pe.put("SHELL", "/bin/sh");
    copy(clientEnv, pe, Environment.ENV_TERM, "TERM");
    copy(clientEnv, pe, Environment.ENV_COLUMNS, "BERTH_COLUMNS");
    copy(clientEnv, pe, Environment.ENV_LINES, "BERTH_LINES");
    copy(clientEnv, pe, "LANG", "LANG");
    process = pb.start();
    if (pty) {
      env.addSignalListener((ch, signal) -> resize(env.getEnv()), Signal.WINCH);
    }
    if (wantPty && !pty) {
      err.write(("berth-agent: no pty (" + SCRIPT + " is missing); running without one\n").getBytes(StandardCharsets.UTF_8));
      err.flush();
    }
    Thread o = daemon("exec-stdout", () -> pump(process.getInputStream(), out, false));
    Thread e = daemon("exec-stderr", () -> pump(process.getErrorStream(), err, false));
    daemon("exec-stdin", () -> pump(in, process.getOutputStream(), true));
    daemon("exec-wait", () -> {
      try {
        int status = process.waitFor();
        o.join();
        e.join();
        exit.onExit(status);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
      }
    });
  }

  /**
   * Gives the pty the window size the client now reports: {@code stty -F} on the terminal of script's child (the
   * kernel then signals its foreground process group, as a local terminal's resize does).
   */
  private void resize(Map<String, String> clientEnv) {
    String cols = clientEnv.get(Environment.ENV_COLUMNS);
    String rows = clientEnv.get(Environment.ENV_LINES);
    if (cols == null || rows == null || !cols.matches("\\d{1,5}") || !rows.matches("\\d{1,5}")) {
      return;
    }
    process.children().findFirst().ifPresent(shell -> {
      try {
        Path tty = Files.readSymbolicLink(Path.of("/proc", Long.toString(shell.pid()), "fd", "0"));
        if (tty.startsWith("/dev/pts/")) {
          new ProcessBuilder("stty", "-F", tty.toString(), "cols", cols, "rows", rows)
              .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        }
      } catch (IOException e) {
        LOG.fine("window change not applied: " + e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  private static void copy(Map<String, String> from, Map<String, String> to, String key, String as) {
    String v = from.get(key);
    if (v != null && !v.isEmpty()) {
      to.put(as, v);
    }
  }

  /** Copies until end of stream; closes {@code to} at the end when it is the process's stdin (its EOF). */
  private static void pump(InputStream from, OutputStream to, boolean closeAtEnd) {
    byte[] buf = new byte[16 * 1024];
    try {
      int n;
      while ((n = from.read(buf)) >= 0) {
        to.write(buf, 0, n);
        to.flush();
      }
    } catch (IOException e) {
      // the other end went away: the process's exit or the channel's close ends the command
    } finally {
      if (closeAtEnd) {
        try {
          to.close();
        } catch (IOException e) {
          // already gone
        }
      }
    }
  }

  @Override
  public void destroy(ChannelSession channel) {
    if (process != null && process.isAlive()) {
      LOG.fine("channel closed: killing " + (commandLine == null ? "shell" : commandLine));
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
  }
}
