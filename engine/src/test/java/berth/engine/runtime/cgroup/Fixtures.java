package berth.engine.runtime.cgroup;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fake cgroup and /proc trees in a temp dir, with files in the kernel's exact formats. The v1 contents
 * were read on the Debian 12 CI host (kernel 6.18, hybrid hierarchy) from a cgroup running a shell loop,
 * a direct-I/O dd and a sleep, with {@code cpu.cfs_quota_us} 50000 and {@code pids.max} 100; its blkio
 * counters stayed zero there (virtio disk), so the blkio lines are written in the kernel's format
 * (blkg_prfill_rwstat) for device 254:0. The v2 contents follow the kernel's cgroup-v2 document.
 */
final class Fixtures {
  static final String LEAF = "berth/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  static final String PATH = "/" + LEAF;
  static final long PID = 4242;

  private Fixtures() {}

  static void write(Path file, String content) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(file, content, StandardCharsets.UTF_8);
  }

  /** A v1 (hybrid) root with the container's leaf in every hierarchy runc makes it in. */
  static Path v1(Path base) throws IOException {
    Path root = base.resolve("cgroup");
    for (String h : new String[] {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
        "systemd", "unified"}) {
      Files.createDirectories(root.resolve(h).resolve(LEAF));
    }
    Path acct = root.resolve("cpuacct").resolve(LEAF);
    write(acct.resolve("cpuacct.usage"), "480924050\n");
    write(acct.resolve("cpuacct.usage_percpu"), "36115472 444808578 \n");
    write(acct.resolve("cpuacct.stat"), "user 44\nsystem 3\n");
    write(root.resolve("cpu").resolve(LEAF).resolve("cpu.stat"), """
        nr_periods 11
        nr_throttled 9
        throttled_time 402008943
        nr_bursts 0
        burst_time 0
        """);
    Path mem = root.resolve("memory").resolve(LEAF);
    write(mem.resolve("memory.usage_in_bytes"), "278528\n");
    write(mem.resolve("memory.max_usage_in_bytes"), "1572864\n");
    write(mem.resolve("memory.limit_in_bytes"), "9223372036854771712\n");
    write(mem.resolve("memory.failcnt"), "0\n");
    write(mem.resolve("memory.stat"), """
        cache 8192
        rss 114688
        rss_huge 0
        shmem 0
        mapped_file 0
        dirty 0
        writeback 0
        workingset_refault_anon 0
        workingset_refault_file 0
        swap 0
        swapcached 0
        pgpgin 344
        pgpgout 314
        pgfault 491
        pgmajfault 0
        inactive_anon 65536
        active_anon 4096
        inactive_file 0
        active_file 8192
        unevictable 0
        hierarchical_memory_limit 9223372036854771712
        hierarchical_memsw_limit 9223372036854771712
        total_cache 8192
        total_rss 114688
        total_rss_huge 0
        total_shmem 0
        total_mapped_file 0
        total_dirty 0
        total_writeback 0
        total_workingset_refault_anon 0
        total_workingset_refault_file 0
        total_swap 0
        total_swapcached 0
        total_pgpgin 344
        total_pgpgout 314
        total_pgfault 491
        total_pgmajfault 0
        total_inactive_anon 65536
        total_active_anon 4096
        total_inactive_file 0
        total_active_file 8192
        total_unevictable 0
        """);
    write(mem.resolve("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    Path pids = root.resolve("pids").resolve(LEAF);
    write(pids.resolve("pids.current"), "1\n");
    write(pids.resolve("pids.max"), "100\n");
    Path blkio = root.resolve("blkio").resolve(LEAF);
    write(blkio.resolve("blkio.throttle.io_service_bytes"), """
        254:0 Read 40960
        254:0 Write 16384
        254:0 Sync 16384
        254:0 Async 40960
        254:0 Discard 0
        254:0 Total 57344
        Total 57344
        """);
    write(blkio.resolve("blkio.throttle.io_serviced"), """
        254:0 Read 10
        254:0 Write 4
        254:0 Sync 4
        254:0 Async 10
        254:0 Discard 0
        254:0 Total 14
        Total 14
        """);
    write(root.resolve("unified").resolve(LEAF).resolve("cpu.stat"),
        "usage_usec 480924\nuser_usec 445449\nsystem_usec 35474\nnice_usec 0\n");
    return root;
  }

  /** A v2 root with the cpu, memory, pids and io controllers enabled for the leaf. */
  static Path v2(Path base) throws IOException {
    Path root = base.resolve("cgroup2");
    write(root.resolve("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
    Path dir = root.resolve(LEAF);
    write(dir.resolve("cgroup.controllers"), "cpu io memory pids\n");
    write(dir.resolve("cpu.stat"), """
        usage_usec 480924
        user_usec 445449
        system_usec 35474
        core_sched.force_idle_usec 0
        nr_periods 11
        nr_throttled 9
        throttled_usec 402008
        nr_bursts 0
        burst_usec 0
        """);
    write(dir.resolve("memory.current"), "1409024\n");
    write(dir.resolve("memory.max"), "536870912\n");
    write(dir.resolve("memory.stat"), """
        anon 1138688
        file 8192
        kernel 425984
        kernel_stack 32768
        pagetables 69632
        sec_pagetables 0
        percpu 0
        sock 0
        vmalloc 0
        shmem 0
        zswap 0
        zswapped 0
        file_mapped 0
        file_dirty 0
        file_writeback 0
        swapcached 0
        anon_thp 0
        file_thp 0
        shmem_thp 0
        inactive_anon 1118208
        active_anon 20480
        inactive_file 4096
        active_file 4096
        unevictable 0
        slab_reclaimable 104456
        slab_unreclaimable 118992
        slab 223448
        workingset_refault_anon 0
        workingset_refault_file 0
        workingset_activate_anon 0
        workingset_activate_file 0
        workingset_restore_anon 0
        workingset_restore_file 0
        workingset_nodereclaim 0
        pgscan 0
        pgsteal 0
        pgscan_kswapd 0
        pgscan_direct 0
        pgsteal_kswapd 0
        pgsteal_direct 0
        pgfault 1375
        pgmajfault 0
        pgrefill 0
        pgactivate 5
        pgdeactivate 0
        pglazyfree 0
        pglazyfreed 0
        zswpin 0
        zswpout 0
        thp_fault_alloc 0
        thp_collapse_alloc 0
        """);
    write(dir.resolve("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
    write(dir.resolve("pids.current"), "3\n");
    write(dir.resolve("pids.max"), "max\n");
    write(dir.resolve("io.stat"), """
        254:0 rbytes=1052672 wbytes=16384 rios=40 wios=4 dbytes=0 dios=0
        7:1 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0
        """);
    return root;
  }

  /** A /proc with stat and meminfo of the CI host and the net/dev of {@link #PID}. */
  static Path proc(Path base, String netDev) throws IOException {
    Path proc = base.resolve("proc");
    write(proc.resolve("stat"), """
        cpu  822020 0 54038 873920 1965 0 1931 3582 0 0
        cpu0 411320 0 26788 436856 1094 0 846 1824 0 0
        cpu1 410700 0 27250 437064 870 0 1084 1757 0 0
        intr 8982181 0 0 0 0 0 0
        ctxt 23453203
        btime 1790000000
        """);
    write(proc.resolve("meminfo"), """
        MemTotal:        8129264 kB
        MemFree:         1763712 kB
        MemAvailable:    5997220 kB
        """);
    write(proc.resolve(Long.toString(PID)).resolve("net/dev"), netDev);
    return proc;
  }

  /** net/dev of a container with one veth, as the kernel prints it. */
  static final String NET_DEV = """
      Inter-|   Receive                                                |  Transmit
       face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
          lo:    1234      12    0    0    0     0          0         0     1234      12    0    0    0     0       0          0
        eth0: 195413284   11146    1    2    0     0          0         0  1364770    8899    3    4    0     0       0          0
      """;

  /** net/dev of a container with no network but loopback. */
  static final String NET_DEV_LO_ONLY = """
      Inter-|   Receive                                                |  Transmit
       face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
          lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
      """;
}
