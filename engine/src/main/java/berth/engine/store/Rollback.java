package berth.engine.store;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Undo steps for a multi-step operation: pushed steps run in reverse on close unless {@link #commit()}
 * was called (moby's cleanups.Composite). Not thread-safe.
 */
public final class Rollback implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Rollback.class.getName());
  private final Deque<Step> steps = new ArrayDeque<>();
  private boolean committed;

  /** One undo step. */
  @FunctionalInterface
  public interface Step {
    void run() throws Exception;
  }

  public void push(Step step) {
    steps.push(step);
  }

  public void commit() {
    committed = true;
  }

  @Override
  public void close() {
    if (committed) {
      return;
    }
    while (!steps.isEmpty()) {
      try {
        steps.pop().run();
      } catch (Exception e) {
        LOG.log(Level.WARNING, "rollback step failed", e);
      }
    }
  }
}
