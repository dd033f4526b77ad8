package berth.engine.api.types;

import java.time.Instant;
import java.time.format.DateTimeParseException;

/** Times as the Docker API carries them: nanoseconds since the epoch, parsed from RFC 3339. */
public final class Timestamps {
  private Timestamps() {}

  public static long nanos(Instant i) {
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  public static long nowNanos() {
    return nanos(Instant.now());
  }

  /** Docker's fixed-width RFC 3339 form with nine fraction digits, UTC: "2024-01-01T00:00:00.500000000Z". */
  public static String rfc3339Nano(long nanos) {
    java.time.LocalDateTime t = java.time.LocalDateTime.ofEpochSecond(Math.floorDiv(nanos, 1_000_000_000L),
        (int) Math.floorMod(nanos, 1_000_000_000L), java.time.ZoneOffset.UTC);
    return String.format("%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", t.getYear(), t.getMonthValue(), t.getDayOfMonth(),
        t.getHour(), t.getMinute(), t.getSecond(), t.getNano());
  }

  /** An RFC 3339 time ("2024-01-01T00:00:00.5Z") in nanoseconds; 0 when absent or malformed. */
  public static long parseRfc3339(String s) {
    if (s == null || s.isEmpty()) {
      return 0;
    }
    try {
      return nanos(Instant.parse(s));
    } catch (DateTimeParseException e) {
      return 0;
    }
  }
}
