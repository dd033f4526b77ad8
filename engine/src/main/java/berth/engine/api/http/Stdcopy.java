package berth.engine.api.http;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Docker's multiplexed stream format (application/vnd.docker.multiplexed-stream): each frame is an
 * 8-byte header {@code [stream, 0, 0, 0, size as 4 bytes big-endian]} followed by {@code size} bytes.
 */
public final class Stdcopy {
  public static final int STDIN = 0;
  public static final int STDOUT = 1;
  public static final int STDERR = 2;
  /** Writes larger than this are sent as several frames. */
  public static final int MAX_FRAME = 1 << 20;

  private Stdcopy() {}

  /**
   * A stream whose every write becomes frames of {@code stream} on {@code raw}. Streams made on the
   * same {@code raw} may be written from different threads: each frame is written whole, under a lock
   * on {@code raw}, in a single write. Closing the returned stream does not close {@code raw}.
   */
  public static OutputStream stream(OutputStream raw, int stream) {
    if (stream < 0 || stream > 255) {
      throw new IllegalArgumentException("stream id " + stream);
    }
    return new Framed(raw, stream);
  }

  public static OutputStream stdout(OutputStream raw) {
    return stream(raw, STDOUT);
  }

  public static OutputStream stderr(OutputStream raw) {
    return stream(raw, STDERR);
  }

  /** One frame read back. */
  public record Frame(int stream, byte[] payload) {}

  /** The next frame, or null at a clean end of stream; EOFException when a frame is cut short. */
  public static Frame readFrame(InputStream in) throws IOException {
    byte[] header = new byte[8];
    int got = in.readNBytes(header, 0, 8);
    if (got == 0) {
      return null;
    }
    if (got < 8) {
      throw new EOFException("stream ended inside a frame header");
    }
    long size = ((header[4] & 0xffL) << 24) | ((header[5] & 0xff) << 16) | ((header[6] & 0xff) << 8) | (header[7] & 0xff);
    if (size > Integer.MAX_VALUE - 8) {
      throw new IOException("frame too large: " + size);
    }
    byte[] payload = in.readNBytes((int) size);
    if (payload.length < size) {
      throw new EOFException("stream ended inside a frame of " + size + " bytes");
    }
    return new Frame(header[0] & 0xff, payload);
  }

  /** Splits a multiplexed stream into stdout and stderr until it ends; stdin frames go to stdout. */
  public static void demux(InputStream in, OutputStream stdout, OutputStream stderr) throws IOException {
    for (Frame f = readFrame(in); f != null; f = readFrame(in)) {
      switch (f.stream()) {
        case STDIN, STDOUT -> stdout.write(f.payload());
        case STDERR -> stderr.write(f.payload());
        default -> throw new IOException("unknown stream id " + f.stream() + " in multiplexed stream");
      }
    }
  }

  private static final class Framed extends OutputStream {
    private final OutputStream raw;
    private final int stream;

    Framed(OutputStream raw, int stream) {
      this.raw = raw;
      this.stream = stream;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      while (len > 0) {
        int n = Math.min(len, MAX_FRAME);
        byte[] frame = new byte[8 + n];
        frame[0] = (byte) stream;
        frame[4] = (byte) (n >>> 24);
        frame[5] = (byte) (n >>> 16);
        frame[6] = (byte) (n >>> 8);
        frame[7] = (byte) n;
        System.arraycopy(b, off, frame, 8, n);
        synchronized (raw) {
          raw.write(frame, 0, frame.length);
        }
        off += n;
        len -= n;
      }
    }

    @Override
    public void flush() throws IOException {
      synchronized (raw) {
        raw.flush();
      }
    }

    @Override
    public void close() {
      // the underlying stream is shared with the other streams; its owner closes it
    }
  }
}
