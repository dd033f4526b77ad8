package berth.engine.api.http;

import berth.engine.errdefs.EngineException;

/** A Docker API version such as 1.44, compared numerically. */
public record ApiVersion(int major, int minor) implements Comparable<ApiVersion> {
  /** The oldest version Berth answers (dockerd's own minimum). */
  public static final ApiVersion MIN = new ApiVersion(1, 24);
  /** The version Berth advertises and assumes when a request carries no version prefix. */
  public static final ApiVersion CURRENT = new ApiVersion(1, 47);

  /** Parses "1.44"; INVALID_PARAMETER when it is not two dot-separated numbers. */
  public static ApiVersion parse(String s) {
    int dot = s.indexOf('.');
    try {
      if (dot > 0 && dot < s.length() - 1 && s.indexOf('.', dot + 1) < 0) {
        return new ApiVersion(Integer.parseInt(s.substring(0, dot)), Integer.parseInt(s.substring(dot + 1)));
      }
    } catch (NumberFormatException e) {
      // fall through to the error below
    }
    throw EngineException.invalid("invalid API version: %s", s);
  }

  public boolean lessThan(String other) {
    return compareTo(parse(other)) < 0;
  }

  public boolean atLeast(String other) {
    return compareTo(parse(other)) >= 0;
  }

  @Override
  public int compareTo(ApiVersion o) {
    return major != o.major ? Integer.compare(major, o.major) : Integer.compare(minor, o.minor);
  }

  @Override
  public String toString() {
    return major + "." + minor;
  }
}
