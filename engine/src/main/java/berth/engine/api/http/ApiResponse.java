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
  private boolean upgradeRequested;
  private Hijacker hijacker;
  private boolean hijacked;

  /** Takes the connection over for raw bytes; supplied by the connection's handler. */
  interface Hijacker {
    /** Writes {@code head} as raw bytes once the HTTP codec is gone; the connection is then the stream's. */
    Hijacked takeOver(byte[] head) throws IOException;
  }

  ApiResponse(Channel channel, boolean head, boolean keepAlive, HttpHeaders baseHeaders, Object writability) {
    this.channel = channel;
    this.head = head;
    this.keepAlive = keepAlive;
    this.extra = baseHeaders;
    this.writability = writability;
  }

  /**
   * Lets {@link #hijack} take this connection over; {@code upgrade} when the request asked for it
   * ({@code Connection: Upgrade}, {@code Upgrade: tcp}).
   */
  void hijackable(boolean upgrade, Hijacker h) {
    this.upgradeRequested = upgrade;
    this.hijacker = h;
  }

  /** Whether the request asked to upgrade the connection to a raw stream. */
  public boolean upgradeRequested() {
    return upgradeRequested;
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

  /**
   * Takes the connection over as dockerd does for attach and exec: answers {@code 101 UPGRADED} (or
   * {@code 200 OK} when the request did not ask for an upgrade) with the multiplexed-stream content
   * type, or the raw-stream one for a {@code tty}, then the connection carries raw bytes both ways.
   * Headers added with {@link #header} are sent too. Nothing else may be sent through this response.
   */
  public Hijacked hijack(boolean tty) throws IOException {
    if (hijacker == null) {
      throw new IllegalStateException("this connection cannot be hijacked");
    }
    if (committed) {
      throw new IllegalStateException("reply already committed");
    }
    committed = true;
    keepAlive = false;
    extra.remove(HttpHeaderNames.CONNECTION);
    extra.remove(HttpHeaderNames.UPGRADE);
    extra.remove(HttpHeaderNames.CONTENT_LENGTH);
    extra.remove(HttpHeaderNames.TRANSFER_ENCODING);
    extra.set(HttpHeaderNames.CONTENT_TYPE, tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    StringBuilder head = new StringBuilder(upgradeRequested ? "HTTP/1.1 101 UPGRADED\r\n" : "HTTP/1.1 200 OK\r\n");
    extra.forEach(e -> head.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n"));
    if (upgradeRequested) {
      head.append("Connection: Upgrade\r\nUpgrade: tcp\r\n");
    }
    head.append("\r\n");
    hijacked = true;
    channel.closeFuture().addListener(f -> done.complete(null));
    try {
      return hijacker.takeOver(head.toString().getBytes(StandardCharsets.ISO_8859_1));
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** The content type of a hijacked stream carrying stdout and stderr in frames ({@link Stdcopy}). */
  public static final String MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream";
  /** The content type of a hijacked tty stream: raw bytes. */
  public static final String RAW_STREAM = "application/vnd.docker.raw-stream";

  /** Whether this reply took the connection over. */
  boolean hijacked() {
    return hijacked;
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

    @Override
    public void flush() throws IOException {
      if (!channel.isActive()) {
        throw new IOException("client disconnected");
      }
      channel.flush();
    }

    private void awaitWritable() throws IOException {
      Backpressure.awaitWritable(channel, writability);
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
