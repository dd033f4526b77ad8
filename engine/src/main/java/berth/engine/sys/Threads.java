package berth.engine.sys;

import java.io.IOException;
import java.util.concurrent.ExecutionException;

/** Small thread helpers shared by the engine's worker threads. */
public final class Threads {
  private Threads() {}

  /** Waits for {@code t} to end even if interrupted meanwhile; the interrupt is kept for the caller. */
  public static void joinUninterruptibly(Thread t) {
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        t.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** The cause of a failed task, thrown as itself when it is an IOException or unchecked, else wrapped. */
  public static IOException rethrow(ExecutionException e) {
    Throwable cause = e.getCause();
    if (cause instanceof IOException io) {
      return io;
    }
    if (cause instanceof RuntimeException r) {
      throw r;
    }
    if (cause instanceof Error err) {
      throw err;
    }
    return new IOException(cause);
  }
}
