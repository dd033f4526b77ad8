package berth.vm;

import java.util.List;

/**
 * A machine's status plus the sentences that explain it, e.g. stopped because "the VM's QEMU process ended
 * unexpectedly (crashed or killed)", or broken because "the data disk ... is missing".
 */
public record MachineState(MachineStatus status, List<String> reasons) {
  public MachineState {
    reasons = List.copyOf(reasons);
  }

  public static MachineState of(MachineStatus status, String... reasons) {
    return new MachineState(status, List.of(reasons));
  }

  @Override
  public String toString() {
    return reasons.isEmpty() ? status.wire() : status.wire() + " (" + String.join("; ", reasons) + ")";
  }
}
