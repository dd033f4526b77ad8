package berth.engine.network.dns;

import static berth.engine.network.dns.AnswersTest.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The selector loop on 127.0.0.1 in this namespace (no root): local answers over UDP and TCP,
 * forwarding, failures, malformed input, removal and shutdown.
 */
class DnsLoopTest {
  private final FakeDirectory dir = new FakeDirectory().name("web", "172.18.0.2").ptr("172.18.0.2", "web");
  private DnsLoop loop;
  private FakeUpstream upstream;
  private DatagramChannel udp;
  private ServerSocketChannel tcp;
  private InetSocketAddress udpAddr;
  private InetSocketAddress tcpAddr;

  @BeforeEach
  void start() throws Exception {
    loop = new DnsLoop(dir, Duration.ofMillis(400), Duration.ofMillis(800));
    upstream = new FakeUpstream();
    InetAddress lo = InetAddress.getLoopbackAddress();
    udp = DatagramChannel.open().bind(new InetSocketAddress(lo, 0));
    tcp = ServerSocketChannel.open().bind(new InetSocketAddress(lo, 0));
    udpAddr = (InetSocketAddress) udp.getLocalAddress();
    tcpAddr = (InetSocketAddress) tcp.getLocalAddress();
    assertTrue(loop.add("c1", udp, tcp));
  }

  @AfterEach
  void stop() throws Exception {
    loop.close();
    upstream.close();
    assertFalse(udp.isOpen());
    assertFalse(tcp.isOpen());
  }

  private static String address(Message m) {
    return ((ARecord) m.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress();
  }

  @Test
  void answersKnownNamesOverUdpAndTcp() throws Exception {
    Message q = query("web", Type.A);
    Message r = DnsClient.udp(udpAddr, q);
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    assertEquals("172.18.0.2", address(r));
    Message t = DnsClient.tcp(tcpAddr, query("web", Type.A));
    assertEquals("172.18.0.2", address(t));
  }

  @Test
  void tcpConnectionsCarrySeveralQueriesAndSplitWrites() throws Exception {
    try (Socket s = new Socket()) {
      s.connect(tcpAddr, 5000);
      s.setSoTimeout(5000);
      Message q1 = query("web", Type.A);
      Message q2 = query("2.0.18.172.in-addr.arpa", Type.PTR);
      byte[] w1 = q1.toWire();
      // the first query in two pieces, the length bytes split
      s.getOutputStream().write(new byte[] {(byte) (w1.length >>> 8)});
      s.getOutputStream().flush();
      Thread.sleep(50);
      s.getOutputStream().write(new byte[] {(byte) w1.length});
      s.getOutputStream().write(w1, 0, 5);
      s.getOutputStream().flush();
      Thread.sleep(50);
      s.getOutputStream().write(w1, 5, w1.length - 5);
      DnsClient.write(s, q2.toWire());
      Message r1 = DnsClient.read(s);
      Message r2 = DnsClient.read(s);
      assertEquals(q1.getHeader().getID(), r1.getHeader().getID());
      assertEquals("172.18.0.2", address(r1));
      assertEquals(q2.getHeader().getID(), r2.getHeader().getID());
      assertEquals(Type.PTR, r2.getSection(Section.ANSWER).get(0).getType());
    }
  }

  @Test
  void unknownNamesAreForwardedUnderAFreshIdAndAnsweredUnderTheClients() throws Exception {
    dir.upstreams = List.of(upstream.address());
    Message q = query("example.com", Type.A);
    Message r = DnsClient.udp(udpAddr, q);
    assertEquals(Rcode.NOERROR, r.getRcode());
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    assertEquals(FakeUpstream.ADDRESS, address(r));
    assertEquals(List.of("udp"), upstream.transports);
    Message t = DnsClient.tcp(tcpAddr, query("example.org", Type.A));
    assertEquals(FakeUpstream.ADDRESS, address(t));
    assertEquals(List.of("udp", "tcp"), upstream.transports, "TCP queries go upstream over TCP");
  }

  @Test
  void ptrOfUnknownAddressesIsForwarded() throws Exception {
    dir.upstreams = List.of(upstream.address());
    Message r = DnsClient.udp(udpAddr, query("8.8.8.8.in-addr.arpa", Type.PTR));
    assertEquals(Rcode.NOERROR, r.getRcode());
    assertEquals(1, upstream.ids.size());
  }

  @Test
  void noUpstreamMeansServfail() throws Exception {
    Message q = query("example.com", Type.A);
    Message r = DnsClient.udp(udpAddr, q);
    assertEquals(Rcode.SERVFAIL, r.getRcode());
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    assertEquals(Rcode.SERVFAIL, DnsClient.tcp(tcpAddr, query("example.com", Type.A)).getRcode());
  }

  @Test
  void failingUpstreamsAreSkippedAndAllFailingGivesServfail() throws Exception {
    InetSocketAddress dead;
    try (DatagramSocket d = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
      dead = (InetSocketAddress) d.getLocalSocketAddress(); // closed again: port unreachable
    }
    try (FakeUpstream failing = new FakeUpstream()) {
      failing.mode = FakeUpstream.Mode.SERVFAIL;
      dir.upstreams = List.of(dead, failing.address(), upstream.address());
      Message q = query("example.com", Type.A);
      long t0 = System.nanoTime();
      Message r = DnsClient.udp(udpAddr, q);
      assertTrue(System.nanoTime() - t0 < Duration.ofMillis(400).toNanos(), "no timeout waited for");
      assertEquals(FakeUpstream.ADDRESS, address(r));
      assertEquals(1, failing.ids.size());
      dir.upstreams = List.of(dead, failing.address());
      Message f = DnsClient.udp(udpAddr, q);
      assertEquals(Rcode.SERVFAIL, f.getRcode());
      assertEquals(q.getHeader().getID(), f.getHeader().getID());
    }
  }

  @Test
  void silentUpstreamsTimeOutIntoServfailWithinTheTotalTimeout() throws Exception {
    upstream.mode = FakeUpstream.Mode.SILENT;
    try (FakeUpstream second = new FakeUpstream(); FakeUpstream third = new FakeUpstream()) {
      second.mode = FakeUpstream.Mode.SILENT;
      dir.upstreams = List.of(upstream.address(), second.address(), third.address());
      Message q = query("example.com", Type.A);
      long t0 = System.nanoTime();
      Message r = DnsClient.udp(udpAddr, q);
      long took = System.nanoTime() - t0;
      assertEquals(Rcode.SERVFAIL, r.getRcode());
      assertTrue(took >= Duration.ofMillis(750).toNanos() && took < Duration.ofMillis(2000).toNanos(),
          "took " + took / 1_000_000 + " ms");
      assertEquals(1, upstream.ids.size());
      assertEquals(1, second.ids.size(), "second attempt gets what is left of the total");
      assertEquals(0, third.ids.size(), "no time left for the third");
    }
  }

  @Test
  void strayAnswersWithTheWrongIdAreIgnored() throws Exception {
    upstream.mode = FakeUpstream.Mode.STRAY_THEN_ANSWER;
    dir.upstreams = List.of(upstream.address());
    Message q = query("example.com", Type.A);
    Message r = DnsClient.udp(udpAddr, q);
    assertEquals(FakeUpstream.ADDRESS, address(r));
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
  }

  @Test
  void upstreamIdsAreFreshAndTheClientsIdComesBack() throws Exception {
    dir.upstreams = List.of(upstream.address());
    for (int i = 0; i < 5; i++) {
      Message q = query("n" + i + ".example.com", Type.A);
      q.getHeader().setID(4242);
      Message r = DnsClient.udp(udpAddr, q);
      assertEquals(4242, r.getHeader().getID());
      assertTrue(r.getHeader().getFlag(Flags.QR));
    }
    assertTrue(upstream.ids.stream().anyMatch(id -> id != 4242), "upstream IDs: " + upstream.ids);
  }

  @Test
  void malformedPacketsAreDroppedAndServiceGoesOn() throws Exception {
    try (DatagramSocket s = new DatagramSocket()) {
      assertNull(DnsClient.udp(s, udpAddr, new byte[] {1, 2, 3}, 300));
      assertNull(DnsClient.udp(s, udpAddr, new byte[] {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'x'}, 300));
      Message resp = Answers.reply(query("web", Type.A));
      assertNull(DnsClient.udp(s, udpAddr, resp.toWire(), 300), "responses are not answered");
      Message r = DnsClient.udp(s, udpAddr, query("web", Type.A).toWire(), 5000);
      assertNotNull(r);
      assertEquals("172.18.0.2", address(r));
    }
    try (Socket s = new Socket()) {
      s.connect(tcpAddr, 5000);
      s.setSoTimeout(5000);
      DnsClient.write(s, new byte[] {9, 9, 9});
      DnsClient.write(s, new byte[0]);
      Message q = query("web", Type.A);
      DnsClient.write(s, q.toWire());
      Message r = DnsClient.read(s);
      assertEquals(q.getHeader().getID(), r.getHeader().getID());
    }
  }

  @Test
  void removeClosesTheSocketsAndAddAgainIsRefusedOnlyWhileServed() throws Exception {
    assertFalse(loop.add("c1", DatagramChannel.open(), ServerSocketChannel.open()));
    assertTrue(loop.serves("c1"));
    try (Socket client = new Socket()) {
      client.connect(tcpAddr, 5000);
      client.setSoTimeout(5000);
      DnsClient.write(client, query("web", Type.A).toWire());
      DnsClient.read(client); // accepted and served: now it is the loop's
      assertTrue(loop.remove("c1"));
      assertFalse(udp.isOpen());
      assertFalse(tcp.isOpen());
      assertEquals(-1, client.getInputStream().read(), "open client connections are closed too");
    }
    assertFalse(loop.serves("c1"));
    assertFalse(loop.remove("c1"));
    assertThrows(IOException.class, () -> DnsClient.tcp(tcpAddr, query("web", Type.A)));
  }

  @Test
  void closeStopsTheThreadAndLaterCallsFail() throws Exception {
    loop.close();
    assertFalse(Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().equals("berth-dns") && t.isAlive()), "the loop thread ended");
    assertFalse(udp.isOpen());
    DatagramChannel u = DatagramChannel.open();
    assertThrows(IOException.class, () -> loop.add("c2", u, ServerSocketChannel.open()));
    assertFalse(u.isOpen(), "add closes what it cannot take");
    assertFalse(loop.remove("c1"));
  }

  @Test
  void manyQueriesInFlightAreAllAnswered() throws Exception {
    dir.upstreams = List.of(upstream.address());
    try (DatagramSocket s = new DatagramSocket()) {
      s.setSoTimeout(5000);
      int n = 50;
      for (int i = 0; i < n; i++) {
        Message q = query("h" + i + ".example.com", Type.A);
        q.getHeader().setID(i);
        byte[] w = q.toWire();
        s.send(new java.net.DatagramPacket(w, w.length, udpAddr));
      }
      boolean[] seen = new boolean[n];
      for (int i = 0; i < n; i++) {
        byte[] buf = new byte[4096];
        java.net.DatagramPacket p = new java.net.DatagramPacket(buf, buf.length);
        s.receive(p);
        Message r = new Message(java.util.Arrays.copyOf(buf, p.getLength()));
        assertEquals("h" + r.getHeader().getID() + ".example.com.", r.getQuestion().getName().toString());
        seen[r.getHeader().getID()] = true;
      }
      for (boolean b : seen) {
        assertTrue(b);
      }
    }
    assertNotEquals(0, upstream.ids.size());
  }
}
