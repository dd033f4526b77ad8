package berth.engine.network.dns;

import static berth.engine.network.dns.AnswersTest.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.RequiresRoot;
import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The resolver in a real network namespace: queries sent from inside it to 127.0.0.11:53 (by
 * busybox nslookup, and by dnsjava on a thread that entered the namespace), the nat redirect, port
 * 53 left free, forwarding from the host namespace, detach.
 */
@Tag("root")
@Timeout(60)
class EmbeddedDnsIT {
  private static final InetSocketAddress RESOLVER = new InetSocketAddress("127.0.0.11", 53);
  /** 127.0.0.11 as /proc/net/{udp,tcp} shows local addresses. */
  private static final String PROC_RESOLVER = "0B00007F:";

  @TempDir Path tmp;
  private Path dir;
  private Path ns;
  private final FakeDirectory directory = new FakeDirectory()
      .name("web", "172.18.0.2")
      .name("db", "172.18.0.3", "172.18.0.4")
      .ptr("172.18.0.2", "web.mynet");
  private EmbeddedDns dns;
  private FakeUpstream upstream;
  private NetnsThread inside;
  private final List<Process> processes = new ArrayList<>();

  @BeforeAll
  static void root() {
    RequiresRoot.check();
  }

  @BeforeEach
  void namespace() throws Exception {
    dir = Files.createDirectory(tmp.resolve("netns"));
    sh("mount", "--bind", dir.toString(), dir.toString());
    sh("mount", "--make-private", dir.toString());
    ns = Files.createFile(dir.resolve("ns"));
    sh("unshare", "--net=" + ns, "true");
    sh("nsenter", "--net=" + ns, "ip", "link", "set", "lo", "up");
    upstream = new FakeUpstream();
    directory.upstreams = List.of(upstream.address());
    inside = new NetnsThread();
    dns = new EmbeddedDns(directory);
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (Process p : processes) {
      p.destroyForcibly().waitFor();
    }
    if (dns != null) {
      dns.close();
    }
    if (inside != null) {
      inside.close();
    }
    if (upstream != null) {
      upstream.close();
    }
    if (ns != null) {
      sh("umount", ns.toString());
    }
    if (dir != null) {
      sh("umount", dir.toString());
    }
  }

  private static String sh(String... cmd) throws IOException {
    List<String> c = new ArrayList<>(List.of(cmd));
    c.set(0, NatRules.find(cmd[0]));
    return NatRules.run(c, null);
  }

  /** A query from inside the namespace to 127.0.0.11:53. */
  private Message ask(Message q, boolean tcp) throws IOException {
    return inside.call(ns, () -> tcp ? DnsClient.tcp(RESOLVER, q) : DnsClient.udp(RESOLVER, q));
  }

  private static Set<String> addresses(Message m) {
    return m.getSection(Section.ANSWER).stream()
        .map(r -> ((ARecord) r).getAddress().getHostAddress()).collect(Collectors.toSet());
  }

  /** The local addresses of the namespace's sockets, as /proc/net/{udp,tcp} list them. */
  private String sockets(String proto) throws IOException {
    return sh("nsenter", "--net=" + ns, "cat", "/proc/net/" + proto);
  }

  private String nslookup(String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(NatRules.find("nsenter"), "--net=" + ns, "/bin/busybox", "nslookup"));
    cmd.addAll(List.of(args));
    cmd.add("127.0.0.11");
    return NatRules.run(cmd, null);
  }

  @Test
  void answersFromInsideTheNamespace() throws Exception {
    dns.attach("c1", ns);
    dns.attach("c1", ns); // idempotent

    String out = nslookup("web");
    assertTrue(out.contains("172.18.0.2"), out);
    String alias = nslookup("db");
    assertTrue(alias.contains("172.18.0.3") && alias.contains("172.18.0.4"), alias);

    Message a = ask(query("web", Type.A), false);
    assertEquals(Set.of("172.18.0.2"), addresses(a));
    assertEquals(600, a.getSection(Section.ANSWER).get(0).getTTL());
    assertTrue(a.getHeader().getFlag(Flags.RA));
    assertEquals(Set.of("172.18.0.3", "172.18.0.4"), addresses(ask(query("db", Type.A), false)));

    Message aaaa = ask(query("web", Type.AAAA), false);
    assertEquals(Rcode.NOERROR, aaaa.getRcode());
    assertTrue(aaaa.getSection(Section.ANSWER).isEmpty());

    Message ptr = ask(query("2.0.18.172.in-addr.arpa", Type.PTR), false);
    assertEquals("web.mynet.", ((PTRRecord) ptr.getSection(Section.ANSWER).get(0)).getTarget().toString());

    Message tcp = ask(query("web", Type.A), true);
    assertEquals(Set.of("172.18.0.2"), addresses(tcp));

    assertTrue(sh("nsenter", "--net=" + ns, "iptables-save", "-t", "nat").contains("BERTH_DNS_OUTPUT"));
  }

  @Test
  void unknownNamesAreForwardedFromTheHostNamespace() throws Exception {
    dns.attach("c1", ns);
    Message q = query("example.com", Type.A);
    Message r = ask(q, false);
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    assertEquals(Set.of(FakeUpstream.ADDRESS), addresses(r), "127.0.0.1 of the host, not of the namespace");
    assertEquals(Set.of(FakeUpstream.ADDRESS), addresses(ask(query("example.org", Type.A), true)));
    Message ptr = ask(query("9.9.9.9.in-addr.arpa", Type.PTR), false);
    assertEquals(Rcode.NOERROR, ptr.getRcode());
    assertEquals(List.of("udp", "tcp", "udp"), upstream.transports);
    String out = nslookup("example.net");
    assertTrue(out.contains(FakeUpstream.ADDRESS), out);
  }

  @Test
  void noUpstreamMeansServfail() throws Exception {
    directory.upstreams = List.of();
    dns.attach("c1", ns);
    Message q = query("example.com", Type.A);
    Message r = ask(q, false);
    assertEquals(Rcode.SERVFAIL, r.getRcode());
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    assertEquals(Rcode.SERVFAIL, ask(query("example.com", Type.A), true).getRcode());
  }

  @Test
  void theContainerCanStillBindPort53() throws Exception {
    dns.attach("c1", ns);
    // A TCP server on 0.0.0.0:53 as a process of its own in the namespace ...
    Process nc = new ProcessBuilder(NatRules.find("nsenter"), "--net=" + ns, "/bin/busybox", "nc", "-l", "-p", "53")
        .redirectErrorStream(true).start();
    processes.add(nc);
    long deadline = System.nanoTime() + 5_000_000_000L;
    // busybox listens on [::]:53, dual-stack, so tcp6 shows it
    while (!(sockets("tcp") + sockets("tcp6")).lines().anyMatch(l -> l.matches("\\s*\\d+: 0+:0035 0+:0000 0A .*"))) {
      assertTrue(nc.isAlive(), "busybox nc exited");
      assertTrue(System.nanoTime() < deadline, "busybox nc never listened on :53");
      Thread.sleep(50);
    }
    // ... and a UDP socket on 0.0.0.0:53.
    DatagramSocket udp53 = inside.call(ns, () -> new DatagramSocket(new InetSocketAddress("0.0.0.0", 53)));
    try {
      assertEquals(Set.of("172.18.0.2"), addresses(ask(query("web", Type.A), false)));
      assertEquals(Set.of("172.18.0.2"), addresses(ask(query("web", Type.A), true)));
      // while 127.0.0.1:53 reaches the container's own servers
      inside.call(ns, () -> {
        try (DatagramSocket s = new DatagramSocket()) {
          byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
          s.send(new DatagramPacket(hello, hello.length, InetAddress.getByName("127.0.0.1"), 53));
        }
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", 53), 5000);
          OutputStream out = s.getOutputStream();
          out.write("over tcp\n".getBytes(StandardCharsets.US_ASCII));
          out.flush();
        }
        return null;
      });
      udp53.setSoTimeout(5000);
      DatagramPacket p = new DatagramPacket(new byte[64], 64);
      udp53.receive(p);
      assertEquals("hello", new String(p.getData(), 0, p.getLength(), StandardCharsets.US_ASCII));
      nc.getOutputStream().close();
      assertTrue(nc.waitFor(5, java.util.concurrent.TimeUnit.SECONDS), "busybox nc did not end");
      assertEquals("over tcp\n", new String(nc.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
    } finally {
      udp53.close();
    }
  }

  @Test
  void detachClosesTheListenersAndAttachAgainReusesTheRules() throws Exception {
    dns.attach("c1", ns);
    assertTrue(sockets("udp").contains(PROC_RESOLVER));
    assertTrue(sockets("tcp").contains(PROC_RESOLVER));
    dns.detach("c1");
    assertFalse(sockets("udp").contains(PROC_RESOLVER), sockets("udp"));
    assertFalse(sockets("tcp").contains(PROC_RESOLVER), sockets("tcp"));
    Message gone = inside.call(ns, () -> {
      try (DatagramSocket s = new DatagramSocket()) {
        return DnsClient.udp(s, RESOLVER, query("web", Type.A).toWire(), 500);
      }
    });
    assertNull(gone, "nobody answers after detach");
    dns.detach("c1"); // no-op

    dns.attach("c1", ns);
    assertNotNull(ask(query("web", Type.A), false));
    String rules = sh("nsenter", "--net=" + ns, "iptables-save", "-t", "nat");
    assertEquals(1, rules.lines().filter(l -> l.startsWith("-A OUTPUT") && l.contains("BERTH_DNS_OUTPUT")).count(), rules);
    assertEquals(1, rules.lines().filter(l -> l.startsWith("-A POSTROUTING") && l.contains("BERTH_DNS_POSTROUTING")).count(), rules);
    assertEquals(2, rules.lines().filter(l -> l.contains("DNAT")).count(), rules);
  }

  @Test
  void closeEndsEveryThread() throws Exception {
    dns.attach("c1", ns);
    assertNotNull(ask(query("web", Type.A), false));
    inside.close(); // the test's own namespace thread has the same name
    dns.close();
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.isAlive()
        && (t.getName().equals("berth-dns") || t.getName().equals("berth-dns-netns")))) {
      assertTrue(System.nanoTime() < deadline, "a DNS thread is left");
      Thread.sleep(20);
    }
    assertFalse(sockets("udp").contains(PROC_RESOLVER));
    assertFalse(sockets("tcp").contains(PROC_RESOLVER));
  }
}
