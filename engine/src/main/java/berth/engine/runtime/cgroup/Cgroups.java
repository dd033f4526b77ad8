package berth.engine.runtime.cgroup;

import berth.engine.sys.Posix;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cgroups of containers on this host, v1 (legacy or hybrid) or v2 (unified), found under one
 * root ({@code /sys/fs/cgroup}). Containers are named by their absolute cgroups path, the
 * {@code linux.cgroupsPath} runc was given ({@code /berth/<id>}).
 *
 * <p>Reads never create anything; {@link #remove} deletes only the container's leaf, never a parent
 * that other containers share. Thread-safe: the object holds no state beyond its two roots.
 */
public final class Cgroups {
  /** The cgroup hierarchy a host uses. */
  public enum Version {
    /** One hierarchy per controller under the root, as on legacy and hybrid hosts. */
    V1,
    /** One unified cgroup2 hierarchy mounted at the root. */
    V2
  }

  // runc's RemovePath retries EBUSY the same way: a task that has just exited can hold the
  // cgroup for a few milliseconds (libcontainer/cgroups/utils.go).
  private static final int RMDIR_ATTEMPTS = 6;
  private static final long RMDIR_FIRST_DELAY_MS = 10;

  private final Path root;
  private final Path proc;
  private final Version version;

  /** The host's cgroups ({@code /sys/fs/cgroup}) and processes ({@code /proc}). */
  public Cgroups() {
    this(Path.of("/sys/fs/cgroup"), Path.of("/proc"));
  }

  /** The cgroups under {@code root}, with process facts from the host's {@code /proc}. */
  public Cgroups(Path root) {
    this(root, Path.of("/proc"));
  }

  /**
   * The cgroups under {@code root}, with {@code stat}, {@code meminfo} and {@code <pid>/net/dev} read
   * from {@code proc}. The root is v2 when it is a cgroup2 mount, which alone has a
   * {@code cgroup.controllers} file at its top (a v1 or hybrid root is a tmpfs of mount points).
   */
  public Cgroups(Path root, Path proc) {
    this.root = root;
    this.proc = proc;
    this.version = Files.exists(root.resolve("cgroup.controllers")) ? Version.V2 : Version.V1;
  }

  /** Which hierarchy this host uses. */
  public Version version() {
    return version;
  }

  /**
   * One sample of a container's counters, in the units of Docker's stats API. {@code pid} is a process
   * of the container (its init), whose network namespace gives the interface counters; 0 or less skips
   * them. Files of a controller that is not mounted or not enabled read as zero.
   *
   * @throws NoSuchFileException if the cgroup exists in no hierarchy (the container is gone)
   * @throws IllegalArgumentException if {@code cgroupsPath} is not an absolute path below the root
   */
  public Stats read(String cgroupsPath, long pid) throws IOException {
    Path rel = relative(cgroupsPath);
    if (dirs(cgroupsPath).isEmpty()) {
      throw new NoSuchFileException(root.resolve(rel).toString(), null, "no such cgroup");
    }
    Instant read = Instant.now();
    Stats.Cpu cpu;
    Stats.Memory memory;
    Stats.Pids pids;
    Stats.Blkio blkio;
    if (version == Version.V1) {
      cpu = cpuV1(rel);
      memory = memoryV1(rel);
      Path p = root.resolve("pids").resolve(rel);
      pids = new Stats.Pids(CgroupFiles.value(p.resolve("pids.current")), limit(p.resolve("pids.max")));
      Path b = root.resolve("blkio").resolve(rel);
      blkio = new Stats.Blkio(CgroupFiles.blkioV1(b.resolve("blkio.throttle.io_service_bytes")),
          CgroupFiles.blkioV1(b.resolve("blkio.throttle.io_serviced")));
    } else {
      Path dir = root.resolve(rel);
      cpu = cpuV2(dir);
      memory = memoryV2(dir);
      pids = new Stats.Pids(CgroupFiles.value(dir.resolve("pids.current")), limit(dir.resolve("pids.max")));
      List<List<Stats.BlkioEntry>> io = CgroupFiles.ioStat(dir.resolve("io.stat"));
      blkio = new Stats.Blkio(io.get(0), io.get(1));
    }
    return new Stats(read, version, cpu, memory, pids, blkio, networks(pid));
  }

  /** A process that exits while being read (ENOENT, ESRCH) simply has no counters left. */
  private Map<String, Stats.Network> networks(long pid) throws IOException {
    if (pid <= 0) {
      return Map.of();
    }
    try {
      return CgroupFiles.netDev(proc.resolve(Long.toString(pid)).resolve("net/dev"));
    } catch (FileSystemException e) {
      return Map.of();
    }
  }

  private Stats.Cpu cpuV1(Path rel) throws IOException {
    Path acct = root.resolve("cpuacct").resolve(rel);
    long total = CgroupFiles.value(acct.resolve("cpuacct.usage"));
    List<Long> perCpu = CgroupFiles.values(acct.resolve("cpuacct.usage_percpu"));
    Map<String, Long> ticks = CgroupFiles.keyed(acct.resolve("cpuacct.stat"));
    Map<String, Long> cpuStat = CgroupFiles.keyed(root.resolve("cpu").resolve(rel).resolve("cpu.stat"));
    long[] host = CgroupFiles.procStat(proc.resolve("stat"));
    return new Stats.Cpu(total, perCpu == null ? List.of() : perCpu,
        ticks.getOrDefault("system", 0L) * CgroupFiles.NANOS_PER_TICK,
        ticks.getOrDefault("user", 0L) * CgroupFiles.NANOS_PER_TICK,
        host[0], (int) host[1],
        cpuStat.getOrDefault("nr_periods", 0L), cpuStat.getOrDefault("nr_throttled", 0L),
        cpuStat.getOrDefault("throttled_time", 0L));
  }

  private Stats.Cpu cpuV2(Path dir) throws IOException {
    Map<String, Long> s = CgroupFiles.keyed(dir.resolve("cpu.stat"));
    long[] host = CgroupFiles.procStat(proc.resolve("stat"));
    return new Stats.Cpu(s.getOrDefault("usage_usec", 0L) * 1000, null,
        s.getOrDefault("system_usec", 0L) * 1000, s.getOrDefault("user_usec", 0L) * 1000,
        host[0], (int) host[1],
        s.getOrDefault("nr_periods", 0L), s.getOrDefault("nr_throttled", 0L),
        s.getOrDefault("throttled_usec", 0L) * 1000);
  }

  private Stats.Memory memoryV1(Path rel) throws IOException {
    Path m = root.resolve("memory").resolve(rel);
    return new Stats.Memory(CgroupFiles.value(m.resolve("memory.usage_in_bytes")),
        CgroupFiles.value(m.resolve("memory.max_usage_in_bytes")),
        machineCapped(CgroupFiles.value(m.resolve("memory.limit_in_bytes"))),
        CgroupFiles.value(m.resolve("memory.failcnt")),
        CgroupFiles.keyed(m.resolve("memory.stat")));
  }

  private Stats.Memory memoryV2(Path dir) throws IOException {
    // v2 has no failure counter; dockerd reports memory.events "oom" in its place
    // (daemon/stats_unix.go), and no maximum usage.
    Map<String, Long> events = CgroupFiles.keyed(dir.resolve("memory.events"));
    return new Stats.Memory(CgroupFiles.value(dir.resolve("memory.current")), 0,
        machineCapped(CgroupFiles.value(dir.resolve("memory.max"))),
        events.getOrDefault("oom", 0L),
        CgroupFiles.keyed(dir.resolve("memory.stat")));
  }

  /** dockerd reports the machine's memory as the limit of a container that has none (or a larger one). */
  private long machineCapped(long limit) throws IOException {
    long machine = CgroupFiles.memTotal(proc.resolve("meminfo"));
    return machine > 0 && limit > machine ? machine : limit;
  }

  /** pids.max: "max" (no limit) is 0, as in Docker's PidsStats. */
  private static long limit(Path pidsMax) throws IOException {
    long v = CgroupFiles.value(pidsMax);
    return v == Long.MAX_VALUE ? 0 : v;
  }

  /**
   * How many processes of the cgroup the kernel's OOM killer has killed: {@code oom_kill} of v1's
   * {@code memory.oom_control}, of v2's {@code memory.events}. 0 on kernels before 4.13, which lack it.
   *
   * @throws NoSuchFileException if the cgroup (or its memory controller) does not exist
   */
  public long oomKills(String cgroupsPath) throws IOException {
    Path f = oomFile(cgroupsPath);
    if (!Files.exists(f)) {
      throw new NoSuchFileException(f.toString());
    }
    return CgroupFiles.keyed(f).getOrDefault("oom_kill", 0L);
  }

  /**
   * The file holding {@link #oomKills}: v1 {@code memory/<path>/memory.oom_control}, v2
   * {@code <path>/memory.events}. The v2 file raises inotify modify events when it changes; the v1 one
   * does not (v1 notifies through {@code cgroup.event_control} and an eventfd), so on v1 poll it.
   */
  public Path oomFile(String cgroupsPath) {
    Path rel = relative(cgroupsPath);
    return version == Version.V1
        ? root.resolve("memory").resolve(rel).resolve("memory.oom_control")
        : root.resolve(rel).resolve("memory.events");
  }

  /**
   * Removes the container's leaf from every hierarchy that has it: on v1 under each directory of the
   * root (controllers, named hierarchies such as {@code systemd}, the hybrid {@code unified} tree), on
   * v2 the one directory. Parents are kept. Idempotent: a leaf that is already gone is not an error.
   * A leaf still busy (EBUSY) is retried for about 300 ms, since a task that has just exited can hold
   * it; every hierarchy is tried before the first failure is thrown.
   *
   * @throws IOException if a leaf could not be removed, e.g. it still has tasks or child cgroups
   */
  public void remove(String cgroupsPath) throws IOException {
    Path rel = relative(cgroupsPath);
    IOException failure = null;
    for (Path hierarchy : hierarchies()) {
      Path dir = hierarchy.resolve(rel);
      try {
        rmdir(dir);
      } catch (Posix.ErrnoException e) {
        if (e.errno() == Posix.ENOENT) {
          continue;
        }
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  private static void rmdir(Path dir) throws IOException {
    long delay = RMDIR_FIRST_DELAY_MS;
    for (int attempt = 1; ; attempt++) {
      try {
        Posix.rmdir(dir);
        return;
      } catch (Posix.ErrnoException e) {
        if (e.errno() != Posix.EBUSY || attempt == RMDIR_ATTEMPTS) {
          throw e;
        }
      }
      try {
        Thread.sleep(delay);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while removing " + dir);
      }
      delay *= 2;
    }
  }

  /** True if the container's leaf exists in any hierarchy. */
  public boolean exists(String cgroupsPath) {
    return !dirs(cgroupsPath).isEmpty();
  }

  /** The container's leaf directories that exist, one per hierarchy that has it, sorted. */
  public List<Path> dirs(String cgroupsPath) {
    Path rel = relative(cgroupsPath);
    List<Path> out = new ArrayList<>();
    for (Path hierarchy : hierarchies()) {
      Path dir = hierarchy.resolve(rel);
      if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
        out.add(dir);
      }
    }
    Collections.sort(out);
    return out;
  }

  /**
   * The roots of the hierarchies: on v1 every real directory under the root (symlinks such as
   * {@code cpu -> cpu,cpuacct} are skipped, so a co-mounted hierarchy is listed once); on v2 the root.
   */
  private List<Path> hierarchies() {
    if (version == Version.V2) {
      return List.of(root);
    }
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
      for (Path p : ds) {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          out.add(p);
        }
      }
    } catch (IOException e) {
      return List.of();
    }
    Collections.sort(out);
    return out;
  }

  /** "/berth/<id>" → "berth/<id>"; anything that could name the root or leave it is refused. */
  static Path relative(String cgroupsPath) {
    if (cgroupsPath == null || !cgroupsPath.startsWith("/")) {
      throw new IllegalArgumentException("cgroups path must be absolute: " + cgroupsPath);
    }
    List<String> parts = new ArrayList<>();
    for (String s : cgroupsPath.split("/")) {
      if (s.equals(".") || s.equals("..")) {
        throw new IllegalArgumentException("cgroups path must not contain . or ..: " + cgroupsPath);
      }
      if (!s.isEmpty()) {
        parts.add(s);
      }
    }
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("cgroups path names the root: " + cgroupsPath);
    }
    return Path.of(parts.get(0), parts.subList(1, parts.size()).toArray(new String[0]));
  }

  /**
   * One sample of a container's cgroup counters, normalised to the Docker stats API's units: CPU
   * times in nanoseconds, memory and I/O in bytes. Immutable.
   *
   * @param read when the sample was taken
   * @param version the hierarchy it was read from; some fields exist on one only
   * @param networks counters per interface of the container's network namespace, loopback left out,
   *     in the order of {@code /proc/<pid>/net/dev}; empty when there is none
   */
  public record Stats(Instant read, Version version, Cpu cpu, Memory memory, Pids pids, Blkio blkio,
      Map<String, Network> networks) {

    public Stats {
      networks = networks == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(networks));
    }

    /**
     * CPU time of the cgroup and of the host at the same moment.
     *
     * @param totalUsage v1 {@code cpuacct.usage}, v2 {@code cpu.stat usage_usec} × 1000
     * @param perCpuUsage v1 {@code cpuacct.usage_percpu}; null on v2, which has no such counter
     * @param usageInKernelMode v1 {@code cpuacct.stat system} (USER_HZ ticks), v2 {@code system_usec}
     * @param usageInUserMode v1 {@code cpuacct.stat user}, v2 {@code user_usec}
     * @param systemUsage the host's CPU time from {@code /proc/stat}, as dockerd sums it
     * @param onlineCpus the number of {@code cpuN} lines of {@code /proc/stat}
     * @param throttledTime v1 {@code throttled_time}, v2 {@code throttled_usec} × 1000
     */
    public record Cpu(long totalUsage, List<Long> perCpuUsage, long usageInKernelMode, long usageInUserMode,
        long systemUsage, int onlineCpus, long periods, long throttledPeriods, long throttledTime) {
      public Cpu {
        perCpuUsage = perCpuUsage == null ? null : List.copyOf(perCpuUsage);
      }
    }

    /**
     * Memory of the cgroup.
     *
     * @param usage v1 {@code memory.usage_in_bytes}, v2 {@code memory.current}
     * @param maxUsage v1 {@code memory.max_usage_in_bytes}; 0 on v2
     * @param limit the cgroup's limit, or the machine's memory when that is smaller (as with no limit)
     * @param failcnt v1 {@code memory.failcnt}; v2 {@code memory.events oom}, as dockerd reports it
     * @param stats every key of {@code memory.stat}, in file order
     */
    public record Memory(long usage, long maxUsage, long limit, long failcnt, Map<String, Long> stats) {
      public Memory {
        stats = stats == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(stats));
      }
    }

    /** Tasks in the cgroup and its {@code pids.max}; a limit of 0 means none. */
    public record Pids(long current, long limit) {}

    /**
     * Block I/O of the cgroup, per device and operation. v1: {@code blkio.throttle.io_service_bytes}
     * and {@code io_serviced} (ops "Read", "Write", "Sync", "Async", "Discard", "Total"); v2:
     * {@code io.stat} as "read" and "write" entries (bytes: rbytes/wbytes, serviced: rios/wios).
     */
    public record Blkio(List<BlkioEntry> ioServiceBytes, List<BlkioEntry> ioServiced) {
      public Blkio {
        ioServiceBytes = List.copyOf(ioServiceBytes);
        ioServiced = List.copyOf(ioServiced);
      }
    }

    /** One device's counter for one operation. */
    public record BlkioEntry(long major, long minor, String op, long value) {}

    /** One interface's counters from {@code /proc/<pid>/net/dev}. */
    public record Network(long rxBytes, long rxPackets, long rxErrors, long rxDropped, long txBytes,
        long txPackets, long txErrors, long txDropped) {}
  }
}
