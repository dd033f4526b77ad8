package berth.engine.container;

import berth.engine.api.types.ContainerConfig;
import berth.engine.events.EventBus;
import berth.engine.runtime.Runc;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Health checks (HEALTHCHECK or {@code --health-*}): runs the test in the container with {@code runc exec}
 * every interval, keeps {@code State.Health} (status, failing streak, last 5 results) and publishes
 * {@code health_status} events when the status changes, with Docker's defaults (30 s interval and timeout,
 * 3 retries, no start period) and rules (failures in the start period do not count).
 */
final class Health {
  private static final Logger LOG = Logger.getLogger(Health.class.getName());
  private static final long DEFAULT_NANOS = 30_000_000_000L;
  private static final int MAX_LOG = 5;
  private static final int MAX_OUTPUT = 4096;

  private final ContainerStore store;
  private final EventBus events;
  private final Runc runc;
  private final ScheduledExecutorService timers;
  private final Function<String, Path> runDir;
  private final Map<String, ScheduledFuture<?>> probes = new ConcurrentHashMap<>();
  private final Function<String, java.util.concurrent.locks.ReentrantLock> locks;
  private final Map<String, Object> tokens = new ConcurrentHashMap<>();
  /** Probes run here, not on the timer threads: one may take its whole timeout. */
  private final java.util.concurrent.ExecutorService runner = java.util.concurrent.Executors.newCachedThreadPool(
      berth.engine.api.http.ApiServer.daemonThreads("health-"));

  Health(ContainerStore store, EventBus events, Runc runc, ScheduledExecutorService timers,
      Function<String, Path> runDir, Function<String, java.util.concurrent.locks.ReentrantLock> locks) {
    this.locks = locks;
    this.store = store;
    this.events = events;
    this.runc = runc;
    this.timers = timers;
    this.runDir = runDir;
  }

  /** The test to run, or null when the container has none (or "NONE"). */
  static List<String> command(ContainerConfig.HealthConfig h) {
    if (h == null || h.test() == null || h.test().isEmpty()) {
      return null;
    }
    List<String> t = h.test();
    return switch (t.get(0)) {
      case "CMD" -> t.size() > 1 ? t.subList(1, t.size()) : null;
      case "CMD-SHELL" -> t.size() > 1 ? List.of("/bin/sh", "-c", String.join(" ", t.subList(1, t.size()))) : null;
      default -> null; // NONE, or an inherited empty test
    };
  }

  void started(Container c) {
    List<String> cmd = command(c.config().healthcheck());
    if (cmd == null) {
      return;
    }
    ContainerConfig.HealthConfig h = c.config().healthcheck();
    long interval = positive(h.interval(), DEFAULT_NANOS);
    long startInterval = positive(h.startInterval(), 5_000_000_000L);
    long startPeriod = positive(h.startPeriod(), 0);
    long startedAt = System.nanoTime();
    update(c.id(), s -> new Container.Health("starting", 0, List.of()));
    Object token = new Object(); // this run's probe loop; a restart starts a new one and this one ends
    tokens.put(c.id(), token);
    Runnable[] probe = new Runnable[1];
    probe[0] = () -> {
      if (tokens.get(c.id()) != token) {
        return;
      }
      boolean inStart = System.nanoTime() - startedAt < startPeriod;
      check(c.id(), cmd, h, inStart);
      synchronized (tokens) {
        if (tokens.get(c.id()) == token) {
          probes.put(c.id(), timers.schedule(() -> runner.execute(probe[0]),
              inStart && h.startInterval() != null ? startInterval : interval, TimeUnit.NANOSECONDS));
        }
      }
    };
    synchronized (tokens) {
      probes.put(c.id(), timers.schedule(() -> runner.execute(probe[0]),
          startPeriod > 0 && h.startInterval() != null ? startInterval : interval, TimeUnit.NANOSECONDS));
    }
  }

  void stopped(String id) {
    synchronized (tokens) {
      tokens.remove(id);
      ScheduledFuture<?> f = probes.remove(id);
      if (f != null) {
        f.cancel(false);
      }
    }
  }

  private static long positive(Long v, long dflt) {
    return v == null || v <= 0 ? dflt : v;
  }

  private void check(String id, List<String> cmd, ContainerConfig.HealthConfig h, boolean inStartPeriod) {
    Path dir = runDir.apply(id);
    String start = Instant.now().toString();
    int code;
    String output;
    Path process = null;
    try {
      Execs.Config cfg = new Execs.Config(false, true, true, null, false, null, cmd, false, null, null);
      process = Files.createTempFile(dir, "health-", ".json");
      Execs.writeProcess(dir, cfg, false, process);
      Path pidFile = dir.resolve(process.getFileName() + ".pid");
      Process p = new ProcessBuilder(runc.binary().toString(), "--root", runc.root().toString(), "exec", "--process",
          process.toString(), "--pid-file", pidFile.toString(), id).redirectErrorStream(true)
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
      byte[] out;
      long timeout = positive(h.timeout(), DEFAULT_NANOS);
      Thread reader;
      byte[][] holder = new byte[1][];
      try (InputStream in = p.getInputStream()) {
        reader = new Thread(() -> {
          try {
            holder[0] = in.readNBytes(MAX_OUTPUT);
            in.transferTo(java.io.OutputStream.nullOutputStream());
          } catch (IOException e) {
            holder[0] = new byte[0];
          }
        }, "health-output");
        reader.setDaemon(true);
        reader.start();
        if (!p.waitFor(timeout, TimeUnit.NANOSECONDS)) {
          killProbe(pidFile); // the probe inside the container, not only the runc exec that waits for it
          p.destroyForcibly();
          code = -1;
        } else {
          code = p.exitValue();
        }
        reader.join(1000);
      }
      out = holder[0] == null ? new byte[0] : holder[0];
      output = code == -1 ? "Health check exceeded timeout (" + Duration.format(timeout) + ")"
          : new String(out, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      code = -1;
      output = "health check failed: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } finally {
      if (process != null) {
        try {
          Files.deleteIfExists(process);
          Files.deleteIfExists(dir.resolve(process.getFileName() + ".pid"));
        } catch (IOException ignored) {
          // the run dir goes away with the container
        }
      }
    }
    int exit = code;
    String text = output;
    int retries = h.retries() == null || h.retries() <= 0 ? 3 : h.retries();
    update(id, old -> {
      List<Container.HealthLog> log = new ArrayList<>(old == null ? List.of() : old.log());
      log.add(new Container.HealthLog(start, Instant.now().toString(), exit, text));
      while (log.size() > MAX_LOG) {
        log.remove(0);
      }
      String status = old == null ? "starting" : old.status();
      int streak = old == null ? 0 : old.failingStreak();
      if (exit == 0) {
        return new Container.Health("healthy", 0, log);
      }
      if (inStartPeriod && !status.equals("healthy")) {
        return new Container.Health(status, streak, log);
      }
      streak++;
      return new Container.Health(streak >= retries ? "unhealthy" : status, streak, log);
    });
  }

  private void update(String id, java.util.function.UnaryOperator<Container.Health> f) {
    // the container's lock (reentrant: started() runs under it): an exit recorded meanwhile is not undone
    java.util.concurrent.locks.ReentrantLock l = locks.apply(id);
    l.lock();
    try {
      updateLocked(id, f);
    } finally {
      l.unlock();
    }
  }

  private void updateLocked(String id, java.util.function.UnaryOperator<Container.Health> f) {
    synchronized (this) {
      Container c = store.get(id);
      if (c == null || !c.state().running()) {
        return;
      }
      Container.Health old = c.state().health();
      Container.Health now = f.apply(old);
      try {
        store.update(c.withState(c.state().withHealth(now)));
      } catch (IOException e) {
        LOG.log(Level.WARNING, "could not record health of " + id, e);
        return;
      }
      if (old == null || !old.status().equals(now.status())) {
        events.publish("container", "health_status: " + now.status(), id, Supervisor.attrs(c));
      }
    }
  }

  private static void killProbe(Path pidFile) {
    try {
      long pid = Long.parseLong(Files.readString(pidFile).trim());
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    } catch (IOException | NumberFormatException e) {
      // not started yet, or gone
    }
  }

  /** Go's duration formatting for the timeout message ("30s", "1.5s"). */
  static final class Duration {
    static String format(long nanos) {
      double s = nanos / 1e9;
      return (s == Math.floor(s) ? Long.toString((long) s) : Double.toString(s)) + "s";
    }
  }
}
