package berth.engine.network.dns;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Arrays;
import org.xbill.DNS.Message;

/** Plain blocking DNS exchanges for tests, over already made sockets or new ones. */
final class DnsClient {
  private DnsClient() {}

  /** One UDP exchange on {@code socket}; null on timeout. */
  static Message udp(DatagramSocket socket, InetSocketAddress server, byte[] query, int timeoutMillis)
      throws IOException {
    socket.setSoTimeout(timeoutMillis);
    socket.send(new DatagramPacket(query, query.length, server));
    byte[] buf = new byte[65535];
    DatagramPacket p = new DatagramPacket(buf, buf.length);
    try {
      socket.receive(p);
    } catch (SocketTimeoutException e) {
      return null;
    }
    return new Message(Arrays.copyOf(p.getData(), p.getLength()));
  }

  static Message udp(InetSocketAddress server, Message query) throws IOException {
    try (DatagramSocket s = new DatagramSocket()) {
      return udp(s, server, query.toWire(), 5000);
    }
  }

  /** Writes one length-prefixed message. */
  static void write(Socket s, byte[] wire) throws IOException {
    DataOutputStream out = new DataOutputStream(s.getOutputStream());
    out.writeShort(wire.length);
    out.write(wire);
    out.flush();
  }

  /** Reads one length-prefixed message. */
  static Message read(Socket s) throws IOException {
    DataInputStream in = new DataInputStream(s.getInputStream());
    byte[] b = new byte[in.readUnsignedShort()];
    in.readFully(b);
    return new Message(b);
  }

  static Message tcp(InetSocketAddress server, Message query) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(server, 5000);
      s.setSoTimeout(5000);
      write(s, query.toWire());
      return read(s);
    }
  }
}
