package berth.engine.api.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslHandler;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

/**
 * A connection taken over by a handler after {@link ApiResponse#hijack}: no more HTTP, just bytes.
 * {@link #in()} is what the client sends (stdin), {@link #out()} what it receives. The connection
 * belongs to the holder until {@link #close()} (or the client hanging up); keep-alive is over.
 */
public final class Hijacked implements Closeable {
  private final Channel channel;
  private final BodyInputStream in;
  private final Object writability;
  private final Out out = new Out();
  private final Object writeLock = new Object();
  private ChannelFuture lastWrite;
  private boolean outputClosed;

  Hijacked(Channel channel, BodyInputStream in, Object writability, ChannelFuture headWritten) {
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
}
