package berth.vm;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * A machine's settings as a user writes them: every field is nullable, so "unset" differs from zero and a
 * lower layer (built-in or user defaults) can fill it in ({@link MachineConfigs#fill}). Sizes are strings
 * with a binary unit ("2GiB", "512MiB"; "G" and "M" mean the same), read by {@link MachineConfigs#bytes}.
 *
 * @param cpus virtual CPUs
 * @param memory guest RAM
 * @param disk the data disk's maximum size (qcow2 grows up to it; fixed once the disk exists)
 * @param shares host directories shared into the guest
 * @param driver the {@link berth.vm.driver.MachineDriver#name() driver}, e.g. "libvirt"
 * @param accel how the driver runs the CPU: "auto" (KVM only if a real boot probe works), "tcg" (software
 *     emulation), "kvm", or "hvf" (macOS)
 * @param kernelArgs extra kernel command-line words, appended after Berth's own (e.g. "berth.debug")
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MachineConfig(Integer cpus, String memory, String disk, List<Share> shares, String driver,
    String accel, List<String> kernelArgs) {

  /** All fields unset. */
  public static final MachineConfig EMPTY = new MachineConfig(null, null, null, null, null, null, null);

  public MachineConfig {
    shares = shares == null ? null : List.copyOf(shares);
    kernelArgs = kernelArgs == null ? null : List.copyOf(kernelArgs);
  }

  /**
   * A host directory shared into the guest (with the libvirt driver: virtiofs under the system daemon, 9p in a
   * user's session).
   *
   * @param source an absolute, existing host directory
   * @param target the absolute path the guest mounts it at; unset means the same path as on the host
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Share(String source, String target) {}

  public MachineConfig withCpus(Integer v) {
    return new MachineConfig(v, memory, disk, shares, driver, accel, kernelArgs);
  }

  public MachineConfig withMemory(String v) {
    return new MachineConfig(cpus, v, disk, shares, driver, accel, kernelArgs);
  }

  public MachineConfig withDisk(String v) {
    return new MachineConfig(cpus, memory, v, shares, driver, accel, kernelArgs);
  }

  public MachineConfig withShares(List<Share> v) {
    return new MachineConfig(cpus, memory, disk, v, driver, accel, kernelArgs);
  }

  public MachineConfig withDriver(String v) {
    return new MachineConfig(cpus, memory, disk, shares, v, accel, kernelArgs);
  }

  public MachineConfig withAccel(String v) {
    return new MachineConfig(cpus, memory, disk, shares, driver, v, kernelArgs);
  }

  public MachineConfig withKernelArgs(List<String> v) {
    return new MachineConfig(cpus, memory, disk, shares, driver, accel, v);
  }

  /** The guest RAM in MiB; only for a validated config. */
  public long memoryMib() {
    return MachineConfigs.bytes(memory) >> 20;
  }

  /** The data disk's size in bytes; only for a validated config. */
  public long diskBytes() {
    return MachineConfigs.bytes(disk);
  }
}
