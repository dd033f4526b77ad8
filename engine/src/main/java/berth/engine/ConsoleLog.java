package berth.engine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The log on stderr, one line a record: {@code 2026-12-05T12:25:05.993 INFO berth.engine.Engine: message}, a
 * thrown exception's stack trace on the lines after. Made by hand rather than by SimpleFormatter's format string:
 * java.util.Formatter's first date (its parser, Calendar and locale data) cost the guest agent's start 0.7 s under
 * emulation, before its engine could start.
 */
public final class ConsoleLog extends Formatter {
  /** java.util.logging keeps loggers weakly: a collected one forgets the level set here. */
  private static final List<Logger> HELD = new CopyOnWriteArrayList<>();

  /**
   * Replaces the root logger's handlers with one on stderr in this format, at FINE with {@code debug} and INFO
   * otherwise; the root logs INFO and up, Berth's loggers FINE with {@code debug}, Netty's warnings only, and each
   * of {@code more} gets its own level.
   */
  public static void install(boolean debug, Map<String, Level> more) {
    Level level = debug ? Level.FINE : Level.INFO;
    Logger root = Logger.getLogger("");
    for (var h : root.getHandlers()) {
      root.removeHandler(h);
    }
    ConsoleHandler h = new ConsoleHandler();
    h.setFormatter(new ConsoleLog());
    h.setLevel(level);
    root.addHandler(h);
    root.setLevel(Level.INFO);
    Map<String, Level> levels = new HashMap<>(Map.of("berth", level, "io.netty", Level.WARNING));
    levels.putAll(more);
    levels.forEach((name, l) -> {
      Logger logger = Logger.getLogger(name);
      logger.setLevel(l);
      HELD.add(logger);
    });
  }

  @Override
  public String format(LogRecord r) {
    LocalDateTime t = LocalDateTime.ofInstant(r.getInstant(), ZoneId.systemDefault());
    StringBuilder b = new StringBuilder(128).append(t.toLocalDate()).append('T');
    two(b, t.getHour()).append(':');
    two(b, t.getMinute()).append(':');
    two(b, t.getSecond()).append('.');
    int ms = t.getNano() / 1_000_000;
    b.append((char) ('0' + ms / 100)).append((char) ('0' + ms / 10 % 10)).append((char) ('0' + ms % 10));
    b.append(' ').append(r.getLevel().getName()).append(' ').append(r.getLoggerName()).append(": ")
        .append(formatMessage(r));
    if (r.getThrown() != null) {
      StringWriter trace = new StringWriter();
      r.getThrown().printStackTrace(new PrintWriter(trace));
      b.append('\n').append(trace);
    }
    return b.append(System.lineSeparator()).toString();
  }

  private static StringBuilder two(StringBuilder b, int n) {
    return b.append((char) ('0' + n / 10)).append((char) ('0' + n % 10));
  }
}
