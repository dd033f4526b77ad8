package berth.engine.errdefs;

/**
 * An error the client should see classified. Its message is sent verbatim as {@code {"message": ...}},
 * so it copies Docker's wording wherever tools match on it.
 */
public class EngineException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final ErrorKind kind;

  public EngineException(ErrorKind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public EngineException(ErrorKind kind, String message) {
    this(kind, message, null);
  }

  public static EngineException notFound(String fmt, Object... args) {
    return new EngineException(ErrorKind.NOT_FOUND, String.format(fmt, args));
  }

  public static EngineException conflict(String fmt, Object... args) {
    return new EngineException(ErrorKind.CONFLICT, String.format(fmt, args));
  }

  public static EngineException invalid(String fmt, Object... args) {
    return new EngineException(ErrorKind.INVALID_PARAMETER, String.format(fmt, args));
  }

  public static EngineException forbidden(String fmt, Object... args) {
    return new EngineException(ErrorKind.FORBIDDEN, String.format(fmt, args));
  }

  public static EngineException unavailable(String fmt, Object... args) {
    return new EngineException(ErrorKind.UNAVAILABLE, String.format(fmt, args));
  }

  public static EngineException notImplemented(String fmt, Object... args) {
    return new EngineException(ErrorKind.NOT_IMPLEMENTED, String.format(fmt, args));
  }

  /** 304: the container is already in the asked-for state (start of a running one, stop of a stopped one). */
  public static EngineException notModified() {
    return new EngineException(ErrorKind.NOT_MODIFIED, "");
  }

  public static EngineException system(String message, Throwable cause) {
    return new EngineException(ErrorKind.SYSTEM, message, cause);
  }

  /** The same kind with "prefix: message"; the cause is kept. */
  public EngineException withContext(String prefix) {
    return new EngineException(kind, prefix + ": " + getMessage(), this);
  }

  public ErrorKind kind() {
    return kind;
  }

  /**
   * The kind of the outermost classified exception in the cause chain (containerd's Resolve);
   * {@link ErrorKind#SYSTEM} when there is none.
   */
  public static ErrorKind kindOf(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof EngineException e) {
        return e.kind;
      }
    }
    return ErrorKind.SYSTEM;
  }
}
