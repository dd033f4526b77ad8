package berth.engine.container;

import berth.engine.errdefs.EngineException;
import java.util.List;
import java.util.Locale;

/** Linux signal names and numbers as Docker accepts them: "SIGTERM", "TERM", "15", "RTMIN+3". */
final class Signals {
  private static final List<String> NAMES = List.of("", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE",
      "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN",
      "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS");
  private static final int RTMIN = 34;
  private static final int RTMAX = 64;

  private Signals() {}

  /** The signal's number as a string runc takes; INVALID_PARAMETER "Invalid signal: x" otherwise. */
  static String normalize(String s) {
    return Integer.toString(number(s));
  }

  static int number(String s) {
    String u = s.trim().toUpperCase(Locale.ROOT);
    if (u.startsWith("SIG")) {
      u = u.substring(3);
    }
    try {
      int n = Integer.parseInt(u);
      if (n >= 1 && n <= RTMAX) {
        return n;
      }
    } catch (NumberFormatException e) {
      int i = NAMES.indexOf(u);
      if (i > 0) {
        return i;
      }
      if (u.equals("IOT")) {
        return 6;
      }
      if (u.equals("POLL")) {
        return 29;
      }
      if (u.startsWith("RTMIN") || u.startsWith("RTMAX")) {
        try {
          int off = u.length() == 5 ? 0 : Integer.parseInt(u.substring(5));
          int n = u.startsWith("RTMIN") ? RTMIN + off : RTMAX + off;
          if (n >= RTMIN && n <= RTMAX) {
            return n;
          }
        } catch (NumberFormatException ignored) {
          // invalid below
        }
      }
    }
    throw EngineException.invalid("Invalid signal: %s", s);
  }
}
