package berth.engine.api.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * One connection: hands each request to a handler thread with its body as a stream, and keeps the
 * replies of pipelined requests in order by running them one after another.
 */
final class HttpServerHandler extends ChannelInboundHandlerAdapter {
  private final RouteTable table;
  private final Executor pool;
  private final HttpHeaders baseHeaders;
  private final Object writability = new Object();
  private BodyInputStream current;
  private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);

  HttpServerHandler(RouteTable table, Executor pool, HttpHeaders baseHeaders) {
    this.table = table;
    this.pool = pool;
    this.baseHeaders = baseHeaders;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
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
        current = body;
        tail = tail.thenComposeAsync(x -> dispatch(ctx, req, body), pool).exceptionally(t -> null);
      }
      if (msg instanceof HttpContent content && current != null) {
        current.offer(content.content().retain());
        if (msg instanceof LastHttpContent) {
          current.finish();
        }
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private CompletableFuture<Void> dispatch(ChannelHandlerContext ctx, HttpRequest req, BodyInputStream body) {
    String method = req.method().name();
    boolean head = method.equals("HEAD");
    ApiResponse res = new ApiResponse(ctx.channel(), head, HttpUtil.isKeepAlive(req), baseHeaders.copy(), writability);
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
      ErrorResponder.respond(request, res, t);
      if (!res.done().isDone() && res.committed()) {
        ctx.close(); // a stream broke mid-way: the client must see a broken reply, not a clean end
      }
    } finally {
      body.close(); // whatever of the body the handler left unread is discarded as it arrives
    }
    return res.done();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (current != null) {
      current.fail(new IOException("client disconnected"));
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
