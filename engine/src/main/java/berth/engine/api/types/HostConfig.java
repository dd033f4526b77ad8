package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/**
 * The non-portable part of a container's configuration (swagger HostConfig, which embeds Resources):
 * {@code HostConfig} of {@code POST /containers/create}. Every field is nullable so that "unset" stays
 * distinct from zero; {@link berth.engine.runtime.OciSpecBuilder} applies Docker's defaults.
 *
 * <p>Sizes are bytes, CPU periods and quotas microseconds, {@code NanoCpus} billionths of a CPU.
 */
public record HostConfig(
    // Resources
    Long cpuShares,
    Long memory,
    String cgroupParent,
    Integer blkioWeight,
    List<WeightDevice> blkioWeightDevice,
    List<ThrottleDevice> blkioDeviceReadBps,
    List<ThrottleDevice> blkioDeviceWriteBps,
    List<ThrottleDevice> blkioDeviceReadIOps,
    List<ThrottleDevice> blkioDeviceWriteIOps,
    Long cpuPeriod,
    Long cpuQuota,
    Long cpuRealtimePeriod,
    Long cpuRealtimeRuntime,
    String cpusetCpus,
    String cpusetMems,
    List<DeviceMapping> devices,
    List<String> deviceCgroupRules,
    List<DeviceRequest> deviceRequests,
    Long memoryReservation,
    Long memorySwap,
    Long memorySwappiness,
    Long nanoCpus,
    Boolean oomKillDisable,
    Boolean init,
    Long pidsLimit,
    List<Ulimit> ulimits,
    Long cpuCount,
    Long cpuPercent,
    @JsonProperty("IOMaximumIOps") Long ioMaximumIops,
    @JsonProperty("IOMaximumBandwidth") Long ioMaximumBandwidth,
    // HostConfig proper
    List<String> binds,
    @JsonProperty("ContainerIDFile") String containerIdFile,
    LogConfig logConfig,
    String networkMode,
    Map<String, List<PortBinding>> portBindings,
    RestartPolicy restartPolicy,
    Boolean autoRemove,
    String volumeDriver,
    List<String> volumesFrom,
    List<Mount> mounts,
    List<Integer> consoleSize,
    Map<String, String> annotations,
    List<String> capAdd,
    List<String> capDrop,
    String cgroupnsMode,
    List<String> dns,
    List<String> dnsOptions,
    List<String> dnsSearch,
    List<String> extraHosts,
    List<String> groupAdd,
    String ipcMode,
    String cgroup,
    List<String> links,
    Integer oomScoreAdj,
    String pidMode,
    Boolean privileged,
    Boolean publishAllPorts,
    Boolean readonlyRootfs,
    List<String> securityOpt,
    Map<String, String> storageOpt,
    Map<String, String> tmpfs,
    @JsonProperty("UTSMode") String utsMode,
    String usernsMode,
    Long shmSize,
    Map<String, String> sysctls,
    String runtime,
    String isolation,
    List<String> maskedPaths,
    List<String> readonlyPaths) {

  /** A host configuration with every field unset. */
  public static HostConfig empty() {
    return new HostConfig(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
  }

  /** {@code --blkio-weight-device}. */
  public record WeightDevice(String path, Integer weight) {}

  /** {@code --device-read-bps} and its siblings; rate is bytes or operations per second. */
  public record ThrottleDevice(String path, Long rate) {}

  /** {@code --device /dev/sda:/dev/xvdc:rwm}. */
  public record DeviceMapping(String pathOnHost, String pathInContainer, String cgroupPermissions) {}

  /** {@code --gpus}: a request for devices from a device driver. */
  public record DeviceRequest(
      String driver,
      Integer count,
      @JsonProperty("DeviceIDs") List<String> deviceIds,
      List<List<String>> capabilities,
      Map<String, String> options) {}

  /** {@code --ulimit nofile=1024:2048}; name is the rlimit without its RLIMIT_ prefix, in lower case. */
  public record Ulimit(String name, Long soft, Long hard) {}

  /** {@code --log-driver} and {@code --log-opt}. */
  public record LogConfig(String type, Map<String, String> config) {}

  /** One host address a container port is published on; an empty HostIp means all addresses. */
  public record PortBinding(String hostIp, String hostPort) {}

  /** {@code --restart}: name is "", no, always, unless-stopped or on-failure. */
  public record RestartPolicy(String name, Integer maximumRetryCount) {}
}
