package berth.engine.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import berth.engine.runtime.cgroup.Cgroups.Stats.BlkioEntry;
import berth.engine.runtime.cgroup.Cgroups.Stats.Network;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CgroupFilesTest {
  @TempDir Path tmp;

  private Path file(String content) throws IOException {
    Path p = tmp.resolve("f" + System.nanoTime());
    Fixtures.write(p, content);
    return p;
  }

  @Test
  void singleValuesMaxAndAbsence() throws IOException {
    assertEquals(42, CgroupFiles.value(file("42\n")));
    assertEquals(Long.MAX_VALUE, CgroupFiles.value(file("max\n")));
    assertEquals(0, CgroupFiles.value(tmp.resolve("absent")));
    assertEquals(0, CgroupFiles.value(file("")));
    // a u64 beyond Long.MAX_VALUE saturates rather than turning negative
    assertEquals(Long.MAX_VALUE, CgroupFiles.value(file("18446744073709551615\n")));
    assertThrows(IOException.class, () -> CgroupFiles.value(file("lots\n")));
  }

  @Test
  void keyedFilesKeepOrderAndRejectGarbage() throws IOException {
    Map<String, Long> m = CgroupFiles.keyed(file("b 2\na 1\n\n"));
    assertEquals(List.of("b", "a"), List.copyOf(m.keySet()));
    assertEquals(Map.of(), CgroupFiles.keyed(tmp.resolve("absent")));
    assertThrows(IOException.class, () -> CgroupFiles.keyed(file("a 1 2\n")));
  }

  @Test
  void perCpuValuesWithTheKernelsTrailingSpace() throws IOException {
    assertEquals(List.of(1L, 2L, 3L), CgroupFiles.values(file("1 2 3 \n")));
    assertNull(CgroupFiles.values(tmp.resolve("absent")));
  }

  @Test
  void blkioV1SkipsOnlyTheGrandTotal() throws IOException {
    assertEquals(List.of(), CgroupFiles.blkioV1(file("Total 0\n")));
    assertEquals(List.of(new BlkioEntry(8, 16, "Read", 5), new BlkioEntry(8, 16, "Total", 5)),
        CgroupFiles.blkioV1(file("8:16 Read 5\n8:16 Total 5\nTotal 5\n")));
    // files such as blkio.time_recursive have no op column
    assertEquals(List.of(new BlkioEntry(8, 0, "", 77)), CgroupFiles.blkioV1(file("8:0 77\n")));
    assertThrows(IOException.class, () -> CgroupFiles.blkioV1(file("sda Read 5\n")));
  }

  @Test
  void ioStatIgnoresKeysItDoesNotKnow() throws IOException {
    List<List<BlkioEntry>> io = CgroupFiles.ioStat(file("259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0 "
        + "cost.vrate=100.00\n"));
    assertEquals(List.of(new BlkioEntry(259, 0, "read", 10), new BlkioEntry(259, 0, "write", 20)), io.get(0));
    assertEquals(List.of(new BlkioEntry(259, 0, "read", 1), new BlkioEntry(259, 0, "write", 2)), io.get(1));
  }

  @Test
  void netDevWithoutSpaceAfterTheColon() throws IOException {
    // the kernel pads names to 6 columns and numbers to 8, so big counters touch the colon
    Map<String, Network> m = CgroupFiles.netDev(file("""
        Inter-|   Receive                                                |  Transmit
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
          eth1:123456789012    5    0    0    0     0          0         0        7       8    0    0    0     0       0          0
          eth0:       1       2    3    4    0     0          0         0        5       6    7    8    0     0       0          0
        """));
    assertEquals(List.of("eth1", "eth0"), List.copyOf(m.keySet()));
    assertEquals(new Network(123_456_789_012L, 5, 0, 0, 7, 8, 0, 0), m.get("eth1"));
    assertEquals(new Network(1, 2, 3, 4, 5, 6, 7, 8), m.get("eth0"));
  }

  @Test
  void procStatSumsSevenFieldsAndCountsCpus() throws IOException {
    long[] r = CgroupFiles.procStat(file("cpu  1 2 3 4 5 6 7 1000 1000 1000\ncpu0 1 1 1 1 1 1 1 0 0 0\n"
        + "cpu1 1 1 1 1 1 1 1 0 0 0\ncpu2 1 1 1 1 1 1 1 0 0 0\nintr 5\n"));
    assertArrayEquals(new long[] {28 * 10_000_000L, 3}, r);
  }

  @Test
  void memTotalInBytes() throws IOException {
    assertEquals(2048L * 1024, CgroupFiles.memTotal(file("MemTotal:     2048 kB\nMemFree: 1 kB\n")));
    assertEquals(0, CgroupFiles.memTotal(tmp.resolve("absent")));
  }
}
