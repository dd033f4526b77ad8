package berth.engine.api.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.socket.DuplexChannel;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;

/**
 * Bytes from the client fed by the event loop and read by a handler thread: a request body, or the
 * stdin of a hijacked connection. Reading from the socket pauses (autoRead off) while more than
 * {@link #HIGH_WATER} bytes wait, so a large upload is never held in memory. Thread-safe between one
 * producer (the event loop) and one consumer.
 */
final class BodyInputStream extends InputStream {
  static final int HIGH_WATER = 1 << 20;
  private static final int LOW_WATER = 256 << 10;

  private final Channel channel;
  private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
  private long queued;
  private boolean eof;
  private boolean closed;
  private IOException failure;
  private boolean paused;

  BodyInputStream(Channel channel) {
    this.channel = channel;
  }

  /** Called on the event loop with a buffer this stream now owns. */
  synchronized void offer(ByteBuf buf) {
    if (closed || !buf.isReadable()) {
      buf.release();
      return;
    }
    queue.add(buf);
    queued += buf.readableBytes();
    if (queued > HIGH_WATER && !paused) {
      paused = true;
      channel.config().setAutoRead(false);
    }
    notifyAll();
  }

  synchronized void finish() {
    eof = true;
    notifyAll();
  }

  synchronized void fail(IOException e) {
    if (!eof) {
      failure = e;
    }
    eof = true;
    notifyAll();
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    int n = read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public synchronized int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    while (queue.isEmpty()) {
      if (closed) {
        return -1;
      }
      if (failure != null) {
        throw failure;
      }
      if (eof) {
        return -1;
      }
      try {
        wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException();
      }
    }
    ByteBuf head = queue.peek();
    int n = Math.min(len, head.readableBytes());
    head.readBytes(b, off, n);
    queued -= n;
    if (!head.isReadable()) {
      queue.poll().release();
    }
    if (paused && queued < LOW_WATER) {
      resume();
    }
    return n;
  }

  @Override
  public synchronized int available() {
    return (int) Math.min(Integer.MAX_VALUE, queued);
  }

  @Override
  public synchronized void close() {
    closed = true;
    queue.forEach(ByteBuf::release);
    queue.clear();
    queued = 0;
    if (paused) {
      resume();
    }
    notifyAll();
  }

  /** Turns reading back on, on the event loop; never on a socket whose input is already shut down. */
  private void resume() {
    paused = false;
    if (channel.eventLoop().isShuttingDown()) {
      return;
    }
    channel.eventLoop().execute(() -> {
      synchronized (this) {
        if (paused) {
          return; // paused again meanwhile
        }
      }
      if (channel.isActive() && !(channel instanceof DuplexChannel d && d.isInputShutdown())) {
        channel.config().setAutoRead(true);
      }
    });
  }
}
