package berth.engine.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/**
 * The engine's settings in the shape of dockerd's daemon.json. Every field is nullable: null means
 * "not set here", so a file, the flags and the built-in defaults can be merged (see {@link ConfigLoader}).
 * {@code build-context-max-size} is Berth's own key: the most bytes of (uncompressed) context one build may send.
 */
public record EngineConfig(
    @JsonProperty("data-root") String dataRoot,
    @JsonProperty("exec-root") String execRoot,
    @JsonProperty("hosts") List<String> hosts,
    @JsonProperty("log-driver") String logDriver,
    @JsonProperty("log-opts") Map<String, String> logOpts,
    @JsonProperty("live-restore") Boolean liveRestore,
    @JsonProperty("insecure-registries") List<String> insecureRegistries,
    @JsonProperty("registry-mirrors") List<String> registryMirrors,
    @JsonProperty("default-address-pools") List<AddressPool> defaultAddressPools,
    @JsonProperty("debug") Boolean debug,
    @JsonProperty("tls") Boolean tls,
    @JsonProperty("tlsverify") Boolean tlsVerify,
    @JsonProperty("tlscacert") String tlsCaCert,
    @JsonProperty("tlscert") String tlsCert,
    @JsonProperty("tlskey") String tlsKey,
    @JsonProperty("pidfile") String pidFile,
    @JsonProperty("max-concurrent-downloads") Integer maxConcurrentDownloads,
    @JsonProperty("max-concurrent-uploads") Integer maxConcurrentUploads,
    @JsonProperty("build-context-max-size") Long buildContextMaxSize) {

  /** A pool that networks take subnets from: {"base": "172.17.0.0/16", "size": 16}. */
  public record AddressPool(@JsonProperty("base") String base, @JsonProperty("size") Integer size) {}

  public static EngineConfig empty() {
    return of(null, null, null);
  }

  /**
   * Flags that set only a data root, the hosts and live restore; everything else is left to the config file
   * and the defaults. For embedders (the guest agent) that must not track this record's other components.
   */
  public static EngineConfig of(String dataRoot, List<String> hosts, Boolean liveRestore) {
    return new EngineConfig(dataRoot, null, hosts, null, null, liveRestore, null, null, null, null, null, null, null,
        null, null, null, null, null, null);
  }
}
