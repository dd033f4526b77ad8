package berth.engine.api.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslHandler;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

/**
 * A connection taken over by a handler after {@link ApiResponse#hijack}: no more HTTP, just bytes.
 * {@link #in()} is what the client sends (stdin), {@link #out()} what it receives. The connection
 * belongs to the holder until {@link #close()} (or the client hanging up); keep-alive is over.
 */
public final class Hijacked implements Closeable {
  private final Channel channel;
  private final Input in;
  private final Object writability;
  private final Out out = new Out();
  private final Object writeLock = new Object();
  private ChannelFuture lastWrite;
  private boolean outputClosed;

  Hijacked(Channel channel, Input in, Object writability, ChannelFuture headWritten) {
    this.channel = channel;
    this.in = in;
    this.writability = writability;
    this.lastWrite = headWritten;
  }

  /** The client's bytes; -1 once the client shuts down its write side (or hangs up). */
  public InputStream in() {
    return in;
  }

  /**
   * The raw stream to the client. Every write is flushed at once and waits while the client is slow
   * (backpressure). Writes from several threads are not interleaved within one call.
   */
  public OutputStream out() {
    return out;
  }

  /** Completes when the connection is gone (client hang-up or {@link #close()}). */
  public CompletableFuture<Void> clientGone() {
    CompletableFuture<Void> f = new CompletableFuture<>();
    channel.closeFuture().addListener(x -> f.complete(null));
    return f;
  }

  /**
   * Ends the output once everything written so far is sent: a half-close (the client may still send
   * stdin) where the socket supports it, else the connection is closed.
   */
  public void closeOutput() {
    ChannelFuture last;
    synchronized (writeLock) {
      if (outputClosed) {
        return;
      }
      outputClosed = true;
      last = lastWrite;
    }
    last.addListener(f -> {
      if (channel instanceof DuplexChannel d && channel.pipeline().get(SslHandler.class) == null
          && d.isActive() && !d.isInputShutdown()) {
        d.shutdownOutput();
      } else {
        channel.close();
      }
    });
  }

  /** Closes the connection once everything written so far is sent, and discards unread input. */
  @Override
  public void close() {
    ChannelFuture last;
    synchronized (writeLock) {
      outputClosed = true;
      last = lastWrite;
    }
    in.close();
    last.addListener(f -> channel.close());
  }

  private final class Out extends OutputStream {
    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return;
      }
      awaitWritable();
      synchronized (writeLock) {
        if (outputClosed) {
          throw new IOException("output closed");
        }
        lastWrite = channel.writeAndFlush(Unpooled.copiedBuffer(b, off, len));
      }
    }

    @Override
    public void flush() throws IOException {
      if (!channel.isActive()) {
        throw new IOException("client disconnected");
      }
    }

    @Override
    public void close() {
      closeOutput();
    }

    private void awaitWritable() throws IOException {
      Backpressure.awaitWritable(channel, writability);
    }
  }

  /**
   * The client's bytes, fed by the event loop and read by one handler thread. Reading from the socket
   * pauses (autoRead off) while more than {@link BodyInputStream#HIGH_WATER} bytes wait, as for request
   * bodies. Reading resumes on the event loop, and never once the client shut its write side down.
   */
  static final class Input extends InputStream {
    private static final int LOW_WATER = 256 << 10;

    private final Channel channel;
    private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
    private long queued;
    private boolean eof;
    private boolean closed;
    private IOException failure;
    private boolean paused;

    Input(Channel channel) {
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
      if (queued > BodyInputStream.HIGH_WATER && !paused) {
        paused = true;
        channel.config().setAutoRead(false);
      }
      notifyAll();
    }

    /** The client shut down its write side (event loop). */
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

    /** Discards what is queued and whatever still arrives. */
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
        // a socket whose input is shut down must not be asked to read again
        if (channel.isActive() && !(channel instanceof DuplexChannel d && d.isInputShutdown())) {
          channel.config().setAutoRead(true);
        }
      });
    }
  }
}
