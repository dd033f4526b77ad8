package berth.engine.network;

import berth.engine.config.Cidr;
import java.util.List;
import java.util.Map;

/**
 * A network as the engine keeps it ({@code network/<id>.json}): Docker's network resource minus what is
 * computed (its containers). {@code bridge} is the Linux bridge of a bridge network, null for host and none.
 */
public record Network(
    String id,
    String name,
    String driver,
    String created,
    boolean internal,
    boolean attachable,
    boolean enableIpv6,
    List<Subnet> subnets,
    Map<String, String> options,
    Map<String, String> labels,
    String bridge) {

  /** One IPAM config entry: the subnet, the part addresses are handed out from, and the gateway. */
  public record Subnet(String subnet, String ipRange, String gateway, boolean userConfigured) {
    Subnet(String subnet, String ipRange, String gateway) {
      this(subnet, ipRange, gateway, true);
    }

    Cidr cidr() {
      return Cidr.parse(subnet);
    }

    Cidr range() {
      return ipRange == null || ipRange.isEmpty() ? cidr() : Cidr.parse(ipRange);
    }

    long gatewayIp() {
      return Cidr.parseIp(gateway);
    }
  }

  static final String DEFAULT_BRIDGE = "bridge";

  boolean isBridge() {
    return "bridge".equals(driver);
  }

  /** bridge, host and none: made by the engine, never removed. */
  boolean predefined() {
    return name.equals(DEFAULT_BRIDGE) || name.equals("host") || name.equals("none");
  }

  /** User-defined bridges have DNS by name; the default bridge does not. */
  boolean userDefined() {
    return isBridge() && !name.equals(DEFAULT_BRIDGE);
  }

  /** {@code com.docker.network.driver.mtu}, 1500 by default. */
  int mtu() {
    String m = options == null ? null : options.get("com.docker.network.driver.mtu");
    return m == null || m.isEmpty() ? 1500 : Integer.parseInt(m);
  }

  /** {@code com.docker.network.bridge.host_binding_ipv4}: where ports without a host address are published. */
  String hostBinding() {
    String h = options == null ? null : options.get("com.docker.network.bridge.host_binding_ipv4");
    return h == null || h.isEmpty() ? "0.0.0.0" : h;
  }

  Subnet subnet() {
    return subnets.isEmpty() ? null : subnets.get(0);
  }
}
