package berth.vm.driver.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Picks the libvirt domain type for a machine's {@code accel} setting: "qemu" (TCG software emulation),
 * "kvm" or "hvf" (macOS's Hypervisor.framework).
 *
 * <p>"auto" chooses KVM only when a real boot probe under KVM works: on some hosts (CI machines nested
 * under Firecracker) /dev/kvm exists and opens, yet a KVM guest never gets past the BIOS, so the device's
 * presence proves nothing. The probe boots the machine's own kernel without an initramfs under
 * {@code -accel kvm} and waits for its "Linux version" banner; the kernel then panics for want of a root
 * file system and QEMU exits ({@code -no-reboot}, {@code panic=-1}). Under working KVM that takes about a
 * second; a hung guest costs the probe's timeout once per driver instance.
 */
final class Accel {
  private Accel() {}

  static final long PROBE_SECONDS = 20;

  static boolean isMac() {
    return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("mac");
  }

  /** Whether /dev/kvm is there for this user to open. */
  static boolean kvmDevice() {
    Path kvm = Path.of("/dev/kvm");
    return Files.isReadable(kvm) && Files.isWritable(kvm);
  }

  /** The libvirt domain type for a validated accel setting; "auto" may run {@link #probe}. */
  static String domainType(String accel, Path kernel, String qemuBinary) {
    return switch (accel) {
      case "tcg" -> "qemu";
      case "kvm" -> "kvm";
      case "hvf" -> "hvf";
      default -> isMac() ? "hvf" : kvmDevice() && probe("kvm", kernel, qemuBinary) ? "kvm" : "qemu";
    };
  }

  /** Whether {@code kernel} starts to boot under {@code -accel accel} within {@link #PROBE_SECONDS}. */
  static boolean probe(String accel, Path kernel, String qemuBinary) {
    try {
      Tools.Result r = Tools.run(List.of(qemuBinary, "-accel", accel, "-machine", "pc", "-m", "256", "-smp", "1",
          "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel", kernel.toString(),
          "-append", "console=ttyS0 panic=-1"), PROBE_SECONDS);
      return r.output().contains("Linux version");
    } catch (IOException e) {
      return false;
    }
  }
}
