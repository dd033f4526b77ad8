package berth.vm.socket;

import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A unix socket on the host (mode 0600, in a directory created 0700) whose every connection is bridged to
 * the guest by a {@link GuestDialer} — the engine's API socket as {@code ~/.berth/run/docker.sock}. A dial
 * that fails ends only that connection; the next one dials again, so a dialer that reconnects makes the
 * forward recover by itself. Thread-safe; {@link #close()} is idempotent, removes the socket file and ends
 * every connection. The dialer stays its owner's.
 */
public final class SocketForward implements Closeable {
  private static final Logger LOG = Logger.getLogger(SocketForward.class.getName());
  private static final AtomicInteger SEQ = new AtomicInteger();
  private final Path socket;
  private final ServerSocketChannel server;
  private final GuestDialer dialer;
  private final Set<SocketChannel> connections = ConcurrentHashMap.newKeySet();
  private final ExecutorService dials;
  private volatile boolean closed;

  private SocketForward(Path socket, ServerSocketChannel server, GuestDialer dialer) {
    this.socket = socket;
    this.server = server;
    this.dialer = dialer;
    int n = SEQ.incrementAndGet();
    this.dials = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "socket-forward-" + n + "-dial");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Listens on {@code socket} and starts accepting. A socket file already there is replaced only if nothing
   * answers on it; a live one, or any other kind of file, is an error that names it.
   */
  public static SocketForward start(Path socket, GuestDialer dialer) throws IOException {
    Path path = socket.toAbsolutePath().normalize();
    Path dir = path.getParent();
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    removeStale(path);
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      server.bind(UnixDomainSocketAddress.of(path));
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      server.close();
      throw new IOException("cannot listen on " + path + ": " + e.getMessage(), e);
    }
    SocketForward f = new SocketForward(path, server, dialer);
    Thread t = new Thread(f::acceptLoop, "socket-forward-" + path.getFileName());
    t.setDaemon(true);
    t.start();
    return f;
  }

  /** Deletes a socket file nobody answers on; refuses a live socket and anything that is not a socket. */
  static void removeStale(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther()) {
      throw new FileAlreadyExistsException(path.toString(), null, "exists and is not a socket; not replacing it");
    }
    try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      probe.connect(UnixDomainSocketAddress.of(path));
      throw new FileAlreadyExistsException(path.toString(), null, "another process is already serving this socket");
    } catch (FileAlreadyExistsException e) {
      throw e;
    } catch (IOException e) {
      LOG.info("replacing stale socket " + path + " (" + e.getMessage() + ")");
      Files.deleteIfExists(path);
    }
  }

  /** The socket's path. */
  public Path socket() {
    return socket;
  }

  private void acceptLoop() {
    while (!closed) {
      SocketChannel client;
      try {
        client = server.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (!closed) {
          LOG.log(Level.WARNING, "accept on " + socket + " failed", e);
        }
        return;
      }
      connections.removeIf(c -> !c.isOpen());
      connections.add(client);
      dials.execute(() -> dial(client));
    }
  }

  private void dial(SocketChannel client) {
    try {
      dialer.bridge(client);
    } catch (IOException | RuntimeException e) {
      // The client sees its connection close; the next connection dials again.
      LOG.warning("forwarding a connection on " + socket + " failed: " + e.getMessage());
      closeQuietly(client);
    }
  }

  private static void closeQuietly(SocketChannel c) {
    try {
      c.close();
    } catch (IOException e) {
      // nothing more to do
    }
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      server.close();
    } finally {
      Files.deleteIfExists(socket);
      connections.forEach(SocketForward::closeQuietly);
      connections.clear();
      dials.shutdownNow();
    }
  }
}
