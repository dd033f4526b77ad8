package berth.vm.driver.qemu;

import berth.vm.MachineException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The guest's boot files in a boot-image directory (made by {@code guest-agent/image/build-boot.sh DIR}):
 * the kernel, {@code vmlinux} (uncompressed ELF, PVH entry: about 3 s faster under TCG) when present, else
 * {@code vmlinuz} (bzImage), {@code initrd.img}, and {@code opt.sqfs} (the JRE and the jars, a read-only disk).
 */
record BootImage(Path kernel, Path initrd, Path opt) {
  static final String VMLINUX = "vmlinux";
  static final String VMLINUZ = "vmlinuz";
  static final String INITRD = "initrd.img";
  static final String OPT = "opt.sqfs";

  /** The boot files in {@code dir}, checked by their first bytes; BROKEN naming each bad file otherwise. */
  static BootImage in(Path dir) {
    List<String> p = problems(dir);
    if (!p.isEmpty()) {
      throw MachineException.of(MachineException.Kind.BROKEN, "the guest boot image in " + dir + " is not usable", p);
    }
    Path kernel = Files.exists(dir.resolve(VMLINUX)) ? dir.resolve(VMLINUX) : dir.resolve(VMLINUZ);
    return new BootImage(kernel.toAbsolutePath(), dir.resolve(INITRD).toAbsolutePath(),
        dir.resolve(OPT).toAbsolutePath());
  }

  /** What is wrong with the boot files in {@code dir}, one sentence each; empty if nothing. */
  static List<String> problems(Path dir) {
    List<String> p = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      p.add("the directory does not exist (build it with guest-agent/image/build-boot.sh " + dir + ")");
      return p;
    }
    Path vmlinux = dir.resolve(VMLINUX);
    Path vmlinuz = dir.resolve(VMLINUZ);
    if (Files.exists(vmlinux)) {
      if (!startsWith(vmlinux, 0, new byte[] {0x7f, 'E', 'L', 'F'})) {
        p.add(vmlinux + " is corrupt: not an ELF kernel");
      }
    } else if (Files.exists(vmlinuz)) {
      // a bzImage carries the "HdrS" magic of the x86 boot protocol at offset 0x202
      if (!startsWith(vmlinuz, 0x202, new byte[] {'H', 'd', 'r', 'S'})) {
        p.add(vmlinuz + " is corrupt: not a bzImage kernel");
      }
    } else {
      p.add("no kernel: neither " + vmlinux + " nor " + vmlinuz + " exists");
    }
    Path initrd = dir.resolve(INITRD);
    if (!Files.exists(initrd)) {
      p.add("no initramfs: " + initrd + " does not exist");
    } else if (!(startsWith(initrd, 0, new byte[] {0x1f, (byte) 0x8b}) // gzip
        || startsWith(initrd, 0, new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd}) // zstd
        || startsWith(initrd, 0, new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z'}) // xz
        || startsWith(initrd, 0, new byte[] {0x02, 0x21, 0x4c, 0x18}) // lz4, legacy frame
        || startsWith(initrd, 0, "070701".getBytes(java.nio.charset.StandardCharsets.US_ASCII)))) { // cpio newc
      p.add(initrd + " is corrupt: not a gzip, zstd, xz or lz4 compressed (or plain) cpio archive");
    }
    Path opt = dir.resolve(OPT);
    if (!Files.exists(opt)) {
      p.add("no /opt/berth disk: " + opt + " does not exist");
    } else if (!startsWith(opt, 0, new byte[] {'h', 's', 'q', 's'})) {
      p.add(opt + " is corrupt: not a squashfs image");
    }
    return p;
  }

  private static boolean startsWith(Path file, int offset, byte[] magic) {
    try (InputStream in = Files.newInputStream(file)) {
      in.skipNBytes(offset);
      return Arrays.equals(in.readNBytes(magic.length), magic);
    } catch (IOException e) {
      return false;
    }
  }
}
