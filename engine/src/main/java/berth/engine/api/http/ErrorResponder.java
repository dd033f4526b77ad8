package berth.engine.api.http;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.io.IOException;
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

  static void respond(ApiRequest req, ApiResponse res, Throwable t) {
    int status = statusOf(t);
    if (EngineException.kindOf(t) == ErrorKind.SYSTEM) {
      LOG.log(Level.WARNING, req.method() + " " + req.path() + " failed", t);
    } else {
      LOG.fine(() -> req.method() + " " + req.path() + " -> " + status + ": " + t.getMessage());
    }
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
