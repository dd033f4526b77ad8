package berth.agent.ready;

import berth.agent.engine.EngineSupervisor;
import java.io.PrintStream;
import java.time.Duration;

/**
 * The agent's readiness: the SSH server listens and the engine answers {@code /_ping}. Announced once on the
 * serial console (the agent's stdout) with {@link #LINE}, which the host's driver waits for.
 */
public final class Readiness {
  /** The line the host waits for on the console. Part of the host–guest contract: do not change it. */
  public static final String LINE = "BERTH-AGENT READY";

  private Readiness() {}

  /**
   * Waits up to {@code timeout} for the engine, then prints {@link #LINE} on {@code console}; false (and
   * nothing printed) if the engine never answered. Call once the SSH server listens.
   */
  public static boolean announce(EngineSupervisor engine, Duration timeout, PrintStream console)
      throws InterruptedException {
    if (!engine.awaitPing(timeout)) {
      return false;
    }
    console.println(LINE);
    console.flush();
    return true;
  }
}
