package berth.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

/** The log line's shape is the one SimpleFormatter made with "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n". */
class ConsoleLogTest {
  private static LogRecord record(Level level, String message, Instant at) {
    LogRecord r = new LogRecord(level, message);
    r.setLoggerName("berth.engine.Engine");
    r.setInstant(at);
    return r;
  }

  @Test
  void aLineHasTheLocalTimeToTheMillisecondTheLevelTheLoggerAndTheMessage() {
    Instant at = Instant.parse("2026-03-04T05:06:07.089123Z");
    String expectedTime = LocalDateTime.ofInstant(at, ZoneId.systemDefault())
        .format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS"));
    assertEquals(expectedTime + " INFO berth.engine.Engine: API listening on unix:///x.sock" + System.lineSeparator(),
        new ConsoleLog().format(record(Level.INFO, "API listening on unix:///x.sock", at)));
  }

  @Test
  void parametersAreFilledInAndAThrownExceptionFollowsWithItsTrace() {
    LogRecord r = record(Level.WARNING, "error while stopping {0}", Instant.parse("2026-12-31T23:59:59.999Z"));
    r.setParameters(new Object[] {"the SSH server"});
    r.setThrown(new IllegalStateException("boom"));
    String line = new ConsoleLog().format(r);
    assertTrue(line.matches("(?s)\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARNING berth.engine.Engine: "
        + "error while stopping the SSH server\njava.lang.IllegalStateException: boom\n\tat .*"), line);
    assertTrue(line.contains("ConsoleLogTest.parametersAreFilledIn"), line);
  }
}
