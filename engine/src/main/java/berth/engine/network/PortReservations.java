package berth.engine.network;

import berth.engine.errdefs.EngineException;
import java.io.Closeable;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.NetworkChannel;
import java.nio.channels.SocketChannel;

/**
 * Holds a published host port for as long as its container runs: a socket bound to it that never listens (TCP)
 * or reads (UDP). Traffic to the port is DNATed in the kernel before it could reach the socket; the socket only
 * makes another program's bind fail, and ours fail if the port is taken (Docker's behaviour without the
 * userland proxy).
 */
final class PortReservations {
  private PortReservations() {}

  /** A bound socket and the port it got (the one asked for, or an ephemeral one for 0). */
  record Reservation(String proto, String hostIp, int port, NetworkChannel channel) implements Closeable {
    @Override
    public void close() {
      try {
        channel.close();
      } catch (IOException e) {
        // closing a bound socket does not fail in practice
      }
    }
  }

  /**
   * Binds {@code proto} on {@code hostIp} ("" = every address) at one of {@code first..last} (0..0 = ephemeral).
   * {@code what} names the mapping in the error, e.g. 0.0.0.0:8080:172.17.0.2:80/tcp.
   */
  static Reservation reserve(String proto, String hostIp, int first, int last, String what) {
    String ip = hostIp == null || hostIp.isEmpty() ? "0.0.0.0" : hostIp;
    IOException lastError = null;
    for (int port = first; port <= last; port++) {
      NetworkChannel ch = null;
      try {
        ch = proto.equals("udp") ? DatagramChannel.open(StandardProtocolFamily.INET)
            : SocketChannel.open(StandardProtocolFamily.INET);
        ch.bind(new InetSocketAddress(InetAddress.getByName(ip), port));
        int got = ((InetSocketAddress) ch.getLocalAddress()).getPort();
        return new Reservation(proto, ip, got, ch);
      } catch (IOException e) {
        lastError = e;
        closeQuietly(ch);
      }
    }
    String why = lastError instanceof BindException && lastError.getMessage() != null
        && lastError.getMessage().contains("in use") ? "address already in use"
        : lastError == null ? "no port" : lastError.getMessage();
    if (first != last) {
      throw EngineException.system("failed to bind host port for " + what + ": all ports in range " + first + "-"
          + last + " are in use (last error: " + why + ")", null);
    }
    throw EngineException.system("failed to bind host port for " + what + ": " + why, null);
  }

  private static void closeQuietly(NetworkChannel ch) {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException e) {
        // nothing held
      }
    }
  }
}
