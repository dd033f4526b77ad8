package berth.vm.driver.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.vm.MachineException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootImageTest {
  @TempDir
  Path dir;

  private static byte[] bzImage() {
    byte[] b = new byte[0x300];
    System.arraycopy("HdrS".getBytes(), 0, b, 0x202, 4);
    return b;
  }

  @Test
  void vmlinuxIsPreferredOverVmlinuz() throws Exception {
    Files.write(dir.resolve("vmlinuz"), bzImage());
    Files.write(dir.resolve("initrd.img"), new byte[] {0x1f, (byte) 0x8b, 8, 0});
    Files.write(dir.resolve("opt.sqfs"), new byte[] {'h', 's', 'q', 's', 4, 0});
    assertEquals(dir.resolve("vmlinuz"), BootImage.in(dir).kernel());
    Files.write(dir.resolve("vmlinux"), new byte[] {0x7f, 'E', 'L', 'F', 2, 1});
    BootImage b = BootImage.in(dir);
    assertEquals(dir.resolve("vmlinux"), b.kernel());
    assertEquals(dir.resolve("initrd.img"), b.initrd());
    assertEquals(dir.resolve("opt.sqfs"), b.opt());
  }

  @Test
  void eachMissingOrCorruptFileIsNamed() throws Exception {
    assertEquals(List.of("no kernel: neither " + dir.resolve("vmlinux") + " nor " + dir.resolve("vmlinuz") + " exists",
        "no initramfs: " + dir.resolve("initrd.img") + " does not exist",
        "no /opt/berth disk: " + dir.resolve("opt.sqfs") + " does not exist"), BootImage.problems(dir));
    Files.writeString(dir.resolve("vmlinux"), "not a kernel");
    Files.writeString(dir.resolve("initrd.img"), "");
    Files.writeString(dir.resolve("opt.sqfs"), "not a squashfs");
    MachineException e = assertThrows(MachineException.class, () -> BootImage.in(dir));
    assertEquals(MachineException.Kind.BROKEN, e.kind());
    assertTrue(e.getMessage().contains(dir.resolve("vmlinux") + " is corrupt: not an ELF kernel"), e.getMessage());
    assertTrue(e.getMessage().contains(dir.resolve("initrd.img") + " is corrupt"), e.getMessage());
    assertTrue(e.getMessage().contains(dir.resolve("opt.sqfs") + " is corrupt: not a squashfs image"), e.getMessage());
  }

  @Test
  void theInitramfsIsAcceptedInEachFormatTheKernelUnpacks() throws Exception {
    Files.write(dir.resolve("vmlinux"), new byte[] {0x7f, 'E', 'L', 'F', 2, 1});
    Files.write(dir.resolve("opt.sqfs"), new byte[] {'h', 's', 'q', 's', 4, 0});
    Path initrd = dir.resolve("initrd.img");
    for (byte[] head : List.of(new byte[] {0x1f, (byte) 0x8b, 8, 0}, new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd, 0},
        new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0}, new byte[] {0x02, 0x21, 0x4c, 0x18, 0}, "070701".getBytes())) {
      Files.write(initrd, head);
      assertEquals(List.of(), BootImage.problems(dir), "initrd starting " + java.util.HexFormat.of().formatHex(head));
    }
    // lz4's newer frame format (what `lz4` writes without -l) is one the kernel cannot unpack
    Files.write(initrd, new byte[] {0x04, 0x22, 0x4d, 0x18, 0x64});
    assertEquals(List.of(initrd + " is corrupt: not a gzip, zstd, xz or lz4 compressed (or plain) cpio archive"),
        BootImage.problems(dir));
  }

  @Test
  void aMissingDirectorySaysHowToBuildIt() {
    List<String> p = BootImage.problems(dir.resolve("image"));
    assertEquals(1, p.size());
    assertTrue(p.get(0).contains("build-boot.sh " + dir.resolve("image")), p.get(0));
  }
}
