package berth.engine.logs;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Test helper: writes Docker json-file entries the way dockerd / berth-mon do, with rotation
 * ({@code log -> .1 -> .2}, at most {@code maxFile} files) when {@code maxSize} would be passed.
 */
final class JsonFileWriter implements AutoCloseable {
  static final int SPLIT = 16 * 1024;
  private static final DateTimeFormatter SECONDS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss")
      .withZone(ZoneOffset.UTC);

  private final Path live;
  private final long maxSize;
  private final int maxFile;
  private OutputStream out;
  private long size;

  JsonFileWriter(Path live, long maxSize, int maxFile) throws IOException {
    this.live = live;
    this.maxSize = maxSize;
    this.maxFile = maxFile;
    reopen();
  }

  JsonFileWriter(Path live) throws IOException {
    this(live, 0, 1);
  }

  private void reopen() throws IOException {
    if (out != null) out.close();
    out = Files.newOutputStream(live, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    size = Files.size(live);
  }

  /** One entry; {@code text} normally ends in '\n'. */
  synchronized void write(String stream, String text, long nanos) throws IOException {
    byte[] line = encode(stream, text, nanos);
    if (maxSize > 0 && size > 0 && size + line.length > maxSize) rotate();
    out.write(line);
    out.flush();
    size += line.length;
  }

  /** Splits {@code text} (ending in '\n') into 16 KiB pieces like dockerd's copier. */
  synchronized void writeSplit(String stream, String text, long nanos) throws IOException {
    for (int i = 0; i < text.length(); i += SPLIT) write(stream, text.substring(i, Math.min(text.length(), i + SPLIT)), nanos);
  }

  /** Raw bytes (a corrupt or half-written line). */
  synchronized void writeRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    size += bytes.length;
  }

  synchronized void rotate() throws IOException {
    if (maxFile <= 1) {
      out.close();
      Files.write(live, new byte[0], StandardOpenOption.TRUNCATE_EXISTING);
      reopen();
      return;
    }
    for (int i = maxFile - 1; i >= 1; i--) {
      Path from = i == 1 ? live : sibling(i - 1);
      if (Files.exists(from)) Files.move(from, sibling(i), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    reopen();
  }

  Path sibling(int i) {
    return live.resolveSibling(live.getFileName() + "." + i);
  }

  @Override
  public synchronized void close() throws IOException {
    out.close();
  }

  static byte[] encode(String stream, String text, long nanos) {
    StringBuilder sb = new StringBuilder(text.length() + 80).append("{\"log\":\"");
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '<', '>', '&' -> sb.append(String.format("\\u%04x", (int) c)); // Go's HTML-safe escaping
        default -> {
          if (c < 0x20 || c == 0x7f) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
        }
      }
    }
    sb.append("\",\"stream\":\"").append(stream).append("\",\"time\":\"").append(time(nanos)).append("\"}\n");
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** RFC 3339 with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano). */
  static String time(long nanos) {
    long sec = Math.floorDiv(nanos, 1_000_000_000L);
    int n = (int) Math.floorMod(nanos, 1_000_000_000L);
    String s = SECONDS.format(Instant.ofEpochSecond(sec));
    if (n == 0) return s + "Z";
    String f = String.format("%09d", n).replaceAll("0+$", "");
    return s + "." + f + "Z";
  }
}
