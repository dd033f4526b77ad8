package berth.vm.driver;

import java.util.Set;

/**
 * What a driver can do, as data the caller branches on.
 *
 * @param dynamicSshAddress the SSH endpoint may change at every start (ask {@link MachineDriver#sshEndpoint})
 * @param shareTypes how host directories reach the guest, by wire name: "virtiofs", "9p", "sftp"
 * @param diskFormats data disk formats, e.g. "qcow2"
 * @param snapshots whether the driver can snapshot a machine
 */
public record DriverFeatures(boolean dynamicSshAddress, Set<String> shareTypes, Set<String> diskFormats,
    boolean snapshots) {
  public DriverFeatures {
    shareTypes = Set.copyOf(shareTypes);
    diskFormats = Set.copyOf(diskFormats);
  }
}
