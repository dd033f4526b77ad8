package berth.engine.api.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The reply to one request. A handler calls exactly one of {@link #json}, {@link #empty}, {@link #bytes}
 * or {@link #stream}. Safe to use from the handler's thread; writes are handed to the event loop.
 */
public final class ApiResponse {
  private final Channel channel;
  private final boolean head;
  private final HttpHeaders extra;
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private final Object writability;
  private boolean keepAlive;
  private boolean committed;

  ApiResponse(Channel channel, boolean head, boolean keepAlive, HttpHeaders baseHeaders, Object writability) {
    this.channel = channel;
    this.head = head;
    this.keepAlive = keepAlive;
    this.extra = baseHeaders;
    this.writability = writability;
  }

  /** Adds a header to the reply; only before it is committed. */
  public ApiResponse header(String name, Object value) {
    extra.set(name, value);
    return this;
  }

  public boolean committed() {
    return committed;
  }

  /** Completes when the whole reply is written (or the client is gone). */
  CompletableFuture<Void> done() {
    return done;
  }

  /** A future that completes when the client hangs up. */
  public CompletableFuture<Void> clientGone() {
    CompletableFuture<Void> f = new CompletableFuture<>();
    channel.closeFuture().addListener(x -> f.complete(null));
    return f;
  }

  public void json(int status, Object body) throws IOException {
    byte[] bytes;
    try {
      bytes = ApiJson.MAPPER.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IOException(e);
    }
    byte[] withNewline = new byte[bytes.length + 1];
    System.arraycopy(bytes, 0, withNewline, 0, bytes.length);
    withNewline[bytes.length] = '\n';
    bytes(status, "application/json", withNewline);
  }

  public void empty(int status) {
    bytes(status, null, new byte[0]);
  }

  public void bytes(int status, String contentType, byte[] body) {
    commit();
    ByteBuf buf = head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status), buf);
    r.headers().set(extra);
    if (contentType != null) {
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    }
    if (status != 204 && status != 304) {
      r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    }
    finish(channel.writeAndFlush(r));
  }

  /** Starts a chunked reply; the caller writes to the stream and closes it. */
  public ResponseStream stream(int status, String contentType) {
    commit();
    HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
    r.headers().set(extra);
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    channel.writeAndFlush(r);
    return new ResponseStream();
  }

  private void commit() {
    if (committed) {
      throw new IllegalStateException("reply already committed");
    }
    committed = true;
    extra.set(HttpHeaderNames.CONNECTION, keepAlive ? HttpHeaderValues.KEEP_ALIVE : HttpHeaderValues.CLOSE);
  }

  private void finish(ChannelFuture last) {
    last.addListener(f -> {
      if (!keepAlive) {
        channel.close();
      }
      done.complete(null);
    });
  }

  /** A chunked reply body. Each write waits while the client is slow (backpressure). Not thread-safe. */
  public final class ResponseStream extends OutputStream {
    private boolean closed;

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
      channel.write(new DefaultHttpContent(Unpooled.copiedBuffer(b, off, len)));
    }

    /** Writes one JSON object followed by a newline, and flushes (the JSON-message stream the CLI reads). */
    public void writeJson(Object message) throws IOException {
      byte[] bytes = ApiJson.MAPPER.writeValueAsBytes(message);
      write(bytes, 0, bytes.length);
      write('\n');
      flush();
    }

    public void writeText(String s) throws IOException {
      byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
      write(bytes, 0, bytes.length);
    }

    @Override
    public void flush() throws IOException {
      if (!channel.isActive()) {
        throw new IOException("client disconnected");
      }
      channel.flush();
    }

    private void awaitWritable() throws IOException {
      if (!channel.isActive()) {
        throw new IOException("client disconnected");
      }
      if (channel.isWritable()) {
        return;
      }
      channel.flush();
      synchronized (writability) {
        while (!channel.isWritable() && channel.isActive()) {
          try {
            writability.wait(TimeUnit.SECONDS.toMillis(1));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
          }
        }
      }
      if (!channel.isActive()) {
        throw new IOException("client disconnected");
      }
    }

    @Override
    public void close() {
      if (closed) {
        return;
      }
      closed = true;
      finish(channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
    }

    /** Ends the reply by dropping the connection: the client sees a broken stream, not a clean end. */
    public void abort() {
      closed = true;
      keepAlive = false;
      channel.close();
      done.complete(null);
    }
  }
}
