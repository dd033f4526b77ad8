package berth.engine.api.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The engine's HTTP/1.1 server: Netty on epoll, listening on unix sockets (mode 0660) and, only with
 * mutual TLS, on TCP. Handlers run on a pool of blocking threads. Not restartable once closed.
 */
public final class ApiServer implements Closeable {
  private final RouteTable table;
  private final HttpHeaders baseHeaders;
  private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
  private final ExecutorService pool = Executors.newCachedThreadPool(daemonThreads("api-"));
  private final List<Channel> channels = new ArrayList<>();
  private final List<Path> sockets = new ArrayList<>();

  /** Mutual-TLS files for a TCP listener. */
  public record Tls(Path caCert, Path cert, Path key) {}

  public ApiServer(RouteTable table, HttpHeaders baseHeaders) {
    this.table = table;
    this.baseHeaders = baseHeaders;
  }

  /** The headers every reply carries: API-Version, Server, OSType and Docker-Experimental. */
  public static HttpHeaders standardHeaders(String engineVersion) {
    HttpHeaders h = new DefaultHttpHeaders();
    h.set("Api-Version", ApiVersion.CURRENT.toString());
    h.set("Docker-Experimental", "false");
    h.set("Ostype", "linux");
    h.set("Server", "Docker/" + engineVersion + " (linux)");
    return h;
  }

  /**
   * Listens on a {@code unix:///path} or {@code tcp://host:port} address. A unix socket that another
   * live process answers on is refused; a stale one is replaced. TCP requires {@code tls}.
   */
  public void listen(String address, Tls tls) throws IOException {
    URI uri = URI.create(address);
    if ("unix".equals(uri.getScheme())) {
      Path path = Path.of(uri.getPath());
      Files.createDirectories(path.getParent());
      if (Files.exists(path)) {
        if (answers(path)) {
          throw new IOException("socket " + path + " is in use by another process");
        }
        Files.delete(path);
      }
      Channel ch = bootstrap(null).channel(EpollServerDomainSocketChannel.class)
          .bind(new DomainSocketAddress(path.toString())).syncUninterruptibly().channel();
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
      channels.add(ch);
      sockets.add(path);
    } else if ("tcp".equals(uri.getScheme())) {
      if (tls == null) {
        throw new IOException("refusing to listen on " + address + " without mutual TLS (tlsverify, tlscacert, tlscert, tlskey)");
      }
      SslContext ssl = SslContextBuilder.forServer(tls.cert().toFile(), tls.key().toFile())
          .trustManager(tls.caCert().toFile()).clientAuth(ClientAuth.REQUIRE).build();
      int port = uri.getPort() < 0 ? 2376 : uri.getPort();
      Channel ch = bootstrap(ssl).channel(EpollServerSocketChannel.class)
          .bind(new InetSocketAddress(uri.getHost(), port)).syncUninterruptibly().channel();
      channels.add(ch);
    } else {
      throw new IOException("unsupported listen address " + address + " (use unix:///path or tcp://host:port)");
    }
  }

  private ServerBootstrap bootstrap(SslContext ssl) {
    return new ServerBootstrap().group(loop)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 << 10, 1 << 20))
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            if (ssl != null) {
              ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
            }
            ch.pipeline().addLast(new HttpServerCodec(8192, 64 << 10, 64 << 10));
            ch.pipeline().addLast(new HttpServerHandler(table, pool, baseHeaders));
          }
        });
  }

  private static boolean answers(Path socket) {
    try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      c.connect(UnixDomainSocketAddress.of(socket));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Stops listening, lets running handlers finish for up to a few seconds, and removes the sockets. */
  @Override
  public void close() {
    channels.forEach(c -> c.close().syncUninterruptibly());
    for (Path p : sockets) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        // nothing more to do on the way down
      }
    }
    pool.shutdown();
    loop.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    pool.shutdownNow();
  }

  /** A thread factory of named daemon threads. */
  public static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
