package berth.engine.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.config.Cidr;
import berth.engine.config.EngineConfig.AddressPool;
import berth.engine.errdefs.EngineException;
import java.util.List;
import org.junit.jupiter.api.Test;

class IpamTest {
  private final Ipam ipam = new Ipam(List.of(new AddressPool("172.17.0.0/16", 16), new AddressPool("172.18.0.0/15", 16),
      new AddressPool("192.168.0.0/16", 20)));

  @Test
  void subnetsSkipWhatIsTakenAndRoutedAndRunOutWithDockersError() {
    assertEquals("172.17.0.0/16", ipam.nextSubnet(List.of()).toString());
    assertEquals("172.18.0.0/16", ipam.nextSubnet(List.of(Cidr.parse("172.17.0.0/16"))).toString());
    // a host route inside a pool (a VPN's 172.18.5.0/24) rules out the whole /16
    assertEquals("172.19.0.0/16", ipam.nextSubnet(List.of(Cidr.parse("172.17.0.0/16"), Cidr.parse("172.18.5.0/24")))
        .toString());
    // a wide route covering every 172 pool: the next pool, in its configured size
    assertEquals("192.168.0.0/20", ipam.nextSubnet(List.of(Cidr.parse("172.16.0.0/12"))).toString());
    assertEquals("192.168.16.0/20", ipam.nextSubnet(List.of(Cidr.parse("172.16.0.0/12"),
        Cidr.parse("192.168.0.0/20"))).toString());
    EngineException e = assertThrows(EngineException.class,
        () -> ipam.nextSubnet(List.of(Cidr.parse("172.16.0.0/12"), Cidr.parse("192.168.0.0/16"))));
    assertTrue(e.getMessage().contains("fully subnetted"), e.getMessage());
  }

  @Test
  void overlapIsSymmetricAndExact() {
    assertTrue(Ipam.overlaps(Cidr.parse("10.0.0.0/8"), Cidr.parse("10.1.2.0/24")));
    assertTrue(Ipam.overlaps(Cidr.parse("10.1.2.0/24"), Cidr.parse("10.0.0.0/8")));
    assertFalse(Ipam.overlaps(Cidr.parse("10.1.2.0/24"), Cidr.parse("10.1.3.0/24")));
  }

  @Test
  void addressesComeFromTheRangeSkipTheGatewayAndAreReused() {
    Network.Subnet s = new Network.Subnet("10.5.0.0/24", "", "10.5.0.1");
    ipam.reserve("n", s.gatewayIp());
    assertEquals("10.5.0.2", NetworkAddresses.ip(ipam.allocate("n", s, -1)));
    assertEquals("10.5.0.3", NetworkAddresses.ip(ipam.allocate("n", s, -1)));
    ipam.release("n", Cidr.parseIp("10.5.0.2"));
    assertEquals("10.5.0.2", NetworkAddresses.ip(ipam.allocate("n", s, -1)));
    assertEquals("10.5.0.9", NetworkAddresses.ip(ipam.allocate("n", s, Cidr.parseIp("10.5.0.9"))));
    EngineException taken = assertThrows(EngineException.class, () -> ipam.allocate("n", s, Cidr.parseIp("10.5.0.9")));
    assertEquals("Address already in use", taken.getMessage());
    assertThrows(EngineException.class, () -> ipam.allocate("n", s, Cidr.parseIp("10.5.0.0")), "network address");
    assertThrows(EngineException.class, () -> ipam.allocate("n", s, Cidr.parseIp("10.5.0.255")), "broadcast");
    assertThrows(EngineException.class, () -> ipam.allocate("n", s, Cidr.parseIp("10.6.0.5")), "outside");
    Network.Subnet ranged = new Network.Subnet("10.7.0.0/24", "10.7.0.128/25", "10.7.0.1");
    assertEquals("10.7.0.128", NetworkAddresses.ip(ipam.allocate("r", ranged, -1)));
  }

  @Test
  void aFullSubnetSaysSo() {
    Network.Subnet s = new Network.Subnet("10.9.0.0/30", "", "10.9.0.1");
    ipam.reserve("f", s.gatewayIp());
    assertEquals("10.9.0.2", NetworkAddresses.ip(ipam.allocate("f", s, -1)));
    EngineException e = assertThrows(EngineException.class, () -> ipam.allocate("f", s, -1));
    assertTrue(e.getMessage().contains("no available IPv4 addresses"), e.getMessage());
  }

  @Test
  void macAddressesFollowTheIpAsDockersDid() {
    assertEquals("02:42:ac:11:00:02", NetworkAddresses.mac(Cidr.parseIp("172.17.0.2")));
    assertTrue(NetworkAddresses.validMac("02:42:AC:11:00:02"));
    assertFalse(NetworkAddresses.validMac("02:42:ac:11:00"));
  }
}
