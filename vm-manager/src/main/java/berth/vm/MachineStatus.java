package berth.vm;

import com.fasterxml.jackson.annotation.JsonValue;

/** Where a machine is in its life, as the CLI's {@code status --format json} and the desktop app show it. */
public enum MachineStatus {
  /** Not running; {@code start} would boot it. */
  STOPPED("stopped"),
  /** A start is under way in this process. */
  STARTING("starting"),
  /** The VM runs. Whether the engine inside answers yet is the SSH channel's business, not the driver's. */
  RUNNING("running"),
  /** A stop is under way (the guest was asked to power off). */
  STOPPING("stopping"),
  /** Something a start cannot fix by itself: a missing boot image or disk, libvirtd down, a foreign domain. */
  BROKEN("broken");

  private final String wire;

  MachineStatus(String wire) {
    this.wire = wire;
  }

  /** The lower-case name used in JSON and on the command line. */
  @JsonValue
  public String wire() {
    return wire;
  }

  @Override
  public String toString() {
    return wire;
  }
}
