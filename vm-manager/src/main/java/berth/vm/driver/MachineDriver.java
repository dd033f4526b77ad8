package berth.vm.driver;

import berth.vm.Machine;
import berth.vm.MachineConfig;
import berth.vm.MachineState;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * A way of running machines as VMs. Whoever makes a driver closes it. Implementations are thread-safe; operations on one machine are
 * serialized within a driver instance. Failures the user can act on are {@link berth.vm.MachineException}s
 * whose message says what is wrong and how to fix it.
 */
public interface MachineDriver extends AutoCloseable {
  /** The driver's name as used in configs and on the command line, e.g. "libvirt". */
  String name();

  /** Empty if this host can run the driver; otherwise a sentence the UI can show. Cheap; never throws. */
  Optional<String> unsupportedReason();

  /** What this driver can do. */
  DriverFeatures features();

  /**
   * Fills built-in and driver-specific defaults under {@code config}, then reports every problem with the
   * name and the result at once (one {@link berth.vm.MachineException.Kind#INVALID} exception).
   */
  MachineConfig configure(String name, MachineConfig config);

  /** Creates the machine's files (the data disk). MUST do nothing for a machine that already exists. */
  void create(Machine machine) throws IOException;

  /**
   * Boots the VM and returns once it runs (not once the guest's agent answers); the handle completes when
   * the VM exits. Idempotent: for a running machine it returns a handle to the running VM.
   */
  RunningMachine start(Machine machine) throws IOException;

  /**
   * Asks the guest to power off (ACPI power button: the guest stops the engine and syncs its disks), and
   * forces the VM off when it has not within {@code grace}. Returns once the VM is off. Idempotent.
   */
  void stop(Machine machine, Duration grace) throws IOException;

  /** Stops the VM if it runs (forced), then removes everything the machine had: VM definition and files. Idempotent. */
  void delete(Machine machine) throws IOException;

  /** Where the machine stands, with reasons. Never throws: {@link berth.vm.MachineStatus#BROKEN} instead. */
  MachineState status(Machine machine);

  /** Where the running machine's SSH server is reachable from the host; INVALID if it does not run. */
  SshEndpoint sshEndpoint(Machine machine) throws IOException;

  /** The file holding the guest's serial console output of the current boot (may not exist yet). */
  Path consoleLog(Machine machine);

  /** Releases the driver's connections (machines keep running). Idempotent. */
  @Override
  void close();
}
