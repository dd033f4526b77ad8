package berth.vm.driver.qemu;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

/**
 * Everything that goes into one machine's libvirt domain, resolved to plain values (paths, numbers), so that
 * {@link DomainXml} is a pure function of it.
 *
 * @param type the libvirt domain type: "qemu" (TCG), "kvm" or "hvf"
 * @param optDisk the boot image's read-only squashfs (the JRE and the jars), the guest's second virtio disk
 * @param arch "x86_64" or "aarch64"
 * @param owner the numeric uid:gid QEMU runs as (the machine directory's owner), Linux under qemu:///system only
 * @param shareType how the shares reach the guest
 * @param virtiofsd the virtiofsd binary, or empty to let libvirt find one (virtiofs shares only)
 * @param uuid the existing domain's UUID when redefining it (libvirt refuses a second UUID for one name)
 */
record DomainSpec(String domainName, String machineName, Path machineDir, String type, String arch, int cpus,
    long memoryMib, Path kernel, Path initrd, Path optDisk, String cmdline, Path dataDisk, Path consoleLog,
    List<Share> shares,
    int sshPort, ShareType shareType, Optional<Path> virtiofsd, Optional<String> owner, Optional<String> uuid) {

  /** A host directory and the tag it gets in the guest. */
  record Share(Path source, String tag, String target) {}

  /**
   * How host directories reach the guest, and the kernel parameter that tells the guest's init to mount one
   * (guest-agent/image/init.sh): virtiofs, served by a virtiofsd per share that libvirt starts as root (system
   * libvirtd only: libvirt 9.0 refuses virtiofs under qemu:///session), or 9p, served by QEMU itself as the user.
   */
  enum ShareType {
    VIRTIOFS("berth.share="),
    NINE_P("berth.share9p=");

    final String kernelParam;

    ShareType(String kernelParam) {
      this.kernelParam = kernelParam;
    }
  }

  /** The virtiofs or 9p tag of the i-th share. */
  static String shareTag(int i) {
    return "berth" + i;
  }

  /**
   * The kernel command line the guest's init reads (see the helpers' brief): console, panic=-1 so a panic
   * ends the VM, the machine's public key in base64, the data disk, each share as tag:guest-path under its
   * type's parameter, then the user's extra words.
   */
  static String cmdline(String arch, String publicKeyLine, String dataDevice, ShareType shareType, List<Share> shares,
      List<String> extra) {
    List<String> w = new ArrayList<>();
    w.add("console=" + ("aarch64".equals(arch) ? "ttyAMA0" : "ttyS0"));
    w.add("panic=-1");
    w.add("quiet");
    w.add("berth.key=" + Base64.getEncoder().encodeToString(publicKeyLine.strip().getBytes(
        java.nio.charset.StandardCharsets.UTF_8)));
    w.add("berth.data=" + dataDevice);
    for (Share s : shares) {
      w.add(shareType.kernelParam + s.tag() + ":" + s.target());
    }
    w.addAll(extra);
    return String.join(" ", w);
  }
}
