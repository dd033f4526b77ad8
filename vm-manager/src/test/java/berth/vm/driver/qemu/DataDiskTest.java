package berth.vm.driver.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data disk's size as the driver reads it from a qcow2 header, against images qemu-img made. */
class DataDiskTest {
  @TempDir Path dir;

  @Test
  void theVirtualSizeComesFromTheHeaderAndFollowsAResize() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-utils makes the images");
    Path disk = dir.resolve("data.qcow2");
    assertEquals(0, Tools.run(List.of("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "2G"), 60).exit());
    assertEquals(2L << 30, LibvirtDriver.qcow2Size(disk));
    assertEquals(0, Tools.run(List.of("qemu-img", "resize", "-q", "-f", "qcow2", disk.toString(), "3G"), 60).exit());
    assertEquals(3L << 30, LibvirtDriver.qcow2Size(disk));
  }

  @Test
  void aFileThatIsNotQcow2IsRefused() throws IOException {
    Path raw = Files.write(dir.resolve("raw.img"), new byte[4096]);
    IOException e = assertThrows(IOException.class, () -> LibvirtDriver.qcow2Size(raw));
    assertEquals("the data disk " + raw + " is not a qcow2 image", e.getMessage());
    Path tiny = Files.write(dir.resolve("tiny.img"), new byte[] {'Q', 'F', 'I'});
    assertThrows(IOException.class, () -> LibvirtDriver.qcow2Size(tiny));
  }
}
