package berth.engine.runtime.cgroup;

import static berth.engine.runtime.cgroup.Fixtures.LEAF;
import static berth.engine.runtime.cgroup.Fixtures.PATH;
import static berth.engine.runtime.cgroup.Fixtures.PID;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.runtime.cgroup.Cgroups.Stats;
import berth.engine.runtime.cgroup.Cgroups.Stats.BlkioEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CgroupsTest {
  // 1753874 ticks (user+nice+system+idle+iowait+irq+softirq of the fixture's cpu line) at USER_HZ 100
  private static final long HOST_CPU_NS = 1_753_874L * 10_000_000L;
  private static final long MEM_TOTAL = 8_129_264L * 1024;

  @TempDir Path tmp;

  @Test
  void rootWithCgroupControllersIsV2AndTmpfsOfMountsIsV1() throws IOException {
    assertEquals(Cgroups.Version.V1, new Cgroups(Fixtures.v1(tmp)).version());
    assertEquals(Cgroups.Version.V2, new Cgroups(Fixtures.v2(tmp)).version());
  }

  @Test
  void readsEveryV1Counter() throws IOException {
    Cgroups cg = new Cgroups(Fixtures.v1(tmp), Fixtures.proc(tmp, Fixtures.NET_DEV));
    Instant before = Instant.now();
    Stats s = cg.read(PATH, PID);

    assertEquals(Cgroups.Version.V1, s.version());
    assertFalse(s.read().isBefore(before));
    assertTrue(Duration.between(before, s.read()).toSeconds() < 5);

    Stats.Cpu cpu = s.cpu();
    assertEquals(480_924_050L, cpu.totalUsage());
    assertEquals(List.of(36_115_472L, 444_808_578L), cpu.perCpuUsage());
    assertEquals(3 * 10_000_000L, cpu.usageInKernelMode());
    assertEquals(44 * 10_000_000L, cpu.usageInUserMode());
    assertEquals(HOST_CPU_NS, cpu.systemUsage());
    assertEquals(2, cpu.onlineCpus());
    assertEquals(11, cpu.periods());
    assertEquals(9, cpu.throttledPeriods());
    assertEquals(402_008_943L, cpu.throttledTime());

    Stats.Memory mem = s.memory();
    assertEquals(278_528L, mem.usage());
    assertEquals(1_572_864L, mem.maxUsage());
    assertEquals(MEM_TOTAL, mem.limit(), "no limit reads as the machine's memory");
    assertEquals(0, mem.failcnt());
    assertEquals(42, mem.stats().size());
    assertEquals(0L, mem.stats().get("total_inactive_file"));
    assertEquals(114_688L, mem.stats().get("rss"));
    assertEquals(9_223_372_036_854_771_712L, mem.stats().get("hierarchical_memory_limit"));
    assertEquals("cache", mem.stats().keySet().iterator().next(), "file order is kept");

    assertEquals(new Stats.Pids(1, 100), s.pids());

    assertEquals(List.of(
        new BlkioEntry(254, 0, "Read", 40960), new BlkioEntry(254, 0, "Write", 16384),
        new BlkioEntry(254, 0, "Sync", 16384), new BlkioEntry(254, 0, "Async", 40960),
        new BlkioEntry(254, 0, "Discard", 0), new BlkioEntry(254, 0, "Total", 57344)),
        s.blkio().ioServiceBytes());
    assertEquals(6, s.blkio().ioServiced().size());
    assertEquals(new BlkioEntry(254, 0, "Write", 4), s.blkio().ioServiced().get(1));

    assertEquals(Map.of("eth0", new Stats.Network(195_413_284L, 11_146, 1, 2, 1_364_770L, 8_899, 3, 4)),
        s.networks());
  }

  @Test
  void readsEveryV2Counter() throws IOException {
    Cgroups cg = new Cgroups(Fixtures.v2(tmp), Fixtures.proc(tmp, Fixtures.NET_DEV));
    Stats s = cg.read(PATH, PID);

    assertEquals(Cgroups.Version.V2, s.version());
    Stats.Cpu cpu = s.cpu();
    assertEquals(480_924_000L, cpu.totalUsage());
    assertNull(cpu.perCpuUsage(), "v2 has no per-CPU counter");
    assertEquals(35_474_000L, cpu.usageInKernelMode());
    assertEquals(445_449_000L, cpu.usageInUserMode());
    assertEquals(HOST_CPU_NS, cpu.systemUsage());
    assertEquals(2, cpu.onlineCpus());
    assertEquals(11, cpu.periods());
    assertEquals(9, cpu.throttledPeriods());
    assertEquals(402_008_000L, cpu.throttledTime());

    Stats.Memory mem = s.memory();
    assertEquals(1_409_024L, mem.usage());
    assertEquals(0, mem.maxUsage());
    assertEquals(536_870_912L, mem.limit());
    assertEquals(1, mem.failcnt(), "memory.events oom");
    assertEquals(51, mem.stats().size());
    assertEquals(4096L, mem.stats().get("inactive_file"));

    assertEquals(new Stats.Pids(3, 0), s.pids(), "pids.max \"max\" is no limit");
    assertEquals(List.of(
        new BlkioEntry(254, 0, "read", 1_052_672L), new BlkioEntry(254, 0, "write", 16384),
        new BlkioEntry(7, 1, "read", 4096), new BlkioEntry(7, 1, "write", 0)),
        s.blkio().ioServiceBytes());
    assertEquals(List.of(
        new BlkioEntry(254, 0, "read", 40), new BlkioEntry(254, 0, "write", 4),
        new BlkioEntry(7, 1, "read", 1), new BlkioEntry(7, 1, "write", 0)),
        s.blkio().ioServiced());
    assertEquals(List.of("eth0"), List.copyOf(s.networks().keySet()));
  }

  @Test
  void v2MemoryMaxIsTheMachinesMemory() throws IOException {
    Path root = Fixtures.v2(tmp);
    Fixtures.write(root.resolve(LEAF).resolve("memory.max"), "max\n");
    Stats s = new Cgroups(root, Fixtures.proc(tmp, Fixtures.NET_DEV)).read(PATH, PID);
    assertEquals(MEM_TOTAL, s.memory().limit());
  }

  @Test
  void controllersNotEnabledReadAsZero() throws IOException {
    // A v2 leaf whose parent delegates no controllers has only the core files and cpu.stat's usage.
    Path root = tmp.resolve("cgroup2");
    Fixtures.write(root.resolve("cgroup.controllers"), "\n");
    Fixtures.write(root.resolve(LEAF).resolve("cpu.stat"),
        "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnice_usec 0\n");
    Stats s = new Cgroups(root, Fixtures.proc(tmp, Fixtures.NET_DEV)).read(PATH, PID);
    assertEquals(7000, s.cpu().totalUsage());
    assertEquals(0, s.cpu().periods());
    assertEquals(0, s.memory().usage());
    assertEquals(Map.of(), s.memory().stats());
    assertEquals(new Stats.Pids(0, 0), s.pids());
    assertEquals(List.of(), s.blkio().ioServiceBytes());
  }

  @Test
  void loopbackOnlyOrNoPidMeansNoNetworks() throws IOException {
    Path root = Fixtures.v1(tmp);
    assertEquals(Map.of(), new Cgroups(root, Fixtures.proc(tmp, Fixtures.NET_DEV_LO_ONLY)).read(PATH, PID).networks());
    assertEquals(Map.of(), new Cgroups(root, Fixtures.proc(tmp, Fixtures.NET_DEV)).read(PATH, 0).networks());
    // the process may have exited between listing and reading
    assertEquals(Map.of(), new Cgroups(root, Fixtures.proc(tmp, Fixtures.NET_DEV)).read(PATH, 99999).networks());
  }

  @Test
  void readOfAMissingCgroupIsNoSuchFile() throws IOException {
    Cgroups v1 = new Cgroups(Fixtures.v1(tmp), Fixtures.proc(tmp, Fixtures.NET_DEV));
    Cgroups v2 = new Cgroups(Fixtures.v2(tmp), Fixtures.proc(tmp, Fixtures.NET_DEV));
    assertThrows(NoSuchFileException.class, () -> v1.read("/berth/gone", PID));
    assertThrows(NoSuchFileException.class, () -> v2.read("/berth/gone", PID));
  }

  @Test
  void oomKillsAndTheFileToWatch() throws IOException {
    Path r1 = Fixtures.v1(tmp);
    Path r2 = Fixtures.v2(tmp);
    Cgroups v1 = new Cgroups(r1);
    Cgroups v2 = new Cgroups(r2);
    assertEquals(2, v1.oomKills(PATH));
    assertEquals(1, v2.oomKills(PATH));
    assertEquals(r1.resolve("memory").resolve(LEAF).resolve("memory.oom_control"), v1.oomFile(PATH));
    assertEquals(r2.resolve(LEAF).resolve("memory.events"), v2.oomFile(PATH));
    assertThrows(NoSuchFileException.class, () -> v1.oomKills("/berth/gone"));
    // kernels before 4.13 have no oom_kill line
    Fixtures.write(v1.oomFile(PATH), "oom_kill_disable 0\nunder_oom 0\n");
    assertEquals(0, v1.oomKills(PATH));
  }

  @Test
  void onlyAbsolutePathsBelowTheRootAreAccepted() throws IOException {
    Cgroups cg = new Cgroups(Fixtures.v1(tmp));
    for (String bad : new String[] {"berth/x", "/", "//", "/berth/../x", "/./berth", null}) {
      assertThrows(IllegalArgumentException.class, () -> cg.exists(bad), String.valueOf(bad));
      assertThrows(IllegalArgumentException.class, () -> cg.remove(bad), String.valueOf(bad));
    }
    assertEquals(Path.of("berth", "x"), Cgroups.relative("/berth//x/"));
  }

  @Test
  void dirsListsTheLeafInEveryV1Hierarchy() throws IOException {
    Path root = Fixtures.v1(tmp);
    Cgroups cg = new Cgroups(root);
    List<Path> dirs = cg.dirs(PATH);
    assertEquals(10, dirs.size(), dirs.toString());
    assertTrue(dirs.contains(root.resolve("systemd").resolve(LEAF)));
    assertTrue(dirs.contains(root.resolve("unified").resolve(LEAF)));
    assertTrue(cg.exists(PATH));
    assertFalse(cg.exists("/berth/other"));
    assertEquals(List.of(), cg.dirs("/berth/other"));
  }

  @Test
  void removeDeletesEveryLeafButKeepsTheParent() throws IOException {
    Path root = emptyLeaves(tmp.resolve("cgroup"), "cpu,cpuacct", "memory", "pids", "systemd", "unified");
    // a co-mounted hierarchy is reached through symlinks too; it must be counted once
    Files.createSymbolicLink(root.resolve("cpu"), Path.of("cpu,cpuacct"));
    Files.createSymbolicLink(root.resolve("cpuacct"), Path.of("cpu,cpuacct"));
    Files.createDirectories(root.resolve("memory/berth/other"));
    Files.createDirectories(root.resolve("devices")); // a hierarchy without the leaf
    Cgroups cg = new Cgroups(root);
    assertEquals(5, cg.dirs(PATH).size());

    cg.remove(PATH);

    assertEquals(List.of(), cg.dirs(PATH));
    assertFalse(cg.exists(PATH));
    for (String h : new String[] {"cpu,cpuacct", "memory", "pids", "systemd", "unified"}) {
      assertTrue(Files.isDirectory(root.resolve(h).resolve("berth")), h);
    }
    assertTrue(Files.isDirectory(root.resolve("memory/berth/other")));
    cg.remove(PATH); // idempotent
  }

  @Test
  void removeOnV2DeletesTheOneLeaf() throws IOException {
    Path root = tmp.resolve("cgroup2");
    Fixtures.write(root.resolve("cgroup.controllers"), "cpu memory pids\n");
    Files.createDirectories(root.resolve(LEAF));
    Cgroups cg = new Cgroups(root);
    assertEquals(List.of(root.resolve(LEAF)), cg.dirs(PATH));
    cg.remove(PATH);
    assertFalse(cg.exists(PATH));
    assertTrue(Files.isDirectory(root.resolve("berth")));
  }

  @Test
  void removeTriesEveryHierarchyBeforeFailing() throws IOException {
    Path root = emptyLeaves(tmp.resolve("cgroup"), "cpu", "memory", "pids");
    // rmdir of a cgroup with a child cgroup fails (EBUSY on cgroupfs, ENOTEMPTY here)
    Files.createDirectories(root.resolve("memory").resolve(LEAF).resolve("child"));
    Cgroups cg = new Cgroups(root);
    IOException e = assertThrows(IOException.class, () -> cg.remove(PATH));
    assertTrue(e.getMessage().startsWith("rmdir " + root.resolve("memory").resolve(LEAF)), e.getMessage());
    assertEquals(List.of(root.resolve("memory").resolve(LEAF)), cg.dirs(PATH));
  }

  private static Path emptyLeaves(Path root, String... hierarchies) throws IOException {
    for (String h : hierarchies) {
      Files.createDirectories(root.resolve(h).resolve(LEAF));
    }
    return root;
  }
}
