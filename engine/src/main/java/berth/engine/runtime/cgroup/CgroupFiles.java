package berth.engine.runtime.cgroup;

import berth.engine.runtime.cgroup.Cgroups.Stats.BlkioEntry;
import berth.engine.runtime.cgroup.Cgroups.Stats.Network;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parsers for the formats of cgroup and /proc files. A missing file reads as absent (zero, empty),
 * because a controller may not be mounted (v1) or enabled (v2); a malformed one is an IOException.
 */
final class CgroupFiles {
  /** USER_HZ: the unit of cpuacct.stat and /proc/stat. Fixed at 100 on Linux (containerd/cgroups#12). */
  static final long CLOCK_TICKS = 100;
  static final long NANOS_PER_TICK = 1_000_000_000L / CLOCK_TICKS;
  private static final Set<String> IO_STAT_KEYS = Set.of("rbytes", "wbytes", "rios", "wios");

  private CgroupFiles() {}

  /** Every line; empty when the file does not exist. readAllLines, not readString: see {@code Host}. */
  static List<String> lines(Path p) throws IOException {
    try {
      return Files.readAllLines(p, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
  }

  /** A single-value file (memory.current, pids.max ...): "max" is Long.MAX_VALUE, absent is 0. */
  static long value(Path p) throws IOException {
    List<String> ls = lines(p);
    if (ls.isEmpty() || ls.get(0).isBlank()) {
      return 0;
    }
    String v = ls.get(0).trim();
    return v.equals("max") ? Long.MAX_VALUE : number(p, v);
  }

  /** A flat keyed file of "key value" lines (memory.stat, cpu.stat, memory.events), in file order. */
  static Map<String, Long> keyed(Path p) throws IOException {
    Map<String, Long> m = new LinkedHashMap<>();
    for (String line : lines(p)) {
      String[] f = fields(line);
      if (f.length == 2) {
        m.put(f[0], number(p, f[1]));
      } else if (f.length != 0) {
        throw malformed(p, line);
      }
    }
    return m;
  }

  /** Space-separated values on one line (cpuacct.usage_percpu); null when the file does not exist. */
  static List<Long> values(Path p) throws IOException {
    List<String> ls = lines(p);
    if (ls.isEmpty()) {
      return null;
    }
    List<Long> out = new ArrayList<>();
    for (String v : fields(ls.get(0))) {
      out.add(number(p, v));
    }
    return out;
  }

  /**
   * A v1 blkio file: "MAJ:MIN Op value" lines ("8:0 Read 4096"), and a last "Total n" line, which is
   * skipped as containerd's cgroup1 blkio reader skips it.
   */
  static List<BlkioEntry> blkioV1(Path p) throws IOException {
    List<BlkioEntry> out = new ArrayList<>();
    for (String line : lines(p)) {
      String[] f = fields(line);
      if (f.length == 0 || (f.length == 2 && f[0].equals("Total"))) {
        continue;
      }
      int colon = f[0].indexOf(':');
      if (colon < 0 || f.length < 2 || f.length > 3) {
        throw malformed(p, line);
      }
      long major = number(p, f[0].substring(0, colon));
      long minor = number(p, f[0].substring(colon + 1));
      out.add(f.length == 3
          ? new BlkioEntry(major, minor, f[1], number(p, f[2]))
          : new BlkioEntry(major, minor, "", number(p, f[1])));
    }
    return out;
  }

  /**
   * v2 io.stat: "MAJ:MIN rbytes=n wbytes=n rios=n wios=n dbytes=n dios=n" per device, as Docker
   * reports it: bytes and I/Os as two entries per device, op "read" then "write".
   */
  static List<List<BlkioEntry>> ioStat(Path p) throws IOException {
    List<BlkioEntry> bytes = new ArrayList<>();
    List<BlkioEntry> ios = new ArrayList<>();
    for (String line : lines(p)) {
      String[] f = fields(line);
      if (f.length == 0) {
        continue;
      }
      int colon = f[0].indexOf(':');
      if (colon < 0) {
        throw malformed(p, line);
      }
      long major = number(p, f[0].substring(0, colon));
      long minor = number(p, f[0].substring(colon + 1));
      Map<String, Long> kv = new LinkedHashMap<>();
      for (int i = 1; i < f.length; i++) {
        int eq = f[i].indexOf('=');
        String key = eq > 0 ? f[i].substring(0, eq) : "";
        // io.cost and io.latency add keys of their own ("cost.vrate=100.00"); only these are read
        if (IO_STAT_KEYS.contains(key)) {
          kv.put(key, number(p, f[i].substring(eq + 1)));
        }
      }
      bytes.add(new BlkioEntry(major, minor, "read", kv.getOrDefault("rbytes", 0L)));
      bytes.add(new BlkioEntry(major, minor, "write", kv.getOrDefault("wbytes", 0L)));
      ios.add(new BlkioEntry(major, minor, "read", kv.getOrDefault("rios", 0L)));
      ios.add(new BlkioEntry(major, minor, "write", kv.getOrDefault("wios", 0L)));
    }
    return List.of(bytes, ios);
  }

  /**
   * /proc/PID/net/dev: two header lines, then "name: rx_bytes rx_packets rx_errs rx_drop fifo frame
   * compressed multicast tx_bytes tx_packets tx_errs tx_drop ...". Loopback is left out, as Docker
   * reports only the container's endpoints. Interface names cannot contain ':' (dev_valid_name).
   */
  static Map<String, Network> netDev(Path p) throws IOException {
    Map<String, Network> out = new LinkedHashMap<>();
    for (String line : lines(p)) {
      int colon = line.indexOf(':');
      if (colon < 0) {
        continue; // the two header lines
      }
      String name = line.substring(0, colon).trim();
      if (name.equals("lo")) {
        continue;
      }
      String[] f = fields(line.substring(colon + 1));
      if (f.length < 12) {
        throw malformed(p, line);
      }
      out.put(name, new Network(number(p, f[0]), number(p, f[1]), number(p, f[2]), number(p, f[3]),
          number(p, f[8]), number(p, f[9]), number(p, f[10]), number(p, f[11])));
    }
    return out;
  }

  /**
   * /proc/stat: the host's CPU time in nanoseconds and the number of online CPUs, as dockerd computes
   * them (daemon/stats_unix.go): the first seven fields of the "cpu" line (user, nice, system, idle,
   * iowait, irq, softirq; steal and guest left out, guest being counted in user already) in USER_HZ
   * ticks, and the count of "cpuN" lines.
   */
  static long[] procStat(Path p) throws IOException {
    long total = 0;
    long cpus = 0;
    for (String line : lines(p)) {
      if (!line.startsWith("cpu")) {
        break; // the cpu lines come first, as glibc's get_nprocs assumes too
      }
      String[] f = fields(line);
      if (f[0].equals("cpu")) {
        if (f.length < 8) {
          throw malformed(p, line);
        }
        long ticks = 0;
        for (int i = 1; i < 8; i++) {
          ticks += number(p, f[i]);
        }
        total = ticks * NANOS_PER_TICK;
      } else {
        cpus++;
      }
    }
    return new long[] {total, cpus};
  }

  /** MemTotal of /proc/meminfo in bytes; 0 when unknown. */
  static long memTotal(Path p) throws IOException {
    for (String line : lines(p)) {
      if (line.startsWith("MemTotal:")) {
        String[] f = fields(line);
        return f.length >= 2 ? number(p, f[1]) * 1024 : 0;
      }
    }
    return 0;
  }

  static String[] fields(String line) {
    String t = line.strip();
    return t.isEmpty() ? new String[0] : t.split("\\s+");
  }

  /** A decimal counter; the kernel's u64 values above Long.MAX_VALUE saturate there. */
  static long number(Path p, String s) throws IOException {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      try {
        Long.parseUnsignedLong(s);
        return Long.MAX_VALUE;
      } catch (NumberFormatException e2) {
        throw malformed(p, s);
      }
    }
  }

  private static IOException malformed(Path p, String text) {
    return new IOException("unexpected content in " + p + ": \"" + text + "\"");
  }
}
