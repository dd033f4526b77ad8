package berth.engine.runtime;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Tells when a monitor has written its {@code exit} file, with one inotify watch (the JDK's WatchService)
 * for all monitors: no thread per container. Callbacks run on the given executor, once per watch.
 */
public final class ExitWatcher implements Closeable {
  private static final Logger LOG = Logger.getLogger(ExitWatcher.class.getName());
  private final WatchService ws;
  private final Executor executor;
  private final Map<WatchKey, Entry> entries = new ConcurrentHashMap<>();
  private final Thread thread;

  private record Entry(Path dir, Runnable onExit, AtomicBoolean fired) {}

  public ExitWatcher(Executor executor) throws IOException {
    this.ws = FileSystems.getDefault().newWatchService();
    this.executor = executor;
    this.thread = new Thread(this::loop, "exit-watcher");
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Calls {@code onExit} once, when {@code dir/exit} appears (at once if it already exists). Register before
   * the process can exit, or at any time for a process that may already have exited.
   */
  public void watch(Path dir, Runnable onExit) throws IOException {
    WatchKey key = dir.register(ws, StandardWatchEventKinds.ENTRY_CREATE); // a rename into the dir counts as a create
    Entry e = new Entry(dir, onExit, new AtomicBoolean());
    entries.put(key, e);
    if (Files.exists(dir.resolve("exit"))) {
      fire(key, e);
    }
  }

  private void fire(WatchKey key, Entry e) {
    if (e.fired().compareAndSet(false, true)) {
      key.cancel();
      entries.remove(key);
      executor.execute(() -> {
        try {
          e.onExit().run();
        } catch (RuntimeException x) {
          LOG.log(Level.WARNING, "exit handler failed for " + e.dir(), x);
        }
      });
    }
  }

  private void loop() {
    while (true) {
      WatchKey key;
      try {
        key = ws.take();
      } catch (InterruptedException | ClosedWatchServiceException e) {
        return;
      }
      Entry e = entries.get(key);
      boolean exited = false;
      for (WatchEvent<?> ev : key.pollEvents()) {
        exited |= ev.kind() == StandardWatchEventKinds.OVERFLOW
            || ev.context() instanceof Path p && p.toString().equals("exit");
      }
      if (!key.reset() && e != null) {
        exited = true; // the directory went away: nothing more will come
      }
      if (e != null && exited && Files.exists(e.dir().resolve("exit")) || e != null && !key.isValid()) {
        fire(key, e);
      }
      if (exited && e == null) {
        // overflow on an unknown key: check every watched directory
        entries.forEach((k, x) -> {
          if (Files.exists(x.dir().resolve("exit"))) {
            fire(k, x);
          }
        });
      }
    }
  }

  @Override
  public void close() throws IOException {
    ws.close();
    thread.interrupt();
  }
}
