package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/** The networks a container is connected to at creation (swagger NetworkingConfig), keyed by network name. */
public record NetworkingConfig(Map<String, EndpointSettings> endpointsConfig) {

  /** A container's settings on one network (swagger EndpointSettings). */
  public record EndpointSettings(
      @JsonProperty("IPAMConfig") EndpointIpamConfig ipamConfig,
      List<String> links,
      String macAddress,
      List<String> aliases,
      Map<String, String> driverOpts,
      Integer gwPriority,
      @JsonProperty("NetworkID") String networkId,
      @JsonProperty("EndpointID") String endpointId,
      String gateway,
      @JsonProperty("IPAddress") String ipAddress,
      @JsonProperty("IPPrefixLen") Integer ipPrefixLen,
      @JsonProperty("IPv6Gateway") String ipv6Gateway,
      @JsonProperty("GlobalIPv6Address") String globalIpv6Address,
      @JsonProperty("GlobalIPv6PrefixLen") Integer globalIpv6PrefixLen,
      @JsonProperty("DNSNames") List<String> dnsNames) {}

  /** Addresses the user asked for on one network ({@code --ip}, {@code --ip6}, {@code --link-local-ip}). */
  public record EndpointIpamConfig(
      @JsonProperty("IPv4Address") String ipv4Address,
      @JsonProperty("IPv6Address") String ipv6Address,
      @JsonProperty("LinkLocalIPs") List<String> linkLocalIps) {}
}
