package berth.engine.api.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * The engine's real HTTP pipeline — {@link HttpServerCodec} sized as {@link ApiServer} sizes it, then
 * {@link HttpServerHandler} with {@link ApiServer#standardHeaders} — on Netty's {@link EmbeddedChannel},
 * with handlers running on real threads as in production. Tests write raw HTTP/1.1 bytes and read
 * parsed replies, so everything between the socket and the router is the shipped code.
 *
 * <p>EmbeddedChannel's event loop claims every thread is inside it, so handler threads write straight
 * into the channel. A small outbound handler between the codec and {@link HttpServerHandler} makes each
 * such write, flush and close hold the lock the test thread holds while it feeds or drains the channel.
 * Reads are not locked: a handler thread resumes reading while holding the body stream's monitor, and
 * the test thread takes the two in the opposite order.
 */
public final class EmbeddedApiServer implements AutoCloseable {
  public static final String ENGINE_VERSION = "0.0.0-test";
  public static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final Object lock = new Object();
  private final ExecutorService pool = Executors.newCachedThreadPool(ApiServer.daemonThreads("test-api-"));
  private final EmbeddedChannel channel;
  private final Deque<String> sentMethods = new ArrayDeque<>();
  private byte[] pending = new byte[0];

  public EmbeddedApiServer(Router... routers) {
    RouteTable table = new RouteTable(List.of(routers));
    channel = new EmbeddedChannel(
        new HttpServerCodec(8192, 64 << 10, 64 << 10),
        new LockedWrites(),
        new HttpServerHandler(table, pool, ApiServer.standardHeaders(ENGINE_VERSION)));
  }

  /** Sends one request and waits for its reply. */
  public ApiReply exchange(String method, String uri, Map<String, String> headers, byte[] body) {
    send(method, uri, headers, body);
    return awaitReply();
  }

  public ApiReply get(String uri) {
    return exchange("GET", uri, Map.of(), null);
  }

  public ApiReply head(String uri) {
    return exchange("HEAD", uri, Map.of(), null);
  }

  public ApiReply delete(String uri) {
    return exchange("DELETE", uri, Map.of(), null);
  }

  public ApiReply post(String uri) {
    return exchange("POST", uri, Map.of(), null);
  }

  public ApiReply post(String uri, String contentType, byte[] body) {
    return exchange("POST", uri, Map.of("Content-Type", contentType), body);
  }

  /** Writes one request without waiting for the reply. */
  public void send(String method, String uri, Map<String, String> headers, byte[] body) {
    byte[] head = requestHead(method, uri, headers, body == null ? null : (long) body.length);
    sendRaw(head, method);
    if (body != null && body.length > 0) {
      writeInbound(body);
    }
  }

  /** The request line and headers of a request; with a Content-Length when {@code contentLength} is set. */
  public static byte[] requestHead(String method, String uri, Map<String, String> headers, Long contentLength) {
    StringBuilder sb = new StringBuilder();
    sb.append(method).append(' ').append(uri).append(" HTTP/1.1\r\nHost: berth\r\n");
    headers.forEach((k, v) -> sb.append(k).append(": ").append(v).append("\r\n"));
    if (contentLength != null) {
      sb.append("Content-Length: ").append(contentLength).append("\r\n");
    }
    sb.append("\r\n");
    return sb.toString().getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * Writes raw bytes holding the starts of requests with the given methods (in order), so that their
   * replies can be framed (a reply to HEAD has no body).
   */
  public void sendRaw(byte[] bytes, String... methods) {
    synchronized (lock) {
      sentMethods.addAll(Arrays.asList(methods));
    }
    writeInbound(bytes);
  }

  /** Feeds bytes to the server as the socket would. */
  public void writeInbound(byte[] bytes) {
    synchronized (lock) {
      channel.writeInbound(Unpooled.wrappedBuffer(bytes));
    }
  }

  public ApiReply awaitReply() {
    return awaitReplies(1).get(0);
  }

  /** Waits for the next n replies, in the order they were written. */
  public List<ApiReply> awaitReplies(int n) {
    List<ApiReply> out = new ArrayList<>();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (out.size() < n) {
      ApiReply r;
      synchronized (lock) {
        drain();
        r = parse(!channel.isOpen());
      }
      if (r != null) {
        out.add(r);
        continue;
      }
      synchronized (lock) {
        if (!channel.isOpen() && pending.length == 0) {
          throw new AssertionError("connection closed after " + out.size() + " of " + n + " replies");
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no complete reply within " + TIMEOUT + "; got " + out.size() + " of " + n
            + ", unparsed bytes: " + new String(pending, StandardCharsets.ISO_8859_1));
      }
      sleep();
    }
    return out;
  }

  /** Bytes the server sent that are not part of any reply read so far (after a short settle). */
  public int strayBytes() {
    sleepMillis(50);
    synchronized (lock) {
      drain();
      return pending.length;
    }
  }

  /** Polls a condition for up to {@link #TIMEOUT}, running the channel's pending tasks meanwhile. */
  public boolean await(BooleanSupplier condition) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      synchronized (lock) {
        channel.runPendingTasks();
      }
      if (condition.getAsBoolean()) {
        return true;
      }
      sleep();
    }
    return condition.getAsBoolean();
  }

  public boolean isAutoRead() {
    return channel.config().isAutoRead();
  }

  public boolean isOpen() {
    synchronized (lock) {
      channel.runPendingTasks();
      return channel.isOpen();
    }
  }

  /** Drops the connection as a client that hangs up would; the handler threads keep running. */
  public void hangUp() {
    synchronized (lock) {
      channel.close();
      channel.runPendingTasks();
    }
  }

  @Override
  public void close() {
    synchronized (lock) {
      channel.finishAndReleaseAll();
    }
    pool.shutdownNow();
  }

  private void drain() {
    channel.runPendingTasks();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(pending);
    for (Object o = channel.readOutbound(); o != null; o = channel.readOutbound()) {
      ByteBuf b = (ByteBuf) o;
      byte[] bytes = new byte[b.readableBytes()];
      b.readBytes(bytes);
      b.release();
      out.writeBytes(bytes);
    }
    pending = out.toByteArray();
  }

  /** Takes one whole reply off the front of {@link #pending}, or null if it has not all arrived. */
  private ApiReply parse(boolean closed) {
    while (true) {
      int end = indexOf(pending, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0);
      if (end < 0) {
        return null;
      }
      String[] lines = new String(pending, 0, end, StandardCharsets.ISO_8859_1).split("\r\n");
      int status = Integer.parseInt(lines[0].split(" ")[1]);
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.putIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
      int bodyStart = end + 4;
      if (status >= 100 && status < 200) {
        pending = Arrays.copyOfRange(pending, bodyStart, pending.length);
        continue; // an interim reply such as 100 Continue: not an answer
      }
      String method = sentMethods.peek();
      boolean noBody = "HEAD".equals(method) || status == 204 || status == 304;
      if (noBody) {
        return take(status, headers, new byte[0], false, true, bodyStart);
      }
      if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        int p = bodyStart;
        while (true) {
          int lineEnd = indexOf(pending, "\r\n".getBytes(StandardCharsets.US_ASCII), p);
          if (lineEnd < 0) {
            return closed ? take(status, headers, body.toByteArray(), true, false, pending.length) : null;
          }
          int size = Integer.parseInt(new String(pending, p, lineEnd - p, StandardCharsets.US_ASCII).split(";")[0].trim(), 16);
          if (size == 0) {
            int trailerEnd = indexOf(pending, "\r\n".getBytes(StandardCharsets.US_ASCII), lineEnd + 2);
            if (trailerEnd != lineEnd + 2) {
              return closed ? take(status, headers, body.toByteArray(), true, false, pending.length) : null;
            }
            return take(status, headers, body.toByteArray(), true, true, trailerEnd + 2);
          }
          if (pending.length < lineEnd + 2 + size + 2) {
            if (closed) {
              body.write(pending, lineEnd + 2, Math.min(size, pending.length - lineEnd - 2));
              return take(status, headers, body.toByteArray(), true, false, pending.length);
            }
            return null;
          }
          body.write(pending, lineEnd + 2, size);
          p = lineEnd + 2 + size + 2;
        }
      }
      String cl = headers.get("content-length");
      if (cl != null) {
        int len = Integer.parseInt(cl);
        if (pending.length - bodyStart < len) {
          return closed ? take(status, headers, Arrays.copyOfRange(pending, bodyStart, pending.length), false, false,
              pending.length) : null;
        }
        return take(status, headers, Arrays.copyOfRange(pending, bodyStart, bodyStart + len), false, true, bodyStart + len);
      }
      // neither length nor chunking: the body runs until the connection closes
      return closed ? take(status, headers, Arrays.copyOfRange(pending, bodyStart, pending.length), false, true,
          pending.length) : null;
    }
  }

  private ApiReply take(int status, Map<String, String> headers, byte[] body, boolean chunked, boolean complete, int consumed) {
    pending = Arrays.copyOfRange(pending, consumed, pending.length);
    sentMethods.poll();
    return new ApiReply(status, headers, body, chunked, complete);
  }

  private static int indexOf(byte[] hay, byte[] needle, int from) {
    outer:
    for (int i = from; i <= hay.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  private static void sleep() {
    sleepMillis(2);
  }

  private static void sleepMillis(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** Makes writes, flushes and closes from handler threads hold the test's channel lock. */
  private final class LockedWrites extends ChannelOutboundHandlerAdapter {
    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      synchronized (lock) {
        ctx.write(msg, promise);
      }
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
      synchronized (lock) {
        ctx.flush();
      }
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
      synchronized (lock) {
        ctx.close(promise);
      }
    }
  }
}
