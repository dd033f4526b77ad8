package berth.engine.network.dns;

import berth.engine.sys.Threads;

import berth.engine.sys.Posix;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.SynchronousQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A dedicated platform thread that runs actions inside another network namespace: it enters the
 * namespace with setns(2), runs the action (sockets made there belong to that namespace for good,
 * whichever thread uses them later), and returns to the engine's own namespace, kept open as a
 * descriptor of {@code /proc/self/ns/net} from construction. A thread that cannot get back is
 * retired, never reused; the next action gets a fresh one.
 */
final class NetnsThread implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(NetnsThread.class.getName());
  private static final Path SELF = Path.of("/proc/self/ns/net");

  /** What runs in the namespace. */
  interface Action<T> {
    T run() throws IOException;
  }

  private final int selfFd;
  private Worker worker; // guarded by this
  private boolean closed; // guarded by this

  NetnsThread() throws IOException {
    this.selfFd = Posix.open(SELF, Posix.O_RDONLY | Posix.O_CLOEXEC);
  }

  /** Runs {@code action} inside the network namespace of the nsfs file {@code netns}. */
  synchronized <T> T call(Path netns, Action<T> action) throws IOException {
    if (closed) {
      throw new IOException("the embedded DNS server is closed");
    }
    if (worker == null || worker.retired || !worker.isAlive()) {
      worker = new Worker();
      worker.start();
    }
    Worker w = worker;
    FutureTask<T> task = new FutureTask<>(() -> w.inside(netns, action));
    try {
      w.queue.put(task);
      return task.get();
    } catch (InterruptedException e) {
      // The worker finishes the action anyway; a result made meanwhile (sockets) is lost to the GC.
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while entering " + netns);
    } catch (ExecutionException e) {
      throw Threads.rethrow(e);
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (worker != null) {
      worker.interrupt();
      worker = null;
    }
    try {
      Posix.closeFd(selfFd);
    } catch (IOException e) {
      LOG.log(Level.FINE, "closing " + SELF, e);
    }
  }

  private final class Worker extends Thread {
    final SynchronousQueue<Runnable> queue = new SynchronousQueue<>();
    volatile boolean retired;

    Worker() {
      super("berth-dns-netns");
      setDaemon(true);
    }

    @Override
    public void run() {
      while (!retired) {
        Runnable r;
        try {
          r = queue.take();
        } catch (InterruptedException e) {
          return;
        }
        r.run();
      }
    }

    <T> T inside(Path netns, Action<T> action) throws IOException {
      int target = Posix.open(netns, Posix.O_RDONLY | Posix.O_CLOEXEC);
      boolean entered = false;
      try {
        Posix.setns(target, Posix.CLONE_NEWNET, netns);
        entered = true;
        return action.run();
      } finally {
        try {
          Posix.closeFd(target);
        } catch (IOException e) {
          LOG.log(Level.FINE, "closing " + netns, e);
        }
        if (entered) {
          try {
            Posix.setns(selfFd, Posix.CLONE_NEWNET, SELF);
          } catch (IOException | RuntimeException e) {
            retired = true;
            LOG.log(Level.SEVERE, "embedded DNS: cannot return from " + netns
                + " to the engine's network namespace; retiring that thread", e);
          }
        }
      }
    }
  }
}
