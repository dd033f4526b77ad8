package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/** {@code POST /networks/create} (swagger NetworkCreateRequest). */
public record NetworkCreateRequest(
    String name,
    Boolean checkDuplicate,
    String driver,
    String scope,
    Boolean internal,
    Boolean attachable,
    Boolean ingress,
    Boolean configOnly,
    @JsonProperty("IPAM") Ipam ipam,
    @JsonProperty("EnableIPv4") Boolean enableIpv4,
    @JsonProperty("EnableIPv6") Boolean enableIpv6,
    Map<String, String> options,
    Map<String, String> labels) {

  /** IPAM: the driver, its options, and the subnets asked for. */
  public record Ipam(String driver, List<IpamConfig> config, Map<String, String> options) {}

  /** One subnet: {@code --subnet}, {@code --ip-range}, {@code --gateway}, {@code --aux-address}. */
  public record IpamConfig(String subnet, @JsonProperty("IPRange") String ipRange, String gateway,
      Map<String, String> auxiliaryAddresses) {}
}
