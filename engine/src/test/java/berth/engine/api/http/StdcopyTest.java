package berth.engine.api.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Docker's multiplexed stream framing. */
class StdcopyTest {

  @Test
  void eachWriteIsOneFrameWithAnEightByteHeader() throws IOException {
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    Stdcopy.stdout(raw).write("hi\n".getBytes(StandardCharsets.US_ASCII));
    Stdcopy.stderr(raw).write('!');
    Stdcopy.stream(raw, Stdcopy.STDIN).write(new byte[0]);
    assertArrayEquals(new byte[] {1, 0, 0, 0, 0, 0, 0, 3, 'h', 'i', '\n', 2, 0, 0, 0, 0, 0, 0, 1, '!'}, raw.toByteArray());
  }

  @Test
  void sizeIsFourBytesBigEndian() throws IOException {
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    byte[] payload = new byte[0x012345];
    Stdcopy.stderr(raw).write(payload);
    byte[] out = raw.toByteArray();
    assertArrayEquals(new byte[] {2, 0, 0, 0, 0, 0x01, 0x23, 0x45}, Arrays.copyOf(out, 8));
    assertEquals(8 + payload.length, out.length);
  }

  @Test
  void bigPayloadsArriveWholeInOneOrSeveralFrames() throws IOException {
    byte[] big = new byte[3 * Stdcopy.MAX_FRAME + 12345];
    new Random(1).nextBytes(big);
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    Stdcopy.stdout(raw).write(big);
    byte[] small = new byte[100 << 10]; // > 64 KiB, < MAX_FRAME: a single frame
    new Random(2).nextBytes(small);
    Stdcopy.stdout(raw).write(small);

    ByteArrayInputStream in = new ByteArrayInputStream(raw.toByteArray());
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    int frames = 0;
    for (Stdcopy.Frame f = Stdcopy.readFrame(in); f != null; f = Stdcopy.readFrame(in)) {
      assertEquals(Stdcopy.STDOUT, f.stream());
      assertTrue(f.payload().length <= Stdcopy.MAX_FRAME);
      got.writeBytes(f.payload());
      frames++;
    }
    assertEquals(5, frames);
    byte[] want = Arrays.copyOf(big, big.length + small.length);
    System.arraycopy(small, 0, want, big.length, small.length);
    assertArrayEquals(want, got.toByteArray());
  }

  @Test
  void demuxSplitsStdoutAndStderr() throws IOException {
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    OutputStream out = Stdcopy.stdout(raw);
    OutputStream err = Stdcopy.stderr(raw);
    out.write("one ".getBytes(StandardCharsets.US_ASCII));
    err.write("oops".getBytes(StandardCharsets.US_ASCII));
    out.write("two".getBytes(StandardCharsets.US_ASCII));
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    Stdcopy.demux(new ByteArrayInputStream(raw.toByteArray()), o, e);
    assertEquals("one two", o.toString(StandardCharsets.US_ASCII));
    assertEquals("oops", e.toString(StandardCharsets.US_ASCII));
  }

  @Test
  void truncatedStreamsAreErrorsAndAnEmptyOneIsTheEnd() throws IOException {
    assertNull(Stdcopy.readFrame(new ByteArrayInputStream(new byte[0])));
    assertThrows(EOFException.class, () -> Stdcopy.readFrame(new ByteArrayInputStream(new byte[] {1, 0, 0})));
    assertThrows(EOFException.class, () -> Stdcopy.readFrame(new ByteArrayInputStream(new byte[] {1, 0, 0, 0, 0, 0, 0, 5, 'a'})));
    assertThrows(IOException.class, () -> Stdcopy.demux(new ByteArrayInputStream(new byte[] {7, 0, 0, 0, 0, 0, 0, 0}),
        OutputStream.nullOutputStream(), OutputStream.nullOutputStream()));
    assertThrows(IllegalArgumentException.class, () -> Stdcopy.stream(OutputStream.nullOutputStream(), 256));
  }

  @Test
  void framesFromConcurrentWritersNeverInterleave() throws Exception {
    // a sink that writes byte by byte with yields, so that an unlocked writer would interleave
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    OutputStream raw = new OutputStream() {
      @Override
      public void write(int b) {
        synchronized (sink) {
          sink.write(b);
        }
      }

      @Override
      public void write(byte[] b, int off, int len) {
        for (int i = 0; i < len; i++) {
          write(b[off + i]);
          if (i % 512 == 0) {
            Thread.yield();
          }
        }
      }
    };
    int writes = 200;
    ExecutorService pool = Executors.newFixedThreadPool(2);
    CountDownLatch go = new CountDownLatch(1);
    try {
      Future<?> a = pool.submit(() -> writeMany(Stdcopy.stdout(raw), 'o', writes, go));
      Future<?> b = pool.submit(() -> writeMany(Stdcopy.stderr(raw), 'e', writes, go));
      go.countDown();
      a.get();
      b.get();
    } finally {
      pool.shutdownNow();
    }
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    Stdcopy.demux(new ByteArrayInputStream(sink.toByteArray()), o, e);
    assertEquals(expected('o', writes), o.toString(StandardCharsets.US_ASCII));
    assertEquals(expected('e', writes), e.toString(StandardCharsets.US_ASCII));
  }

  private static Void writeMany(OutputStream s, char c, int writes, CountDownLatch go) throws Exception {
    go.await();
    for (int i = 0; i < writes; i++) {
      s.write(line(c, i).getBytes(StandardCharsets.US_ASCII));
    }
    return null;
  }

  private static String expected(char c, int writes) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < writes; i++) {
      sb.append(line(c, i));
    }
    return sb.toString();
  }

  private static String line(char c, int i) {
    return i + ":" + String.valueOf(c).repeat(1000 + i * 37) + "\n";
  }
}
