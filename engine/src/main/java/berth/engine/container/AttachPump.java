package berth.engine.container;

import berth.engine.api.http.Hijacked;
import berth.engine.errdefs.EngineException;
import berth.engine.runtime.Monitor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Joins a hijacked client connection to a monitor's attach socket: output frames go to the client (as
 * stdcopy frames, or raw with a tty), the client's bytes go to the process's stdin until the detach keys
 * are typed. The monitor's frames already have Docker's stdcopy header, so they are forwarded as they are.
 */
final class AttachPump {
  private static final Logger LOG = Logger.getLogger(AttachPump.class.getName());
  static final byte[] DEFAULT_DETACH_KEYS = {16, 17}; // ctrl-p, ctrl-q

  /**
   * What the client asked for.
   *
   * @param closeStdinAtEof close the process's stdin when the client ends its input (StdinOnce)
   */
  record Options(boolean tty, boolean stdout, boolean stderr, boolean stdin, boolean closeStdinAtEof,
      byte[] detachKeys) {}

  private AttachPump() {}

  /**
   * Pumps until the process's output ends, the client hangs up, or the client detaches; then runs
   * {@code beforeClose} (so that, e.g., an exec's exit code is recorded before the client asks for it) and
   * closes the connection. Blocks the calling thread; stdin is copied on a second thread.
   */
  static void run(Monitor.Attachment a, Hijacked h, Options o, Runnable beforeClose) {
    Thread in = null;
    if (o.stdin()) {
      in = new Thread(() -> copyStdin(h.in(), a, o), "attach-stdin");
      in.setDaemon(true);
      in.start();
    }
    h.clientGone().thenRun(() -> closeQuietly(a));
    OutputStream out = h.out();
    try {
      for (ByteBuffer f = a.read(); f != null; f = a.read()) {
        int stream = f.get(0);
        if (stream == 1 && !o.stdout() || stream == 2 && !o.stderr()) {
          continue;
        }
        if (o.tty()) {
          out.write(f.array(), 8, f.limit() - 8);
        } else {
          out.write(f.array(), 0, f.limit());
        }
      }
      if (beforeClose != null) {
        beforeClose.run();
      }
    } catch (IOException e) {
      LOG.log(Level.FINE, "attach ended", e); // client gone or detached
    } finally {
      closeQuietly(a);
      h.close();
      if (in != null) {
        in.interrupt();
      }
    }
  }

  private static void copyStdin(InputStream in, Monitor.Attachment a, Options o) {
    byte[] keys = o.tty() ? o.detachKeys() : new byte[0]; // dockerd detaches only with a tty
    byte[] buf = new byte[32 * 1024];
    java.io.ByteArrayOutputStream pass = new java.io.ByteArrayOutputStream();
    int matched = 0; // bytes of the detach sequence seen so far, held back
    try {
      for (int n; (n = in.read(buf)) >= 0; ) {
        pass.reset();
        for (int i = 0; i < n; i++) {
          byte b = buf[i];
          if (keys.length > 0 && b == keys[matched]) {
            if (++matched == keys.length) {
              if (pass.size() > 0) {
                a.stdin(pass.toByteArray(), 0, pass.size());
              }
              a.close(); // detach: the process keeps running
              return;
            }
            continue;
          }
          if (matched > 0) {
            pass.write(keys, 0, matched); // not the sequence after all: ordinary input
            matched = 0;
            if (b == keys[0]) {
              matched = 1;
              continue;
            }
          }
          pass.write(b);
        }
        if (pass.size() > 0) {
          a.stdin(pass.toByteArray(), 0, pass.size());
        }
      }
      if (o.closeStdinAtEof()) {
        a.closeStdin();
      }
    } catch (IOException e) {
      LOG.log(Level.FINE, "attach stdin ended", e);
    }
  }

  private static void closeQuietly(Monitor.Attachment a) {
    try {
      a.close();
    } catch (IOException ignored) {
      // closing
    }
  }

  /** Docker's detach key syntax: "ctrl-p,ctrl-q", "a,ctrl-@"; INVALID_PARAMETER when malformed. */
  static byte[] parseDetachKeys(String spec) {
    if (spec == null || spec.isEmpty()) {
      return DEFAULT_DETACH_KEYS;
    }
    String[] parts = spec.split(",");
    byte[] out = new byte[parts.length];
    for (int i = 0; i < parts.length; i++) {
      String p = parts[i].trim();
      String l = p.toLowerCase(Locale.ROOT);
      if (p.length() == 1) {
        out[i] = (byte) p.charAt(0);
      } else if (l.startsWith("ctrl-") && l.length() == 6) {
        char c = l.charAt(5);
        if (c >= 'a' && c <= 'z') {
          out[i] = (byte) (c - 'a' + 1);
        } else if ("@[\\]^_".indexOf(c) >= 0) {
          out[i] = (byte) ("@[\\]^_".indexOf(c) == 0 ? 0 : 27 + "[\\]^_".indexOf(c));
        } else {
          throw EngineException.invalid("Invalid detach keys (%s) provided", spec);
        }
      } else {
        throw EngineException.invalid("Invalid detach keys (%s) provided", spec);
      }
    }
    return out;
  }
}
