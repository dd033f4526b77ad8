package berth.engine.runtime.cgroup;

import static berth.engine.runtime.cgroup.Fixtures.PATH;
import static berth.engine.runtime.cgroup.Fixtures.PID;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.http.ApiJson;
import berth.engine.api.types.ContainerStats;
import berth.engine.runtime.cgroup.Cgroups.Stats;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The wire form of a stats sample, checked as the docker CLI (v28, stats_helpers.go) reads it. */
class ContainerStatsTest {
  private static final String ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  @TempDir Path tmp;

  private static JsonNode json(ContainerStats s) {
    return ApiJson.MAPPER.valueToTree(s);
  }

  private static List<String> keys(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  private static Stats sample(Instant at, long total, long system) {
    return new Stats(at, Cgroups.Version.V1,
        new Stats.Cpu(total, List.of(total / 2, total - total / 2), 10, 20, system, 2, 0, 0, 0),
        new Stats.Memory(100 << 20, 120 << 20, 1L << 30, 0, Map.of("total_inactive_file", 20L << 20, "cache", 1L)),
        new Stats.Pids(3, 0), new Stats.Blkio(List.of(), List.of()), Map.of());
  }

  /** The CLI's calculateCPUPercentUnix. */
  private static double cliCpuPercent(JsonNode j) {
    double cpuDelta = j.at("/cpu_stats/cpu_usage/total_usage").asDouble()
        - j.at("/precpu_stats/cpu_usage/total_usage").asDouble();
    double systemDelta = j.at("/cpu_stats/system_cpu_usage").asDouble()
        - j.at("/precpu_stats/system_cpu_usage").asDouble();
    double cpus = j.at("/cpu_stats/online_cpus").asDouble();
    return systemDelta > 0 && cpuDelta > 0 ? cpuDelta / systemDelta * cpus * 100 : 0;
  }

  @Test
  void precpuIsThePreviousSampleSoTheCliComputesCpuPercent() {
    Instant t0 = Instant.parse("2026-11-27T10:00:00.123456789Z");
    Instant t1 = t0.plusSeconds(1);
    // 0.5 s of container CPU while the 2-CPU host accounted 2 s: 50 % of one CPU
    Stats prev = sample(t0, 1_000_000_000L, 100_000_000_000L);
    Stats cur = sample(t1, 1_500_000_000L, 102_000_000_000L);
    JsonNode j = json(ContainerStats.of("web", ID, cur, prev));

    assertEquals("2026-11-27T10:00:01.123456789Z", j.get("read").asText());
    assertEquals("2026-11-27T10:00:00.123456789Z", j.get("preread").asText());
    assertEquals(1_000_000_000L, j.at("/precpu_stats/cpu_usage/total_usage").asLong());
    assertEquals(100_000_000_000L, j.at("/precpu_stats/system_cpu_usage").asLong());
    assertEquals(2, j.at("/precpu_stats/online_cpus").asInt());
    assertEquals(50.0, cliCpuPercent(j), 1e-9);
    assertEquals("/web", j.get("name").asText());
    assertEquals(ID, j.get("id").asText());
  }

  @Test
  void firstSampleHasZeroPreviousAsDockerdSendsIt() {
    Stats cur = sample(Instant.parse("2026-11-27T10:00:00Z"), 5, 7);
    JsonNode j = json(ContainerStats.of("/web", ID, cur, null));
    assertEquals(ContainerStats.ZERO_TIME, j.get("preread").asText());
    assertEquals("2026-11-27T10:00:00Z", j.get("read").asText());
    // Go's zero CPUStats: omitempty drops system_cpu_usage, online_cpus and percpu_usage
    assertEquals(List.of("cpu_usage", "throttling_data"), keys(j.get("precpu_stats")));
    assertEquals(List.of("total_usage", "usage_in_kernelmode", "usage_in_usermode"),
        keys(j.at("/precpu_stats/cpu_usage")));
    assertEquals(List.of("periods", "throttled_periods", "throttled_time"),
        keys(j.at("/precpu_stats/throttling_data")));
    assertEquals("/web", j.get("name").asText(), "a leading slash is not doubled");
  }

  @Test
  void v1SampleHasDockerdsV1Shape() throws IOException {
    Cgroups cg = new Cgroups(Fixtures.v1(tmp), Fixtures.proc(tmp, Fixtures.NET_DEV));
    Stats prev = cg.read(PATH, PID);
    JsonNode j = json(ContainerStats.of("web", ID, cg.read(PATH, PID), prev));

    assertEquals(List.of("name", "id", "read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
        "cpu_stats", "precpu_stats", "memory_stats", "networks"), keys(j));
    assertEquals(0, j.get("num_procs").asInt());
    assertEquals(0, j.get("storage_stats").size());
    assertEquals(1, j.at("/pids_stats/current").asLong());
    assertEquals(100, j.at("/pids_stats/limit").asLong());

    JsonNode cpu = j.get("cpu_stats");
    assertEquals(List.of("cpu_usage", "system_cpu_usage", "online_cpus", "throttling_data"), keys(cpu));
    assertEquals(List.of("total_usage", "percpu_usage", "usage_in_kernelmode", "usage_in_usermode"),
        keys(cpu.get("cpu_usage")));
    assertEquals(480_924_050L, cpu.at("/cpu_usage/total_usage").asLong());
    assertEquals(444_808_578L, cpu.at("/cpu_usage/percpu_usage/1").asLong());
    assertEquals(30_000_000L, cpu.at("/cpu_usage/usage_in_kernelmode").asLong());
    assertEquals(440_000_000L, cpu.at("/cpu_usage/usage_in_usermode").asLong());
    assertEquals(9, cpu.at("/throttling_data/throttled_periods").asLong());
    assertEquals(402_008_943L, cpu.at("/throttling_data/throttled_time").asLong());
    assertEquals(j.get("cpu_stats"), j.get("precpu_stats"));

    JsonNode mem = j.get("memory_stats");
    assertEquals(List.of("usage", "max_usage", "stats", "limit"), keys(mem), "failcnt 0 is left out");
    assertEquals(278_528L, mem.get("usage").asLong());
    assertEquals(1_572_864L, mem.get("max_usage").asLong());
    assertEquals(8_129_264L * 1024, mem.get("limit").asLong());
    assertTrue(mem.at("/stats/total_inactive_file").isNumber(), "the CLI subtracts it from usage");
    List<String> statKeys = keys(mem.get("stats"));
    assertEquals(statKeys.stream().sorted().toList(), statKeys, "sorted as Go encodes maps");

    JsonNode blkio = j.get("blkio_stats");
    assertEquals(List.of("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
        "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive",
        "sectors_recursive"), keys(blkio));
    assertEquals(6, blkio.get("io_service_bytes_recursive").size());
    JsonNode first = blkio.at("/io_service_bytes_recursive/0");
    assertEquals(List.of("major", "minor", "op", "value"), keys(first));
    assertEquals("Read", first.get("op").asText());
    assertEquals(254, first.get("major").asInt());
    assertTrue(blkio.get("io_queue_recursive").isArray() && blkio.get("io_queue_recursive").isEmpty(),
        "dockerd copies v1 lists, so missing ones are [] not null");

    JsonNode eth0 = j.at("/networks/eth0");
    assertEquals(List.of("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors",
        "tx_dropped"), keys(eth0));
    assertEquals(195_413_284L, eth0.get("rx_bytes").asLong());
    assertEquals(4, eth0.get("tx_dropped").asLong());
  }

  @Test
  void v2SampleLeavesOutWhatDockerdLeavesOut() throws IOException {
    Cgroups cg = new Cgroups(Fixtures.v2(tmp), Fixtures.proc(tmp, Fixtures.NET_DEV_LO_ONLY));
    JsonNode j = json(ContainerStats.of("web", ID, cg.read(PATH, PID), null));

    assertFalse(j.has("networks"), "loopback only: no networks");
    assertFalse(j.at("/cpu_stats/cpu_usage").has("percpu_usage"));
    assertEquals(480_924_000L, j.at("/cpu_stats/cpu_usage/total_usage").asLong());
    JsonNode mem = j.get("memory_stats");
    assertEquals(List.of("usage", "stats", "failcnt", "limit"), keys(mem));
    assertEquals(1, mem.get("failcnt").asLong());
    assertEquals(4096, mem.at("/stats/inactive_file").asLong());
    assertEquals(536_870_912L, mem.get("limit").asLong());
    assertEquals(List.of("current"), keys(j.get("pids_stats")), "no limit: left out");

    JsonNode blkio = j.get("blkio_stats");
    assertEquals(4, blkio.get("io_service_bytes_recursive").size());
    assertEquals("read", blkio.at("/io_service_bytes_recursive/0/op").asText());
    assertEquals(1_052_672L, blkio.at("/io_service_bytes_recursive/0/value").asLong());
    for (String k : new String[] {"io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
        "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive"}) {
      assertTrue(blkio.get(k).isNull(), k);
    }
  }

  @Test
  void v2WithoutIoHasNullServiceBytes() {
    Stats s = new Stats(Instant.EPOCH, Cgroups.Version.V2, new Stats.Cpu(1, null, 0, 0, 2, 1, 0, 0, 0),
        new Stats.Memory(1, 0, 2, 0, Map.of()), new Stats.Pids(1, 0), new Stats.Blkio(List.of(), List.of()), Map.of());
    JsonNode j = json(ContainerStats.of("web", ID, s, null));
    assertTrue(j.at("/blkio_stats/io_service_bytes_recursive").isNull());
    assertFalse(j.get("memory_stats").has("stats"));
  }

  @Test
  void emptyIsWhatDockerdSendsForAStoppedContainer() {
    JsonNode j = json(ContainerStats.empty("web", ID));
    assertEquals(ContainerStats.ZERO_TIME, j.get("read").asText());
    assertEquals(ContainerStats.ZERO_TIME, j.get("preread").asText());
    assertEquals(0, j.get("pids_stats").size());
    assertEquals(0, j.get("memory_stats").size());
    assertTrue(j.at("/blkio_stats/io_service_bytes_recursive").isNull());
    assertEquals(0, j.at("/cpu_stats/cpu_usage/total_usage").asLong());
    assertFalse(j.has("networks"));
    assertEquals("/web", j.get("name").asText());
  }
}
