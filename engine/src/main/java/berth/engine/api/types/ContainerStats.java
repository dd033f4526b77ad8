package berth.engine.api.types;

import berth.engine.runtime.cgroup.Cgroups;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One sample of {@code GET /containers/{id}/stats} (swagger ContainerStatsResponse, moby's
 * {@code container.StatsResponse}). Unlike the rest of the API its fields are snake_case, and the
 * fields moby marks {@code omitempty} are left out when zero or empty, so the JSON has the shape of
 * dockerd's on Linux:
 *
 * <ul>
 *   <li>cgroup v1: {@code percpu_usage}, {@code max_usage} and every {@code blkio_stats} list are sent
 *       (lists empty rather than null, as dockerd copies them);
 *   <li>cgroup v2: no {@code percpu_usage}, no {@code max_usage}; {@code failcnt} is the OOM event
 *       count; {@code blkio_stats} has only {@code io_service_bytes_recursive} (null when there was no
 *       I/O), the other lists are null;
 *   <li>{@code networks} is absent when the container has no interface but loopback;
 *       {@code pids_stats.limit} is absent when there is no limit.
 * </ul>
 *
 * <p>The docker CLI computes CPU % from {@code cpu_stats} against {@code precpu_stats}
 * ({@code total_usage}, {@code system_cpu_usage}, {@code online_cpus}) and memory use as
 * {@code usage} minus {@code stats.total_inactive_file} (v1) or {@code stats.inactive_file} (v2).
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ContainerStats(
    @JsonInclude(JsonInclude.Include.NON_EMPTY) String name,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) String id,
    String read,
    String preread,
    PidsStats pidsStats,
    BlkioStats blkioStats,
    int numProcs,
    StorageStats storageStats,
    CpuStats cpuStats,
    CpuStats precpuStats,
    MemoryStats memoryStats,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, NetworkStats> networks) {

  /** Go's zero time, which dockerd sends as {@code preread} of a first sample. */
  public static final String ZERO_TIME = "0001-01-01T00:00:00Z";

  /**
   * The sample dockerd sends for {@code current}, with {@code previous} as the {@code pre*} fields.
   * {@code previous} is null for the first sample and for {@code one-shot=true}: then {@code preread}
   * is the zero time and {@code precpu_stats} all zero, as from dockerd. (Without one-shot, a
   * {@code stream=false} request is answered by dockerd with its second sample, about a second after
   * the first, so that the CLI's CPU % is not zero.)
   *
   * @param name the container's name; a leading "/" is added if missing, as Docker shows it
   */
  public static ContainerStats of(String name, String id, Cgroups.Stats current, Cgroups.Stats previous) {
    boolean v1 = current.version() == Cgroups.Version.V1;
    Cgroups.Stats.Memory m = current.memory();
    MemoryStats memory = new MemoryStats(m.usage(), v1 ? m.maxUsage() : 0, new TreeMap<>(m.stats()), m.failcnt(),
        m.limit());
    BlkioStats blkio = v1
        ? new BlkioStats(entries(current.blkio().ioServiceBytes()), entries(current.blkio().ioServiced()),
            List.of(), List.of(), List.of(), List.of(), List.of(), List.of())
        : new BlkioStats(current.blkio().ioServiceBytes().isEmpty() ? null : entries(current.blkio().ioServiceBytes()),
            null, null, null, null, null, null, null);
    Map<String, NetworkStats> networks = new TreeMap<>();
    current.networks().forEach((k, n) -> networks.put(k, new NetworkStats(n.rxBytes(), n.rxPackets(), n.rxErrors(),
        n.rxDropped(), n.txBytes(), n.txPackets(), n.txErrors(), n.txDropped())));
    return new ContainerStats(slashed(name), id,
        current.read().toString(),
        previous == null ? ZERO_TIME : previous.read().toString(),
        new PidsStats(current.pids().current(), current.pids().limit()),
        blkio, 0, StorageStats.NONE,
        cpu(current), previous == null ? CpuStats.ZERO : cpu(previous),
        memory, networks.isEmpty() ? null : networks);
  }

  /** What dockerd sends for a container that is not running: only the name and ID, the rest zero. */
  public static ContainerStats empty(String name, String id) {
    return new ContainerStats(slashed(name), id, ZERO_TIME, ZERO_TIME, new PidsStats(0, 0),
        new BlkioStats(null, null, null, null, null, null, null, null), 0, StorageStats.NONE,
        CpuStats.ZERO, CpuStats.ZERO, new MemoryStats(0, 0, null, 0, 0), null);
  }

  private static CpuStats cpu(Cgroups.Stats s) {
    Cgroups.Stats.Cpu c = s.cpu();
    return new CpuStats(
        new CpuUsage(c.totalUsage(), s.version() == Cgroups.Version.V1 ? c.perCpuUsage() : null,
            c.usageInKernelMode(), c.usageInUserMode()),
        c.systemUsage(), c.onlineCpus(),
        new ThrottlingData(c.periods(), c.throttledPeriods(), c.throttledTime()));
  }

  private static List<BlkioStatEntry> entries(List<Cgroups.Stats.BlkioEntry> in) {
    List<BlkioStatEntry> out = new ArrayList<>(in.size());
    for (Cgroups.Stats.BlkioEntry e : in) {
      out.add(new BlkioStatEntry(e.major(), e.minor(), e.op(), e.value()));
    }
    return out;
  }

  private static String slashed(String name) {
    return name == null || name.isEmpty() || name.startsWith("/") ? name : "/" + name;
  }

  /** Tasks in the container's cgroup and their limit (0, left out: none). */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record PidsStats(
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long current,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long limit) {}

  /** Block I/O per device; lists other than the first two are only ever empty (v1) or null (v2). */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record BlkioStats(
      List<BlkioStatEntry> ioServiceBytesRecursive,
      List<BlkioStatEntry> ioServicedRecursive,
      List<BlkioStatEntry> ioQueueRecursive,
      List<BlkioStatEntry> ioServiceTimeRecursive,
      List<BlkioStatEntry> ioWaitTimeRecursive,
      List<BlkioStatEntry> ioMergedRecursive,
      List<BlkioStatEntry> ioTimeRecursive,
      List<BlkioStatEntry> sectorsRecursive) {}

  /** One device's counter for one operation ("Read", "Write" ... on v1; "read", "write" on v2). */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record BlkioStatEntry(long major, long minor, String op, long value) {}

  /** Windows only; always {@code {}} on Linux. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record StorageStats(
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long readCountNormalized,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long readSizeBytes,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long writeCountNormalized,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long writeSizeBytes) {
    static final StorageStats NONE = new StorageStats(0, 0, 0, 0);
  }

  /** CPU time of the container (nanoseconds) and of the host at the same moment. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record CpuStats(
      CpuUsage cpuUsage,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long systemCpuUsage,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) int onlineCpus,
      ThrottlingData throttlingData) {
    static final CpuStats ZERO = new CpuStats(new CpuUsage(0, null, 0, 0), 0, 0, new ThrottlingData(0, 0, 0));
  }

  /** The container's CPU time; {@code percpu_usage} on cgroup v1 only. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record CpuUsage(
      long totalUsage,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Long> percpuUsage,
      long usageInKernelmode,
      long usageInUsermode) {}

  /** CFS bandwidth throttling; the time in nanoseconds. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record ThrottlingData(long periods, long throttledPeriods, long throttledTime) {}

  /** Memory of the container in bytes; {@code stats} is its {@code memory.stat}, sorted by key. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record MemoryStats(
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long usage,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long maxUsage,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, Long> stats,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long failcnt,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long limit) {}

  /** One interface's counters. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record NetworkStats(long rxBytes, long rxPackets, long rxErrors, long rxDropped, long txBytes,
      long txPackets, long txErrors, long txDropped) {}
}
