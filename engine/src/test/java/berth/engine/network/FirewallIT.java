package berth.engine.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import berth.engine.network.Firewall.Bridge;
import berth.engine.network.Firewall.Mapping;
import berth.engine.testing.RequiresRoot;
import com.sun.jna.Library;
import com.sun.jna.Native;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Firewall against the kernel, inside network namespaces this test makes: a fake "host" with an
 * uplink ({@code eth0}, 10.99.0.1) to an "out" namespace (a LAN neighbour, 10.99.0.2), a stand-in
 * for a dummy interface (10.98.0.1), and three bridges the way the engine sets them up:
 *
 * <pre>
 *   br1 172.30.1.0/24: c1 .2, c2 .3      br2 172.30.2.0/24: c3 .2      br3 172.30.3.0/24 (internal): c4 .2, c5 .3
 * </pre>
 *
 * Every container runs {@code busybox httpd} on port 80 answering "hello-&lt;name&gt;"; so does "out".
 * Clients are busybox nc (TCP) and sockets opened by this JVM inside a namespace (UDP). The
 * host's own rules, sysctls and links are never touched.
 */
@Tag("root")
class FirewallIT {
  static final String BUSYBOX = "/bin/busybox";
  static final Bridge BR1 = new Bridge("br1", "172.30.1.0/24", false);
  static final Bridge BR2 = new Bridge("br2", "172.30.2.0/24", false);
  static final Bridge BR3 = new Bridge("br3", "172.30.3.0/24", true);
  static final Mapping TCP_ANY = new Mapping("tcp", "", 8080, "172.30.1.2", 80);
  static final Mapping TCP_LO = new Mapping("tcp", "127.0.0.1", 8081, "172.30.1.2", 80);
  static final Mapping UDP_ANY = new Mapping("udp", "0.0.0.0", 8053, "172.30.1.2", 53);

  @TempDir Path dir;
  Path nsDir;
  boolean nsDirMounted;
  final List<Path> namespaces = new ArrayList<>();
  final List<Process> servers = new ArrayList<>();
  final List<DatagramSocket> sockets = new ArrayList<>();
  Path host;
  Path out;
  Path c1;
  Path c2;
  Path c3;
  Path c4;
  Path c5;
  Firewall fw;

  @BeforeAll
  static void root() {
    RequiresRoot.check();
  }

  @BeforeEach
  void topology() throws Exception {
    nsDir = dir.resolve("ns");
    Files.createDirectories(nsDir);
    must("mount", "--bind", nsDir.toString(), nsDir.toString());
    nsDirMounted = true;
    must("mount", "--make-private", nsDir.toString());
    host = netns("host");
    out = netns("out");
    in(host, "ip", "link", "set", "lo", "up");
    in(host, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", out.toString());
    in(host, "ip", "addr", "add", "10.99.0.1/24", "dev", "eth0");
    in(host, "ip", "link", "set", "eth0", "up");
    in(out, "ip", "addr", "add", "10.99.0.2/24", "dev", "eth0");
    in(out, "ip", "link", "set", "eth0", "up");
    // a host address that is not the bridge's (a veth pair: the dummy driver may be missing)
    in(host, "ip", "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1");
    in(host, "ip", "addr", "add", "10.98.0.1/32", "dev", "dummy0");
    in(host, "ip", "link", "set", "dummy0", "up");
    in(host, "ip", "link", "set", "dummy1", "up");
    for (Bridge b : List.of(BR1, BR2, BR3)) {
      in(host, "ip", "link", "add", b.name(), "type", "bridge");
      in(host, "ip", "addr", "add", gateway(b) + "/24", "dev", b.name());
      in(host, "ip", "link", "set", b.name(), "up");
    }
    c1 = container("c1", BR1, 2);
    c2 = container("c2", BR1, 3);
    c3 = container("c3", BR2, 2);
    c4 = container("c4", BR3, 2);
    c5 = container("c5", BR3, 3);
    serve(out, "out");
    Firewall.enableForwarding(host);
    assertEquals("1", in(host, "cat", "/proc/sys/net/ipv4/ip_forward").strip());
    fw = new Firewall(host);
    fw.start(List.of(BR1, BR2, BR3)); // as the engine starts; the traffic tests below check what it made
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (Process p : servers) {
      p.destroyForcibly();
      p.waitFor(5, TimeUnit.SECONDS);
    }
    for (DatagramSocket s : sockets) {
      s.close();
    }
    for (Path ns : namespaces) {
      exec(null, "umount", ns.toString());
    }
    if (nsDirMounted) {
      exec(null, "umount", nsDir.toString());
    }
  }

  // ---------------------------------------------------------------- the tests

  @Test
  void publishedTcpPortsAnswerOnLoopbackAndOnHostAddresses() throws Exception {
    assertNull(get(host, "127.0.0.1", 8080), "nothing published yet");
    fw.addPorts(BR1, List.of(TCP_ANY, TCP_LO));
    assertEquals("hello-c1", get(host, "127.0.0.1", 8080));
    assertEquals("hello-c1", get(host, "10.99.0.1", 8080));
    assertEquals("hello-c1", get(host, "10.98.0.1", 8080));
    assertEquals("hello-c1", get(host, "172.30.1.1", 8080));
    assertEquals("hello-c1", get(out, "10.99.0.1", 8080), "from the LAN");
    assertEquals("hello-c1", get(host, "127.0.0.1", 8081));
    assertNull(get(host, "10.99.0.1", 8081), "-p 127.0.0.1:8081 answers on loopback only");
    assertNull(get(out, "10.99.0.1", 8081), "-p 127.0.0.1:8081 answers on loopback only");
    assertEquals("1", in(host, "cat", "/proc/sys/net/ipv4/conf/br1/route_localnet").strip());

    fw.removePorts(BR1, List.of(TCP_ANY, TCP_LO));
    assertNull(get(host, "127.0.0.1", 8080));
    assertNull(get(host, "127.0.0.1", 8081));
    assertNull(get(out, "10.99.0.1", 8080));
    assertFalse(save().contains("--dport"), save());
    fw.removePorts(BR1, List.of(TCP_ANY, TCP_LO)); // already gone: no error
  }

  @Test
  void theLegacyBackEndDoesTheSameJob() throws Exception {
    fw.tearDown(); // the nft rules of the topology go: only the legacy ones may do the work now
    Firewall legacy = new Firewall(host, "iptables-legacy");
    legacy.setUp();
    legacy.addNetwork(BR1);
    legacy.addNetwork(BR2);
    assertNull(get(host, "127.0.0.1", 8080), "nothing published yet");
    legacy.addPorts(BR1, List.of(TCP_ANY, TCP_LO));
    assertEquals("hello-c1", get(host, "127.0.0.1", 8080));
    assertEquals("hello-c1", get(out, "10.99.0.1", 8080), "from the LAN");
    assertNull(get(out, "10.99.0.1", 8081), "-p 127.0.0.1:8081 answers on loopback only");
    String rules = in(host, "iptables-legacy-save");
    assertTrue(rules.contains("-j BERTH-FORWARD") && rules.contains("--dport 8080"), rules);
    assertFalse(save().contains("BERTH"), "nothing in the nft tables: " + save());
    legacy.removePorts(BR1, List.of(TCP_ANY, TCP_LO));
    legacy.tearDown();
    assertFalse(in(host, "iptables-legacy-save").contains("BERTH"), in(host, "iptables-legacy-save"));
    assertNull(get(host, "127.0.0.1", 8080));
  }

  @Test
  void publishedUdpPortAnswersOnLoopbackAndOnHostAddresses() throws Exception {
    udpEcho(c1, "0.0.0.0", 53);
    assertNull(udp(host, "127.0.0.1", 8053, "ping"), "nothing published yet");
    fw.addPorts(BR1, List.of(UDP_ANY));
    assertEquals("echo:ping", udp(host, "127.0.0.1", 8053, "ping"));
    assertEquals("echo:ping", udp(host, "10.99.0.1", 8053, "ping"));
    assertEquals("echo:ping", udp(out, "10.99.0.1", 8053, "ping"), "from the LAN");
    assertEquals("echo:ping", udp(c2, "172.30.1.1", 8053, "ping"), "from a neighbour, through the gateway");
    fw.removePorts(BR1, List.of(UDP_ANY));
    assertNull(udp(host, "127.0.0.1", 8053, "ping"));
  }

  @Test
  void aContainerReachesItsOwnPublishedPortThroughTheGateway() throws Exception {
    fw.addPorts(BR1, List.of(TCP_ANY));
    Path nf = Path.of("/proc/sys/net/bridge/bridge-nf-call-iptables");
    // br_netfilter, when the kernel has it, has a per-namespace switch: try both ways
    List<String> modes = Files.exists(nf) ? List.of("1", "0") : List.of("");
    for (String mode : modes) {
      if (!mode.isEmpty()) {
        in(host, "sh", "-c", "echo " + mode + " > " + nf);
      }
      assertEquals("hello-c1", get(c1, "172.30.1.1", 8080), "hairpin, bridge-nf-call-iptables=" + mode);
      assertEquals("hello-c1", get(c1, "10.99.0.1", 8080), "hairpin, bridge-nf-call-iptables=" + mode);
      assertEquals("hello-c1", get(c2, "172.30.1.1", 8080), "neighbour, bridge-nf-call-iptables=" + mode);
    }
  }

  @Test
  void networksAreIsolatedFromEachOtherButNotWithin() throws Exception {
    assertEquals("hello-c2", get(c1, "172.30.1.3", 80), "same bridge");
    assertNull(get(c1, "172.30.2.2", 80), "br1 -> br2");
    assertNull(get(c3, "172.30.1.2", 80), "br2 -> br1");
    assertFalse(ping(c1, "172.30.2.2"));
    assertFalse(ping(c3, "172.30.1.2"));
    assertEquals("hello-out", get(c1, "10.99.0.2", 80), "out to the LAN, masqueraded (out has no route back)");
    assertEquals("hello-out", get(c3, "10.99.0.2", 80));

    // networks come and go in any order; the rules stay right
    fw.removeNetwork(BR1);
    fw.addNetwork(BR1);
    assertNull(get(c1, "172.30.2.2", 80), "br1 -> br2 after br1 was re-added");
    assertNull(get(c3, "172.30.1.2", 80), "br2 -> br1 after br1 was re-added");
    assertEquals("hello-c2", get(c1, "172.30.1.3", 80));
    assertEquals("hello-out", get(c1, "10.99.0.2", 80));

    // control: without Berth's rules the host routes between the bridges
    fw.removeNetwork(BR1);
    fw.removeNetwork(BR2);
    assertEquals("hello-c3", get(c1, "172.30.2.2", 80), "the drops above were the firewall's");
  }

  @Test
  void anInternalNetworkCannotReachOutsideItsBridge() throws Exception {
    assertEquals("hello-c5", get(c4, "172.30.3.3", 80), "within the internal bridge");
    // as with Docker: no default route, so other addresses are unreachable
    assertNull(get(c4, "10.98.0.1", 80));
    assertTrue(in(c4, "ip", "route").lines().noneMatch(l -> l.startsWith("default")));
    assertFalse(ping(c4, "10.98.0.1"));
    assertFalse(ping(c4, "10.99.0.2"));
    // even with a route of its own, nothing is forwarded out of or into the bridge
    in(c4, "ip", "route", "add", "default", "via", "172.30.3.1");
    in(out, "ip", "route", "add", "172.30.0.0/16", "via", "10.99.0.1");
    assertNull(get(c4, "10.99.0.2", 80), "internal -> LAN");
    assertNull(get(c4, "172.30.1.2", 80), "internal -> another network");
    assertNull(get(out, "172.30.3.2", 80), "LAN -> internal");
    assertNull(get(c1, "172.30.3.2", 80), "another network -> internal");
    fw.addPorts(BR3, List.of(new Mapping("tcp", "", 8090, "172.30.3.2", 80)));
    assertNull(get(host, "127.0.0.1", 8090), "ports are not published on internal networks");
    // control: the same packets pass once the network's rules are gone
    fw.removeNetwork(BR3);
    assertEquals("hello-out", get(c4, "10.99.0.2", 80));
  }

  @Test
  void containerAddressesAreNotReachableFromTheLanExceptThroughPublishedPorts() throws Exception {
    fw.addPorts(BR1, List.of(TCP_ANY));
    in(out, "ip", "route", "add", "172.30.0.0/16", "via", "10.99.0.1");
    assertEquals("hello-c1", get(out, "10.99.0.1", 8080));
    assertNull(get(out, "172.30.1.2", 80), "the published container port, addressed directly");
    assertNull(get(out, "172.30.1.3", 80), "an unpublished container");
  }

  @Test
  void loopbackAddressesStayLocal() throws Exception {
    fw.addPorts(BR1, List.of(TCP_LO));
    // a LAN neighbour sends to 127.0.0.1:8081 through the host (CVE-2020-8558 for kube-proxy)
    routeLoopbackVia(out, "10.99.0.1");
    assertNull(get(out, "127.0.0.1", 8081), "DNAT of a loopback address from the LAN");
    // a container sends to the host's 127.0.0.1 (the bridge has route_localnet=1)
    DatagramSocket hostLo = inside(host, () -> new DatagramSocket(new InetSocketAddress("127.0.0.1", 9999)));
    sockets.add(hostLo);
    hostLo.setSoTimeout(1500);
    routeLoopbackVia(c1, "172.30.1.1");
    sendUdp(c1, "127.0.0.1", 9999, "sneak");
    assertNull(receive(hostLo), "a container reached the host's loopback");
    assertEquals("hello-c1", get(host, "127.0.0.1", 8081), "the host itself still gets through");

    // control: without the two guard rules both get through
    in(host, "iptables", "-w", "-D", "BERTH", "-m", "conntrack", "--ctorigdst", "127.0.0.0/8", "-j", "DROP");
    in(host, "iptables", "-w", "-D", "INPUT", "!", "-s", "127.0.0.0/8", "-d", "127.0.0.0/8", "!", "-i", "lo", "-m",
        "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP");
    assertEquals("hello-c1", get(out, "127.0.0.1", 8081), "control: the guard made the difference");
    sendUdp(c1, "127.0.0.1", 9999, "sneak");
    assertEquals("sneak", receive(hostLo), "control: the guard made the difference");
  }

  @Test
  void turningForwardingOnMakesForwardDropAndTearDownPutsBothBack() throws Exception {
    Path fresh = netns("fresh"); // a host with forwarding off and FORWARD ACCEPT
    in(fresh, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward");
    assertEquals("0", in(fresh, "cat", "/proc/sys/net/ipv4/ip_forward").strip());
    Firewall f = new Firewall(fresh);
    f.start(List.of());
    assertEquals("1", in(fresh, "cat", "/proc/sys/net/ipv4/ip_forward").strip());
    assertTrue(in(fresh, "iptables", "-w", "-S", "FORWARD").contains("-P FORWARD DROP"));
    assertEquals("ACCEPT", f.forwardingChangedFrom());
    f.tearDown();
    assertEquals("0", in(fresh, "cat", "/proc/sys/net/ipv4/ip_forward").strip());
    assertTrue(in(fresh, "iptables", "-w", "-S", "FORWARD").contains("-P FORWARD ACCEPT"));
    assertFalse(in(fresh, "iptables-save").contains("BERTH"));
    // forwarding already on (the fake host): left alone, also by tearDown
    Firewall g = new Firewall(host);
    g.start(List.of(BR1, BR2, BR3));
    assertEquals(null, g.forwardingChangedFrom());
    assertEquals("1", in(host, "cat", "/proc/sys/net/ipv4/ip_forward").strip());
  }

  @Test
  void theEnginesOneBatchStartMakesWhatItsStepsMakeOneAfterAnother() throws Exception {
    String started = rules(save());
    fw.tearDown();
    fw.setUp();
    fw.addNetwork(BR1);
    fw.addNetwork(BR2);
    fw.addNetwork(BR3);
    assertEquals(started, rules(save()));
    fw.start(List.of(BR1, BR2, BR3)); // again, over its own rules: flushed and made once more, not doubled
    assertEquals(started, rules(save()));
  }

  /** iptables-save without its comments and packet counters. */
  private static String rules(String save) {
    return save.lines().filter(l -> !l.startsWith("#")).map(l -> l.replaceAll(" \\[\\d+:\\d+\\]$", ""))
        .collect(java.util.stream.Collectors.joining("\n"));
  }

  @Test
  void setUpTwiceKeepsOneJumpAndEverythingGoesAwayLeavingOthersAlone() throws Exception {
    // another engine's rules, Debian dockerd style
    in(host, "iptables", "-w", "-N", "DOCKER");
    in(host, "iptables", "-w", "-I", "FORWARD", "1", "-o", "docker0", "-j", "DOCKER");
    in(host, "iptables", "-w", "-t", "nat", "-N", "DOCKER");
    in(host, "iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
        "DOCKER");
    fw.setUp();
    fw.setUp();
    fw.addNetwork(BR1);
    fw.addNetwork(BR2);
    fw.addNetwork(BR3);
    fw.addNetwork(BR1);
    String s = save();
    assertEquals(1, count(s, "-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH\n"), s);
    assertEquals(1, count(s, "-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH\n"), s);
    assertEquals(1, count(s, "-A POSTROUTING -j BERTH-POSTROUTING\n"), s);
    assertEquals(1, count(s, "-j BERTH-FORWARD\n"), s);
    assertEquals(1, count(s, "--ctorigdst"), s);
    assertEquals(1, count(s, "-A BERTH-POSTROUTING -s 172.30.1.0/24 ! -o br1 -j MASQUERADE\n"), s);
    List<String> forward = s.lines().filter(l -> l.startsWith("-A FORWARD ")).toList();
    assertEquals("-A FORWARD -j BERTH-FORWARD", forward.get(0), "Berth's jump comes first");
    List<String> berthForward = s.lines().filter(l -> l.startsWith("-A BERTH-FORWARD ")).toList();
    int lastDrop = -1;
    int firstAccept = Integer.MAX_VALUE;
    for (int i = 0; i < berthForward.size(); i++) {
      String l = berthForward.get(i);
      if (l.endsWith("-j BERTH-ISOLATION") || (l.endsWith("-j DROP") && l.contains("br3"))) {
        lastDrop = i;
      } else if (l.endsWith("-j ACCEPT")) {
        firstAccept = Math.min(firstAccept, i);
      }
    }
    assertTrue(lastDrop < firstAccept, "isolation and internal drops precede every accept: " + berthForward);

    fw.addPorts(BR1, List.of(TCP_ANY, TCP_LO, UDP_ANY));
    assertEquals("hello-c1", get(host, "127.0.0.1", 8080));
    fw.removePorts(BR1, List.of(TCP_ANY, TCP_LO, UDP_ANY));
    fw.removeNetwork(BR1);
    fw.removeNetwork(BR2);
    fw.removeNetwork(BR3);
    s = save();
    for (String bridge : List.of("br1", "br2", "br3", "172.30.")) {
      assertFalse(s.contains(bridge), bridge + " left behind:\n" + s);
    }
    fw.removeNetwork(BR1); // already gone: no error
    fw.tearDown();
    s = save();
    assertFalse(s.contains("BERTH"), s);
    assertFalse(s.contains("127.0.0.0/8"), s);
    assertTrue(s.contains("-A FORWARD -o docker0 -j DOCKER"), s);
    assertTrue(s.contains("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"), s);
    fw.tearDown(); // already gone: no error

    // tearDown with networks and ports in place leaves nothing either
    fw.setUp();
    fw.addNetwork(BR1);
    fw.addPorts(BR1, List.of(TCP_ANY));
    fw.tearDown();
    assertFalse(save().contains("BERTH"), save());
  }

  @Test
  void aFailedBatchReportsIptablesError() throws Exception {
    fw.tearDown();
    try {
      fw.addPorts(BR1, List.of(TCP_ANY)); // the BERTH chains are gone
      fail("expected an error");
    } catch (IOException e) {
      assertTrue(e.getMessage().contains("iptables-restore"), e.getMessage());
      assertTrue(e.getMessage().contains("line "), e.getMessage());
    }
  }

  // ---------------------------------------------------------------- topology

  private Path netns(String name) throws Exception {
    Path f = nsDir.resolve(name);
    Files.createFile(f);
    must("unshare", "--net=" + f, "true");
    namespaces.add(f);
    return f;
  }

  private static String gateway(Bridge b) {
    return b.subnet().replace(".0/24", ".1");
  }

  /** A container namespace on b at .n with a web server; a default route unless b is internal. */
  private Path container(String name, Bridge b, int n) throws Exception {
    Path ns = netns(name);
    String veth = "v" + name;
    in(host, "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns.toString());
    in(host, "ip", "link", "set", veth, "master", b.name());
    in(host, "ip", "link", "set", veth, "type", "bridge_slave", "hairpin", "on"); // as the engine does
    in(host, "ip", "link", "set", veth, "up");
    in(ns, "ip", "link", "set", "lo", "up");
    in(ns, "ip", "addr", "add", b.subnet().replace(".0/24", "." + n + "/24"), "dev", "eth0");
    in(ns, "ip", "link", "set", "eth0", "up");
    if (!b.internal()) {
      in(ns, "ip", "route", "add", "default", "via", gateway(b));
    }
    serve(ns, name);
    return ns;
  }

  private void serve(Path ns, String name) throws Exception {
    Path www = dir.resolve("www-" + name);
    Files.createDirectories(www);
    Files.writeString(www.resolve("index.html"), "hello-" + name + "\n");
    Process p = new ProcessBuilder("nsenter", "--net=" + ns, BUSYBOX, "httpd", "-f", "-p", "80", "-h", www.toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    servers.add(p);
    in(ns, "ip", "link", "set", "lo", "up");
    for (int i = 0; i < 50; i++) {
      if (("hello-" + name).equals(get(ns, "127.0.0.1", 80))) {
        return;
      }
      Thread.sleep(50);
    }
    fail("httpd in " + name + " did not come up");
  }

  /** Makes ns send 127.0.0.0/8 to gw instead of its own loopback, as a hostile neighbour or container would. */
  private static void routeLoopbackVia(Path ns, String gw) throws Exception {
    in(ns, "ip", "addr", "flush", "dev", "lo"); // a source of 127.0.0.1 in a reply would be its own address
    in(ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet");
    in(ns, "ip", "route", "add", "127.0.0.0/8", "via", gw);
  }

  // ---------------------------------------------------------------- clients

  /** The body of GET / from ip:port, fetched inside ns with busybox nc; null when nothing answers. */
  private static String get(Path ns, String ip, int port) throws Exception {
    Result r = exec("GET / HTTP/1.0\r\n\r\n", "nsenter", "--net=" + ns, BUSYBOX, "timeout", "5", BUSYBOX, "nc", "-w",
        "2", ip, String.valueOf(port));
    if (r.exit() != 0 || !r.out().startsWith("HTTP/1")) {
      return null;
    }
    String[] lines = r.out().strip().split("\r?\n");
    return lines[lines.length - 1].strip();
  }

  private static boolean ping(Path ns, String ip) throws Exception {
    return exec(null, "nsenter", "--net=" + ns, BUSYBOX, "ping", "-c", "1", "-W", "1", ip).exit() == 0;
  }

  /** A UDP echo server inside ns, answering "echo:" + the datagram. */
  private void udpEcho(Path ns, String ip, int port) throws Exception {
    DatagramSocket s = inside(ns, () -> new DatagramSocket(new InetSocketAddress(ip, port)));
    sockets.add(s);
    Thread t = new Thread(() -> {
      byte[] buf = new byte[1500];
      while (!s.isClosed()) {
        try {
          DatagramPacket p = new DatagramPacket(buf, buf.length);
          s.receive(p);
          byte[] reply = ("echo:" + new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8))
              .getBytes(StandardCharsets.UTF_8);
          s.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
        } catch (IOException e) {
          return;
        }
      }
    }, "udp-echo");
    t.setDaemon(true);
    t.start();
  }

  /** Sends text from a fresh socket inside ns and returns the reply, or null after 1.5 s. */
  private static String udp(Path ns, String ip, int port, String text) throws Exception {
    try (DatagramSocket s = inside(ns, DatagramSocket::new)) {
      s.setSoTimeout(1500);
      byte[] b = text.getBytes(StandardCharsets.UTF_8);
      s.send(new DatagramPacket(b, b.length, InetAddress.getByName(ip), port));
      return receive(s);
    }
  }

  private static void sendUdp(Path ns, String ip, int port, String text) throws Exception {
    try (DatagramSocket s = inside(ns, DatagramSocket::new)) {
      byte[] b = text.getBytes(StandardCharsets.UTF_8);
      s.send(new DatagramPacket(b, b.length, InetAddress.getByName(ip), port));
    }
  }

  private static String receive(DatagramSocket s) throws IOException {
    byte[] buf = new byte[1500];
    DatagramPacket p = new DatagramPacket(buf, buf.length);
    try {
      s.receive(p);
      return new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8);
    } catch (SocketTimeoutException e) {
      return null;
    }
  }

  /** libc's setns(2): a socket belongs to the network namespace of the thread that creates it. */
  interface LibC extends Library {
    LibC C = Native.load("c", LibC.class);

    int open(String path, int flags);

    int setns(int fd, int nstype);

    int close(int fd);
  }

  private static final int O_RDONLY_CLOEXEC = 02000000;
  private static final int CLONE_NEWNET = 0x40000000;

  /** Runs task on a fresh thread that has joined ns (the thread ends afterwards). */
  private static <T> T inside(Path ns, Callable<T> task) throws Exception {
    FutureTask<T> f = new FutureTask<>(() -> {
      int fd = LibC.C.open(ns.toString(), O_RDONLY_CLOEXEC);
      if (fd < 0) {
        throw new IOException("open " + ns + " failed");
      }
      try {
        if (LibC.C.setns(fd, CLONE_NEWNET) != 0) {
          throw new IOException("setns " + ns + " failed");
        }
      } finally {
        LibC.C.close(fd);
      }
      return task.call();
    });
    Thread t = new Thread(f, "in-netns");
    t.start();
    return f.get(30, TimeUnit.SECONDS);
  }

  // ---------------------------------------------------------------- processes

  record Result(int exit, String out, String err) {}

  private String save() throws Exception {
    return in(host, "iptables-save");
  }

  /** A command inside ns that must succeed; its stdout. */
  private static String in(Path ns, String... cmd) throws Exception {
    List<String> all = new ArrayList<>(List.of("nsenter", "--net=" + ns));
    all.addAll(Arrays.asList(cmd));
    return must(all.toArray(String[]::new));
  }

  private static String must(String... cmd) throws Exception {
    Result r = exec(null, cmd);
    if (r.exit() != 0) {
      fail(String.join(" ", cmd) + " failed (" + r.exit() + "): " + r.err());
    }
    return r.out();
  }

  private static Result exec(String stdin, String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).start();
    CompletableFuture<String> out = drain(p.getInputStream());
    CompletableFuture<String> err = drain(p.getErrorStream());
    try (OutputStream os = p.getOutputStream()) {
      if (stdin != null) {
        os.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      // the command did not read its input
    }
    if (!p.waitFor(20, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("timed out: " + String.join(" ", cmd));
    }
    return new Result(p.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
  }

  private static CompletableFuture<String> drain(InputStream in) {
    CompletableFuture<String> f = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try (in) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        f.complete(b.toString(StandardCharsets.UTF_8));
      } catch (IOException e) {
        f.complete("");
      }
    }, "drain");
    t.setDaemon(true);
    t.start();
    return f;
  }

  private static int count(String s, String sub) {
    int n = 0;
    for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) {
      n++;
    }
    return n;
  }
}
