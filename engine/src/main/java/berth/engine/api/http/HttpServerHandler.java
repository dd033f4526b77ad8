package berth.engine.api.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One connection: hands each request to a handler thread with its body as a stream, and keeps the
 * replies of pipelined requests in order by running them one after another.
 *
 * <p>A connection can leave HTTP for a raw byte stream ({@link ApiResponse#hijack}). A request asking
 * for it ({@code Upgrade: tcp}) switches reading to raw as soon as its body ends, so bytes the client
 * sends right behind it are kept for the stream; the reply then closes the connection unless the
 * handler hijacks it. Without the header the switch happens when the handler hijacks.
 */
final class HttpServerHandler extends ChannelInboundHandlerAdapter {
  private final RouteTable table;
  private final Executor pool;
  private final HttpHeaders baseHeaders;
  private final Object writability = new Object();
  private BodyInputStream current;
  private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
  /** The current request asked for an upgrade; reading goes raw when its body ends. Event loop only. */
  private boolean upgradePending;
  /** Non-null once the connection reads raw bytes: the client's input of the hijacked stream. */
  private BodyInputStream raw;
  private boolean taken;

  HttpServerHandler(RouteTable table, Executor pool, HttpHeaders baseHeaders) {
    this.table = table;
    this.pool = pool;
    this.baseHeaders = baseHeaders;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (raw != null) {
        if (msg instanceof ByteBuf buf) {
          raw.offer(buf.retain());
        }
        return; // HTTP messages decoded before the switch are not part of the stream
      }
      if (msg instanceof HttpRequest req) {
        if (req.decoderResult().isFailure()) {
          DefaultFullHttpResponse bad = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST);
          bad.headers().setInt("Content-Length", 0);
          ctx.writeAndFlush(bad).addListener(f -> ctx.close());
          current = null;
          return;
        }
        if (HttpUtil.is100ContinueExpected(req)) {
          ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        }
        BodyInputStream body = new BodyInputStream(ctx.channel());
        boolean upgrade = wantsUpgrade(req);
        current = body;
        upgradePending = upgrade;
        tail = tail.thenComposeAsync(x -> dispatch(ctx, req, body, upgrade), pool).exceptionally(t -> null);
      }
      if (msg instanceof HttpContent content && current != null) {
        current.offer(content.content().retain());
        if (msg instanceof LastHttpContent) {
          current.finish();
          if (upgradePending) {
            goRaw(ctx);
          }
        }
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  /** {@code Upgrade: tcp}, as the docker CLI sends for attach and exec (dockerd looks at the Upgrade header). */
  private static boolean wantsUpgrade(HttpRequest req) {
    for (String v : req.headers().getAll("Upgrade")) {
      for (String token : v.split(",")) {
        if (token.trim().equalsIgnoreCase("tcp")) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Switches reading to raw bytes (event loop only): the HTTP decoder leaves the pipeline and hands on
   * whatever it holds beyond the request; the socket may now be half-closed by the client.
   */
  private BodyInputStream goRaw(ChannelHandlerContext ctx) {
    if (raw == null) {
      raw = new BodyInputStream(ctx.channel());
      current = null;
      upgradePending = false;
      ctx.channel().config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
      keepEpollRegistration(ctx.channel());
      HttpServerCodec codec = ctx.pipeline().get(HttpServerCodec.class);
      if (codec != null) {
        codec.removeInboundHandler(); // its unread bytes come to channelRead, where raw now takes them
      }
    }
    return raw;
  }

  /**
   * Netty 4.2's epoll transport removes a socket from epoll once it asks for no event at all (after its
   * input is shut down, reads paused and writes done) but still believes it registered, so asking for
   * EPOLLOUT later fails with ENOENT and Netty shuts the output down mid-stream. A half-closed hijacked
   * connection gets there easily; keeping the edge-triggered bit in its interest set means it never
   * asks for nothing. Best effort: other transports do not need it.
   */
  private static void keepEpollRegistration(io.netty.channel.Channel ch) {
    try {
      Class<?> epoll = Class.forName("io.netty.channel.epoll.AbstractEpollChannel");
      if (!epoll.isInstance(ch)) {
        return;
      }
      java.lang.reflect.Method setFlag = epoll.getDeclaredMethod("setFlag", int.class);
      setFlag.setAccessible(true);
      setFlag.invoke(ch, io.netty.channel.epoll.Native.EPOLLET);
    } catch (ReflectiveOperationException | RuntimeException e) {
      // an other Netty: nothing to work around, or nothing we can do
    }
  }

  /** Called on a handler thread: leaves HTTP for good and writes {@code head} as raw bytes. */
  private Hijacked takeOver(ChannelHandlerContext ctx, byte[] head) throws IOException {
    CompletableFuture<Hijacked> result = new CompletableFuture<>();
    Runnable r = () -> {
      try {
        BodyInputStream in = goRaw(ctx);
        taken = true;
        if (ctx.pipeline().get(HttpServerCodec.class) != null) {
          ctx.pipeline().remove(HttpServerCodec.class);
        }
        ChannelFuture written = ctx.channel().writeAndFlush(Unpooled.wrappedBuffer(head));
        if (!ctx.channel().isActive()) {
          in.fail(new IOException("client disconnected"));
        }
        result.complete(new Hijacked(ctx.channel(), in, writability, written));
      } catch (Throwable t) {
        result.completeExceptionally(t);
      }
    };
    if (ctx.executor().inEventLoop()) {
      r.run();
    } else {
      ctx.executor().execute(r);
    }
    try {
      return result.get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while taking the connection over");
    } catch (ExecutionException e) {
      throw new IOException("could not take the connection over", e.getCause());
    } catch (TimeoutException e) {
      throw new IOException("timed out taking the connection over");
    }
  }

  private CompletableFuture<Void> dispatch(ChannelHandlerContext ctx, HttpRequest req, BodyInputStream body, boolean upgrade) {
    String method = req.method().name();
    boolean head = method.equals("HEAD");
    // after an upgrade request the connection reads raw bytes: it cannot carry another request
    ApiResponse res = new ApiResponse(ctx.channel(), head, !upgrade && HttpUtil.isKeepAlive(req), baseHeaders.copy(), writability);
    res.hijackable(upgrade, h -> takeOver(ctx, h));
    QueryStringDecoder qs = new QueryStringDecoder(req.uri());
    Map<String, String> headers = new HashMap<>();
    req.headers().forEach(e -> headers.putIfAbsent(e.getKey().toLowerCase(Locale.ROOT), e.getValue()));
    ApiRequest request = new ApiRequest(method, qs.rawPath(), Map.of(), qs.parameters(), headers, ApiVersion.CURRENT, body);
    try {
      RouteTable.Match m = table.find(method, qs.rawPath());
      request = new ApiRequest(method, m.path(), m.params(), qs.parameters(), headers, m.version(), body);
      m.route().handler().handle(request, res);
      if (!res.committed()) {
        res.empty(204);
      }
    } catch (Throwable t) {
      // Only a reply already under way is broken off: an error reply just queued is not done yet either, and
      // closing then raced its write, so a client reusing the connection (docker cp's HEAD 404, then PUT) lost it.
      boolean midway = res.committed();
      ErrorResponder.respond(request, res, t);
      if (midway && !res.done().isDone()) {
        ctx.close(); // a stream broke mid-way: the client must see a broken reply, not a clean end
      }
    } finally {
      body.close(); // whatever of the body the handler left unread is discarded as it arrives
    }
    return res.done();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (raw != null && evt instanceof ChannelInputShutdownEvent) {
      raw.finish(); // the client shut down its write side: end of stdin, output may go on
      if (ctx.channel() instanceof DuplexChannel d && d.isOutputShutdown()) {
        ctx.close();
      }
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (current != null) {
      current.fail(new IOException("client disconnected"));
    }
    if (raw != null) {
      raw.fail(new IOException("client disconnected"));
      if (!taken) {
        raw.close(); // nobody will read it
      }
    }
    synchronized (writability) {
      writability.notifyAll();
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    synchronized (writability) {
      writability.notifyAll();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
