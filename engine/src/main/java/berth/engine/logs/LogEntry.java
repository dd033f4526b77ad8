package berth.engine.logs;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * One json-file entry. {@code line} holds the decoded UTF-8 bytes of {@code "log"} (normally ending in
 * {@code '\n'}); {@code partial} is true for a piece of a split long line (it does not end in {@code '\n'}).
 * As in dockerd, pieces are delivered as separate entries, so writing them one after another reproduces the line.
 */
public record LogEntry(String stream, byte[] line, long timeNanos, boolean partial) {
  public static final String STDOUT = "stdout";
  public static final String STDERR = "stderr";

  public Instant time() {
    return Instant.ofEpochSecond(Math.floorDiv(timeNanos, 1_000_000_000L), Math.floorMod(timeNanos, 1_000_000_000L));
  }

  public String text() {
    return new String(line, StandardCharsets.UTF_8);
  }

  public boolean isStdout() {
    return STDOUT.equals(stream);
  }

  public boolean isStderr() {
    return STDERR.equals(stream);
  }
}
