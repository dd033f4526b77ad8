package berth.vm;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class ServeWatchTest {
  private static final MachineState RUNNING = MachineState.of(MachineStatus.RUNNING);
  private static final MachineState BROKEN = MachineState.of(MachineStatus.BROKEN, "cannot tell the machine's state");
  private static final MachineState STOPPED = MachineState.of(MachineStatus.STOPPED, "the VM ended unexpectedly");

  @Test
  void aStateThatCannotBeToldNeverEndsServing() {
    Machines.ServeWatch w = new Machines.ServeWatch();
    for (int i = 0; i < 100; i++) {
      assertNull(w.observe(BROKEN));
    }
    assertNull(w.observe(RUNNING));
  }

  @Test
  void aStoppedMachineEndsServingOnTheSecondReadingInARow() {
    Machines.ServeWatch w = new Machines.ServeWatch();
    assertNull(w.observe(STOPPED));
    assertNull(w.observe(RUNNING)); // one odd reading is forgotten
    assertNull(w.observe(STOPPED));
    assertNull(w.observe(BROKEN));
    assertNull(w.observe(STOPPED));
    assertNotNull(w.observe(STOPPED));
  }
}
