package berth.engine.network.dns;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;

/**
 * An upstream DNS server for tests on 127.0.0.1 (UDP and TCP, same port): answers every A query
 * with {@link #ADDRESS}, or fails as told.
 */
final class FakeUpstream implements AutoCloseable {
  static final String ADDRESS = "192.0.2.7";

  enum Mode { ANSWER, SERVFAIL, SILENT, STRAY_THEN_ANSWER }

  final DatagramSocket udp;
  final ServerSocket tcp;
  volatile Mode mode = Mode.ANSWER;
  /** The IDs of the queries received, UDP and TCP. */
  final List<Integer> ids = new CopyOnWriteArrayList<>();
  final List<String> transports = new CopyOnWriteArrayList<>();
  private final Thread udpThread;
  private final Thread tcpThread;

  FakeUpstream() throws IOException {
    InetAddress lo = InetAddress.getLoopbackAddress();
    tcp = new ServerSocket(0, 50, lo);
    udp = new DatagramSocket(new InetSocketAddress(lo, tcp.getLocalPort()));
    udpThread = new Thread(this::serveUdp, "fake-upstream-udp");
    tcpThread = new Thread(this::serveTcp, "fake-upstream-tcp");
    udpThread.setDaemon(true);
    tcpThread.setDaemon(true);
    udpThread.start();
    tcpThread.start();
  }

  InetSocketAddress address() {
    return new InetSocketAddress(InetAddress.getLoopbackAddress(), tcp.getLocalPort());
  }

  /** The response to {@code query}, null for none. */
  private Message respond(Message query, String transport) {
    ids.add(query.getHeader().getID());
    transports.add(transport);
    Message resp = new Message(query.getHeader().getID());
    resp.getHeader().setFlag(Flags.QR);
    resp.getHeader().setFlag(Flags.RA);
    resp.addRecord(query.getQuestion(), Section.QUESTION);
    switch (mode) {
      case SILENT:
        return null;
      case SERVFAIL:
        resp.getHeader().setRcode(Rcode.SERVFAIL);
        return resp;
      default:
        try {
          resp.addRecord(new ARecord(query.getQuestion().getName(), DClass.IN, 30,
              InetAddress.getByName(ADDRESS)), Section.ANSWER);
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
        return resp;
    }
  }

  private void serveUdp() {
    byte[] buf = new byte[65535];
    while (!udp.isClosed()) {
      try {
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        udp.receive(p);
        Message q = new Message(java.util.Arrays.copyOf(p.getData(), p.getLength()));
        Message r = respond(q, "udp");
        if (r == null) {
          continue;
        }
        if (mode == Mode.STRAY_THEN_ANSWER) {
          Message stray = r.clone();
          stray.getHeader().setID((q.getHeader().getID() + 1) & 0xffff);
          stray.removeAllRecords(Section.ANSWER);
          byte[] s = stray.toWire();
          udp.send(new DatagramPacket(s, s.length, p.getSocketAddress()));
        }
        byte[] w = r.toWire();
        udp.send(new DatagramPacket(w, w.length, p.getSocketAddress()));
      } catch (SocketException e) {
        return;
      } catch (IOException e) {
        // a malformed query: ignore
      }
    }
  }

  private void serveTcp() {
    while (!tcp.isClosed()) {
      try (Socket s = tcp.accept()) {
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        byte[] q = new byte[in.readUnsignedShort()];
        in.readFully(q);
        Message r = respond(new Message(q), "tcp");
        if (r != null) {
          byte[] w = r.toWire();
          out.writeShort(w.length);
          out.write(w);
          out.flush();
        } else {
          Thread.sleep(5000);
        }
      } catch (IOException | InterruptedException e) {
        // next connection, or closed
      }
    }
  }

  @Override
  public void close() throws IOException {
    udp.close();
    tcp.close();
    tcpThread.interrupt();
    try {
      udpThread.join(5000);
      tcpThread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
