package berth.engine.logs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonFileLogTest {
  static final long T0 = 1_795_818_451_412_379_233L; // 2026-11-27T22:27:31.412379233Z
  static final long SEC = 1_000_000_000L;

  @TempDir Path dir;

  Path live() {
    return dir.resolve("abc-json.log");
  }

  static List<String> texts(List<LogEntry> es) {
    List<String> out = new ArrayList<>();
    for (LogEntry e : es) out.add(e.text());
    return out;
  }

  static List<String> lines(String prefix, int from, int to) {
    List<String> out = new ArrayList<>();
    for (int i = from; i < to; i++) out.add(prefix + i + "\n");
    return out;
  }

  List<LogEntry> read(ReadOptions o) throws IOException {
    List<LogEntry> out = new ArrayList<>();
    JsonFileLog.forContainer(dir, "abc").read(o, out::add);
    return out;
  }

  @Test
  void readsAllWithStreamsTimesAndEscapes() throws IOException {
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      w.write("stdout", "hello \"q\" \\ <a&b> tab\there é 😀\n", T0);
      w.write("stderr", "oops\u0001\r\n", T0 + 1);
    }
    List<LogEntry> all = read(ReadOptions.all());
    assertEquals(List.of("hello \"q\" \\ <a&b> tab\there é 😀\n", "oops\u0001\r\n"), texts(all));
    assertEquals("stdout", all.get(0).stream());
    assertEquals("stderr", all.get(1).stream());
    assertEquals(T0, all.get(0).timeNanos());
    assertEquals(java.time.Instant.parse("2026-11-27T22:27:31.412379233Z"), all.get(0).time());
    assertFalse(all.get(0).partial());
    assertEquals(List.of("hello \"q\" \\ <a&b> tab\there é 😀\n"), texts(read(ReadOptions.all().withStreams(true, false))));
    assertEquals(List.of("oops\u0001\r\n"), texts(read(ReadOptions.all().withStreams(false, true))));
    assertEquals(List.of(), read(ReadOptions.all().withStreams(false, false)));
  }

  @Test
  void parsesOffsetsAttrsAndSurrogateEscapes() throws IOException {
    String line = "{\"log\":\"a\\ud83d\\ude00\\u00e9\\/\\n\",\"attrs\":{\"k\":[1,{\"x\":null}],\"e\":{}},"
        + "\"stream\":\"stdout\",\"time\":\"2026-11-28T00:27:31.5+02:00\"}\n";
    Files.write(live(), line.getBytes(StandardCharsets.UTF_8));
    List<LogEntry> es = read(ReadOptions.all());
    assertEquals(List.of("a😀é/\n"), texts(es));
    assertEquals(java.time.Instant.parse("2026-11-27T22:27:31.5Z"), es.get(0).time());
  }

  @Test
  void sinceAndUntilWindows() throws IOException {
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      for (int i = 0; i < 10; i++) w.write(i % 2 == 0 ? "stdout" : "stderr", "l" + i + "\n", T0 + i * SEC);
    }
    assertEquals(lines("l", 3, 10), texts(read(ReadOptions.all().withSince(T0 + 3 * SEC))));
    assertEquals(lines("l", 4, 10), texts(read(ReadOptions.all().withSince(T0 + 3 * SEC + 1))));
    assertEquals(lines("l", 0, 7), texts(read(ReadOptions.all().withUntil(T0 + 6 * SEC))));
    assertEquals(lines("l", 2, 6), texts(read(ReadOptions.all().withSince(T0 + 2 * SEC).withUntil(T0 + 5 * SEC + 1))));
    assertEquals(List.of("l4\n"), texts(read(ReadOptions.all().withSince(T0 + 3 * SEC).withUntil(T0 + 5 * SEC)
        .withStreams(true, false))));
    // tail counts entries first, then since filters (dockerd's order)
    assertEquals(lines("l", 8, 10), texts(read(ReadOptions.all().withTail(4).withSince(T0 + 8 * SEC))));
  }

  @Test
  void tailAcrossRotatedFiles() throws IOException {
    try (JsonFileWriter w = new JsonFileWriter(live(), 0, 5)) {
      for (int i = 0; i < 7; i++) w.write("stdout", "a" + i + "\n", T0 + i);
      w.rotate();
      for (int i = 0; i < 10; i++) w.write("stdout", "b" + i + "\n", T0 + 100 + i);
      w.rotate();
      for (int i = 0; i < 2; i++) w.write("stdout", "c" + i + "\n", T0 + 200 + i);
    }
    assertTrue(Files.exists(dir.resolve("abc-json.log.2")));
    List<String> b = lines("b", 0, 10);
    List<String> c = lines("c", 0, 2);
    assertEquals(join(b.subList(7, 10), c), texts(read(ReadOptions.all().withTail(5))));
    assertEquals(c, texts(read(ReadOptions.all().withTail(2))));
    assertEquals(c.subList(1, 2), texts(read(ReadOptions.all().withTail(1))));
    assertEquals(join(b, c), texts(read(ReadOptions.all().withTail(12))));
    assertEquals(join(lines("a", 5, 7), b, c), texts(read(ReadOptions.all().withTail(14))));
    List<String> everything = join(lines("a", 0, 7), b, c);
    assertEquals(everything, texts(read(ReadOptions.all().withTail(100))));
    assertEquals(everything, texts(read(ReadOptions.all())));
    assertEquals(List.of(), read(ReadOptions.all().withTail(0)));
  }

  @Test
  void tailScansBackwardsAcrossBlockBoundaries() throws IOException {
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      for (int i = 0; i < 5000; i++) w.write("stdout", "line-" + i + "-" + "x".repeat(i % 97) + "\n", T0 + i);
    }
    List<LogEntry> es = read(ReadOptions.all().withTail(3001));
    assertEquals(3001, es.size());
    assertEquals("line-1999-" + "x".repeat(1999 % 97) + "\n", es.get(0).text());
    assertEquals(T0 + 4999, es.get(3000).timeNanos());
  }

  @Test
  void splitLongLinesArriveAsPiecesThatConcatenate() throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; sb.length() < 40_000; i++) sb.append(i).append(' ');
    String big = sb.append('\n').toString();
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      w.write("stdout", "before\n", T0);
      w.writeSplit("stdout", big, T0 + 1);
      w.write("stdout", "after\n", T0 + 2);
    }
    List<LogEntry> es = read(ReadOptions.all());
    assertEquals(2 + 3, es.size());
    assertTrue(es.get(1).partial());
    assertTrue(es.get(2).partial());
    assertFalse(es.get(3).partial());
    StringBuilder joined = new StringBuilder();
    for (LogEntry e : es) joined.append(e.text());
    assertEquals("before\n" + big + "after\n", joined.toString());
  }

  @Test
  void malformedAndHalfWrittenLinesAreSkipped() throws IOException {
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      w.write("stdout", "one\n", T0);
      w.writeRaw("{\"log\":\"corrupt\n".getBytes(StandardCharsets.UTF_8));
      w.writeRaw("\n\n".getBytes(StandardCharsets.UTF_8));
      w.writeRaw("{\"log\":\"bad time\\n\",\"stream\":\"stdout\",\"time\":\"yesterday\"}\n".getBytes(StandardCharsets.UTF_8));
      w.write("stderr", "two\n", T0 + 1);
      byte[] three = JsonFileWriter.encode("stdout", "three\n", T0 + 2);
      w.writeRaw(java.util.Arrays.copyOf(three, three.length / 2));
    }
    assertEquals(List.of("one\n", "two\n"), texts(read(ReadOptions.all())));
    assertEquals(List.of("two\n"), texts(read(ReadOptions.all().withTail(1))));
  }

  @Test
  void halfWrittenLineIsEmittedWhenCompleteWhileFollowing() throws Exception {
    byte[] three = JsonFileWriter.encode("stdout", "three\n", T0 + 2);
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      w.write("stdout", "one\n", T0);
      w.write("stdout", "two\n", T0 + 1);
      w.writeRaw(java.util.Arrays.copyOf(three, 17));
      Follower f = new Follower(ReadOptions.all().withFollow(true));
      f.awaitCount(2);
      Thread.sleep(100); // several polls see the incomplete line
      assertEquals(List.of("one\n", "two\n"), f.texts());
      w.writeRaw(java.util.Arrays.copyOfRange(three, 17, three.length));
      w.write("stdout", "four\n", T0 + 3);
      f.awaitCount(4);
      f.stop();
      assertEquals(List.of("one\n", "two\n", "three\n", "four\n"), f.texts());
    }
  }

  @Test
  void followSeesAppendedLinesAndEndsWhenStoppedAndDrained() throws Exception {
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      w.write("stdout", "x0\n", T0);
      Follower f = new Follower(ReadOptions.all().withFollow(true).withStreams(true, false));
      f.awaitCount(1);
      for (int i = 1; i < 50; i++) {
        w.write("stdout", "x" + i + "\n", T0 + i);
        w.write("stderr", "e" + i + "\n", T0 + i);
      }
      f.stop();
      assertEquals(lines("x", 0, 50), f.texts());
    }
  }

  @Test
  void followWithStoppedAlreadyTrueReturnsEverything() throws IOException {
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      for (int i = 0; i < 100; i++) w.write("stdout", "s" + i + "\n", T0 + i);
    }
    List<LogEntry> out = new ArrayList<>();
    long n = JsonFileLog.forContainer(dir, "abc").read(ReadOptions.all().withFollow(true), out::add, () -> false, () -> true);
    assertEquals(100, n);
    assertEquals(lines("s", 0, 100), texts(out));
    // futures flavour, with tail
    out.clear();
    JsonFileLog.forContainer(dir, "abc").read(ReadOptions.all().withFollow(true).withTail(3), out::add,
        new CompletableFuture<>(), CompletableFuture.completedFuture(null));
    assertEquals(lines("s", 97, 100), texts(out));
  }

  @Test
  void followWaitsForLogFileToAppear() throws Exception {
    Follower f = new Follower(ReadOptions.all().withFollow(true));
    Thread.sleep(50);
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      w.write("stdout", "late\n", T0);
      f.awaitCount(1);
      f.stop();
    }
    assertEquals(List.of("late\n"), f.texts());
  }

  @Test
  void followWithTailStartsAtLastEntries() throws Exception {
    try (JsonFileWriter w = new JsonFileWriter(live(), 0, 3)) {
      for (int i = 0; i < 10; i++) w.write("stdout", "t" + i + "\n", T0 + i);
      Follower f = new Follower(ReadOptions.all().withFollow(true).withTail(2));
      f.awaitCount(2);
      w.write("stdout", "t10\n", T0 + 10);
      f.awaitCount(3);
      Follower zero = new Follower(ReadOptions.all().withFollow(true).withTail(0));
      Thread.sleep(50);
      w.write("stdout", "t11\n", T0 + 11);
      zero.awaitCount(1);
      f.awaitCount(4);
      f.stop();
      zero.stop();
      assertEquals(lines("t", 8, 12), f.texts());
      assertEquals(List.of("t11\n"), zero.texts());
    }
  }

  @Test
  void followSurvivesRotation() throws Exception {
    try (JsonFileWriter w = new JsonFileWriter(live(), 0, 3)) {
      for (int i = 0; i < 3; i++) w.write("stdout", "r" + i + "\n", T0 + i);
      Follower f = new Follower(ReadOptions.all().withFollow(true));
      f.awaitCount(3);
      w.write("stdout", "r3\n", T0 + 3); // may or may not be seen before the rename
      w.rotate();
      w.write("stdout", "r4\n", T0 + 4);
      f.awaitCount(5);
      w.rotate(); // two rotations in a row while idle
      w.write("stdout", "r5\n", T0 + 5);
      w.rotate();
      w.write("stdout", "r6\n", T0 + 6);
      f.stop();
      assertEquals(lines("r", 0, 7), f.texts());
    }
  }

  @Test
  void followSurvivesManyRotationsUnderLoadWithoutLossOrDuplicates() throws Exception {
    int n = 20_000;
    try (JsonFileWriter w = new JsonFileWriter(live(), 8_000, 1_000)) {
      Follower f = new Follower(ReadOptions.all().withFollow(true));
      for (int i = 0; i < n; i++) {
        w.write(i % 3 == 0 ? "stderr" : "stdout", "m" + i + "\n", T0 + i);
        if (i % 500 == 0) Thread.sleep(1);
      }
      f.stop();
      assertTrue(Files.exists(dir.resolve("abc-json.log.100")));
      assertEquals(lines("m", 0, n), f.texts());
    }
  }

  @Test
  void followUnderEvictionNeverDuplicatesOrReorders() throws Exception {
    int n = 20_000;
    try (JsonFileWriter w = new JsonFileWriter(live(), 4_000, 3)) {
      Follower f = new Follower(ReadOptions.all().withFollow(true));
      for (int i = 0; i < n; i++) w.write("stdout", "v" + i + "\n", T0 + i);
      w.write("stdout", "end\n", T0 + n);
      f.stop();
      List<String> got = f.texts();
      assertEquals("end\n", got.get(got.size() - 1)); // the live file is always read to its end
      int prev = -1;
      for (String t : got.subList(0, got.size() - 1)) { // files evicted before they were read are lost, as in dockerd
        int v = Integer.parseInt(t.substring(1, t.length() - 1));
        assertTrue(v > prev, "out of order or duplicated: " + v + " after " + prev);
        prev = v;
      }
    }
  }

  @Test
  void followSurvivesTruncationWithMaxFileOne() throws Exception {
    try (JsonFileWriter w = new JsonFileWriter(live(), 0, 1)) {
      for (int i = 0; i < 5; i++) w.write("stdout", "u" + i + "\n", T0 + i);
      Follower f = new Follower(ReadOptions.all().withFollow(true));
      f.awaitCount(5);
      w.rotate(); // truncates in place
      w.write("stdout", "u5\n", T0 + 5);
      f.awaitCount(6);
      f.stop();
      assertEquals(lines("u", 0, 6), f.texts());
    }
  }

  @Test
  void cancellationEndsFollowPromptly() throws Exception {
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      w.write("stdout", "c\n", T0);
      Follower f = new Follower(ReadOptions.all().withFollow(true));
      f.awaitCount(1);
      f.cancel.set(true);
      f.thread.join(10_000);
      assertFalse(f.thread.isAlive());
      assertEquals(1L, f.result.get());
      // the futures flavour: the client going away ends it too
      CompletableFuture<Void> gone = new CompletableFuture<>();
      AtomicReference<Object> res = new AtomicReference<>();
      Thread t = new Thread(() -> {
        try {
          res.set(JsonFileLog.forContainer(dir, "abc").read(ReadOptions.all().withFollow(true), e -> { },
              gone, new CompletableFuture<>()));
        } catch (Throwable e) {
          res.set(e);
        }
      });
      t.start();
      Thread.sleep(50);
      gone.complete(null);
      t.join(10_000);
      assertFalse(t.isAlive());
      assertEquals(1L, res.get());
    }
  }

  @Test
  void followEndsOnceUntilHasPassed() throws Exception {
    try (JsonFileWriter w = new JsonFileWriter(live())) {
      w.write("stdout", "old\n", T0);
      List<LogEntry> out = new ArrayList<>();
      long now = System.currentTimeMillis() * 1_000_000L;
      JsonFileLog.forContainer(dir, "abc").read(ReadOptions.all().withFollow(true).withUntil(now), out::add,
          () -> false, () -> false);
      assertEquals(List.of("old\n"), texts(out));
    }
  }

  @SafeVarargs
  static List<String> join(List<String>... parts) {
    List<String> out = new ArrayList<>();
    for (List<String> p : parts) out.addAll(p);
    return out;
  }

  /** Runs a follow on a background thread. */
  final class Follower {
    final List<LogEntry> got = new CopyOnWriteArrayList<>();
    final AtomicBoolean stopped = new AtomicBoolean();
    final AtomicBoolean cancel = new AtomicBoolean();
    final AtomicReference<Object> result = new AtomicReference<>();
    final Thread thread;

    Follower(ReadOptions o) {
      BooleanSupplier c = cancel::get;
      BooleanSupplier s = stopped::get;
      thread = new Thread(() -> {
        try {
          result.set(JsonFileLog.forContainer(dir, "abc").read(o, got::add, c, s));
        } catch (Throwable e) {
          result.set(e);
        }
      }, "follower");
      thread.setDaemon(true);
      thread.start();
    }

    void awaitCount(int n) throws InterruptedException {
      for (int i = 0; i < 2000 && got.size() < n; i++) Thread.sleep(5);
      assertTrue(got.size() >= n, "expected " + n + " entries, got " + texts());
    }

    /** The container stops: the follow must drain and return. */
    void stop() throws InterruptedException {
      stopped.set(true);
      thread.join(30_000);
      assertFalse(thread.isAlive(), "follow did not end after stop");
      if (result.get() instanceof Throwable t) throw new AssertionError(t);
      assertEquals((long) got.size(), result.get());
    }

    List<String> texts() {
      return JsonFileLogTest.texts(Collections.unmodifiableList(got));
    }
  }

  /**
   * Throughput, by hand (not a test): {@code cd engine && mvn -q test-compile && java -cp
   * target/classes:target/test-classes berth.engine.logs.JsonFileLogTest [dir] [MB]} writes MB (default 200)
   * of ~100-byte entries once, then reads them with tail=-1 into a null sink and prints MB/s.
   */
  public static void main(String[] args) throws IOException {
    Path d = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"), "berth-logbench");
    long mb = args.length > 1 ? Long.parseLong(args[1]) : 200;
    Files.createDirectories(d);
    Path p = d.resolve("bench-json.log");
    if (!Files.exists(p) || Files.size(p) < mb << 20) {
      try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(p), 1 << 20)) {
        String pad = "y".repeat(20);
        long written = 0;
        for (long i = 0; written < mb << 20; i++) {
          byte[] line = JsonFileWriter.encode("stdout", "log line " + i + " " + pad + "\n", T0 + i * 1000);
          out.write(line);
          written += line.length;
        }
      }
    }
    long size = Files.size(p);
    JsonFileLog log = new JsonFileLog(p);
    for (int round = 0; round < 5; round++) {
      long[] n = {0, 0};
      long t = System.nanoTime();
      log.read(ReadOptions.all(), e -> {
        n[0]++;
        n[1] += e.line().length;
      });
      double s = (System.nanoTime() - t) / 1e9;
      System.out.printf("round %d: %d entries, %.1f MB file in %.3f s = %.0f MB/s (%.0f k entries/s)%n", round, n[0],
          size / 1e6, s, size / 1e6 / s, n[0] / 1e3 / s);
    }
  }
}
