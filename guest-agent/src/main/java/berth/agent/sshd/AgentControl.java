package berth.agent.sshd;

import java.time.Duration;

/** What the {@code berth-agent} exec commands ask of the agent. Implementations are thread-safe. */
public interface AgentControl {
  /** Waits up to {@code timeout} for the engine to answer {@code /_ping}; false if it did not. */
  boolean awaitEngine(Duration timeout) throws InterruptedException;

  /**
   * Stops the engine (containers stopped, file systems synced) and returns once that is done; the agent then
   * exits on its own shortly after, so the caller's reply still goes out. Idempotent.
   */
  void shutdown();
}
