package berth.engine.api.http;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Turns a handler's failure into Docker's {@code {"message": ...}} reply with the status of its
 * {@link ErrorKind}. The one place errors become HTTP statuses. Stack traces are logged only for
 * failures nobody classified (500) and are never sent to the client.
 */
public final class ErrorResponder {
  private static final Logger LOG = Logger.getLogger(ErrorResponder.class.getName());

  private ErrorResponder() {}

  /** The HTTP status of a failure: the outermost classified exception in the cause chain wins; else 500. */
  public static int statusOf(Throwable t) {
    return EngineException.kindOf(t).httpStatus();
  }

  /** The message a client sees for a failure. */
  public static String messageOf(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof EngineException) {
        return c.getMessage();
      }
    }
    String m = t.getMessage();
    return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
  }

  /**
   * The failure as the last message of a JSON stream that has already begun (dockerd's
   * streamformatter.FormatError): {@code {"errorDetail":{"message":m},"error":m}}. Logs it like
   * {@link #respond} does.
   */
  public static Map<String, Object> inBand(String what, Throwable t) {
    log(what, t);
    String msg = messageOf(t);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("errorDetail", Map.of("message", msg));
    m.put("error", msg);
    return m;
  }

  /** Logs the stack trace of a failure nobody classified (500); classified ones only at FINE. */
  private static void log(String what, Throwable t) {
    if (EngineException.kindOf(t) == ErrorKind.SYSTEM) {
      LOG.log(Level.WARNING, what + " failed", t);
    } else {
      LOG.fine(() -> what + " -> " + statusOf(t) + ": " + t.getMessage());
    }
  }

  static void respond(ApiRequest req, ApiResponse res, Throwable t) {
    int status = statusOf(t);
    log(req.method() + " " + req.path(), t);
    if (res.committed()) {
      return; // a streaming handler reports its own errors in-band; nothing more can be said here
    }
    try {
      if (status == 304) {
        res.empty(304);
      } else {
        res.json(status, Map.of("message", messageOf(t)));
      }
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.FINE, "could not send error reply", e);
    }
  }
}
