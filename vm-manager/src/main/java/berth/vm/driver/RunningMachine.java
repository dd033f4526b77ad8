package berth.vm.driver;

import java.util.concurrent.CompletableFuture;

/** A VM that a driver started (or found running). */
public interface RunningMachine {
  /**
   * Completes when the VM has stopped: with 0 when it powered off or was stopped, with 1 when it ended
   * unexpectedly (its process crashed or was killed). Cancelling it only stops the watching, not the VM.
   */
  CompletableFuture<Integer> exited();
}
