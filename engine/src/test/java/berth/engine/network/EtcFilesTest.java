package berth.engine.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class EtcFilesTest {
  @Test
  void hostsHaveLocalhostTheExtraHostsWithHostGatewayAndTheContainersOwnAddress() {
    String h = EtcFiles.hosts(false, "web", List.of("172.18.0.2"), List.of("gw:host-gateway", "db:10.0.0.5"),
        "172.17.0.1");
    assertTrue(h.startsWith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), h);
    assertTrue(h.contains("172.17.0.1\tgw\n"), h);
    assertTrue(h.contains("10.0.0.5\tdb\n"), h);
    assertTrue(h.endsWith("172.18.0.2\tweb\n"), h);
  }

  @Test
  void resolvConfWithTheEmbeddedDnsPointsAt127_0_0_11WithNdots0() {
    String r = EtcFiles.resolvConf(false, true, List.of("10.1.1.1"), List.of("example.com"), null);
    assertTrue(r.contains("\nnameserver 127.0.0.11\n"), r);
    assertFalse(r.contains("nameserver 10.1.1.1"), "--dns servers become the embedded server's upstreams: " + r);
    assertTrue(r.contains("search example.com\n"), r);
    assertTrue(r.contains("options ndots:0\n"), r);
    String own = EtcFiles.resolvConf(false, true, null, null, List.of("ndots:3", "timeout:1"));
    assertTrue(own.contains("options ndots:3 timeout:1\n"), "a user's ndots wins: " + own);
  }

  @Test
  void resolvConfWithoutTheEmbeddedDnsUsesDnsOptions() {
    String r = EtcFiles.resolvConf(false, false, List.of("10.1.1.1", "10.1.1.2"), null, List.of("ndots:2"));
    assertEquals(2, r.lines().filter(l -> l.startsWith("nameserver ")).count(), r);
    assertTrue(r.contains("nameserver 10.1.1.1\nnameserver 10.1.1.2\n"), r);
    assertTrue(r.contains("options ndots:2\n"), r);
    assertFalse(r.contains("127.0.0.11"), r);
  }
}
