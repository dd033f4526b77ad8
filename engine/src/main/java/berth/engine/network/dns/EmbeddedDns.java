package berth.engine.network.dns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.logging.Logger;

/**
 * The embedded DNS server, Berth's counterpart of Docker's 127.0.0.11: each attached container finds
 * a resolver at 127.0.0.11:53 inside its own network namespace that answers the names the engine
 * knows (containers and aliases on the container's networks, A with TTL 600 and PTR) and forwards
 * everything else, from the engine's namespace, to the upstreams the engine names.
 *
 * <p>Per container, a UDP socket and a TCP listener are bound to random ports on 127.0.0.11 inside
 * the namespace, and nat rules there redirect port 53 to them, so the container can still bind port
 * 53 itself. One thread serves all containers; another, briefly, enters namespaces to make sockets.
 */
public final class EmbeddedDns implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(EmbeddedDns.class.getName());
  private static final Duration ATTEMPT_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration TOTAL_TIMEOUT = Duration.ofSeconds(4);

  /** What the engine knows; called from the DNS threads, must be thread-safe on the engine side. */
  public interface Directory {
    /**
     * IPv4 answers for {@code name} (lower-case, no trailing dot) as the container
     * {@code containerId} sees it; null when the engine does not know the name (then it is
     * forwarded); an empty list when the name is known but has no IPv4 (answer NOERROR with no
     * records, e.g. for AAAA).
     */
    List<Inet4Address> lookup(String containerId, String name);

    /** PTR: the name for an address on the container's networks, or null (then forwarded). */
    String reverse(String containerId, Inet4Address address);

    /**
     * Where to forward other queries, dialled from the engine's (host) namespace, so 127.x
     * upstreams work; an empty list means no forwarding (internal networks): such queries get
     * SERVFAIL, as from moby's resolver without external access.
     */
    List<InetSocketAddress> upstreams(String containerId);
  }

  private final DnsLoop loop;
  private final NetnsThread netns;
  private final Object lock = new Object();
  private final Map<String, Path> attached = new HashMap<>(); // guarded by lock
  private boolean closed; // guarded by lock

  /** A server with no container attached yet; it starts its thread at once. */
  public EmbeddedDns(Directory directory) {
    Objects.requireNonNull(directory, "directory");
    try {
      this.netns = new NetnsThread();
    } catch (IOException e) {
      throw new UncheckedIOException("embedded DNS: cannot open the engine's network namespace", e);
    }
    try {
      this.loop = new DnsLoop(directory, ATTEMPT_TIMEOUT, TOTAL_TIMEOUT);
    } catch (IOException e) {
      netns.close();
      throw new UncheckedIOException("embedded DNS: cannot open a selector", e);
    }
  }

  /**
   * Opens UDP and TCP listeners on 127.0.0.11 (random ports) inside the network namespace at
   * {@code netns} (a bind-mounted nsfs file) and installs there the nat rules that redirect
   * 127.0.0.11:53 to them. The namespace's {@code lo} must be up. Does nothing when
   * {@code containerId} is attached already.
   */
  public void attach(String containerId, Path netns) throws IOException {
    Objects.requireNonNull(containerId, "containerId");
    Objects.requireNonNull(netns, "netns");
    synchronized (lock) {
      if (closed) {
        throw new IOException("the embedded DNS server is closed");
      }
      if (attached.containsKey(containerId)) {
        return;
      }
      Listeners l = this.netns.call(netns, EmbeddedDns::listen);
      try {
        NatRules.install(netns, l.udp.socket().getLocalPort(), l.tcp.socket().getLocalPort());
      } catch (IOException | RuntimeException e) {
        l.close();
        throw e;
      }
      loop.add(containerId, l.udp, l.tcp);
      attached.put(containerId, netns);
      LOG.fine(() -> "embedded DNS: serving " + containerId + " in " + netns + " (udp "
          + l.udp.socket().getLocalPort() + ", tcp " + l.tcp.socket().getLocalPort() + ")");
    }
  }

  /**
   * Closes that container's listeners and drops its queries in flight. The namespace's rules go
   * with the namespace, which the caller deletes.
   */
  public void detach(String containerId) {
    synchronized (lock) {
      if (attached.remove(containerId) != null) {
        loop.remove(containerId);
      }
    }
  }

  /** Stops serving every container, closes all sockets and ends the server's threads. */
  @Override
  public void close() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      attached.clear();
    }
    loop.close();
    netns.close();
  }

  private static final class Listeners {
    final DatagramChannel udp;
    final ServerSocketChannel tcp;

    Listeners(DatagramChannel udp, ServerSocketChannel tcp) {
      this.udp = udp;
      this.tcp = tcp;
    }

    void close() {
      try {
        udp.close();
      } catch (IOException e) {
        // nothing to do
      }
      try {
        tcp.close();
      } catch (IOException e) {
        // nothing to do
      }
    }
  }

  /** Runs inside the container's namespace: the two listeners on 127.0.0.11, random ports. */
  private static Listeners listen() throws IOException {
    InetAddress resolver = InetAddress.getByName(NatRules.RESOLVER);
    DatagramChannel udp = DatagramChannel.open(StandardProtocolFamily.INET);
    ServerSocketChannel tcp = null;
    try {
      udp.bind(new InetSocketAddress(resolver, 0));
      tcp = ServerSocketChannel.open(StandardProtocolFamily.INET);
      tcp.bind(new InetSocketAddress(resolver, 0), 128);
      return new Listeners(udp, tcp);
    } catch (IOException | RuntimeException e) {
      udp.close();
      if (tcp != null) {
        tcp.close();
      }
      throw e;
    }
  }
}
