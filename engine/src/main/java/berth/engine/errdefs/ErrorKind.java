package berth.engine.errdefs;

/** The classes of error a client can tell apart, each with the HTTP status Docker gives it. */
public enum ErrorKind {
  INVALID_PARAMETER(400),
  UNAUTHORIZED(401),
  FORBIDDEN(403),
  NOT_FOUND(404),
  METHOD_NOT_ALLOWED(405),
  CONFLICT(409),
  NOT_MODIFIED(304),
  NOT_IMPLEMENTED(501),
  UNAVAILABLE(503),
  SYSTEM(500);

  private final int httpStatus;

  ErrorKind(int httpStatus) {
    this.httpStatus = httpStatus;
  }

  /** The HTTP status code this kind is answered with. */
  public int httpStatus() {
    return httpStatus;
  }
}
