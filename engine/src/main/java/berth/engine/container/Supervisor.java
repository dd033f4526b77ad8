package berth.engine.container;

import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.types.HostConfig;
import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import berth.engine.events.EventBus;
import berth.engine.layer.LayerStore;
import berth.engine.layer.MountSpec;
import berth.engine.network.EtcFiles;
import berth.engine.network.NetworkService;
import berth.engine.runtime.ExitWatcher;
import berth.engine.runtime.Monitor;
import berth.engine.runtime.Mounts;
import berth.engine.runtime.OciSpec;
import berth.engine.runtime.OciSpecBuilder;
import berth.engine.runtime.Runc;
import berth.engine.runtime.UserResolver;
import berth.engine.runtime.cgroup.Cgroups;
import berth.engine.store.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs containers: mounts the root filesystem, writes the OCI bundle, launches the per-container monitor
 * (which runs {@code runc create}), starts, signals, pauses and stops them, learns of their exits from the
 * monitors' exit files, applies restart policies, and on engine start reconciles the records with what
 * really runs. Operations on one container are serialised by a per-container lock; nothing holds it while
 * waiting for a process to exit.
 */
final class Supervisor {
  private static final Logger LOG = Logger.getLogger(Supervisor.class.getName());
  static final int DEFAULT_STOP_TIMEOUT = 10;

  private final ContainerStore store;
  private final LayerStore layers;
  private final EventBus events;
  private final OciSpecBuilder specs;
  private final Runc runc;
  private final Monitor monitor;
  private final Cgroups cgroups;
  private final Path execRoot;
  private final Path containersDir;
  private final LogSettings.Defaults logDefaults;
  private final ExitWatcher watcher;
  private final ScheduledExecutorService timers;
  private final Path initBinary;
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final Map<String, Run> runs = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Integer>> nextExit = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Integer>> removed = new ConcurrentHashMap<>();
  private final Map<String, List<Consumer<Path>>> pendingAttach = new ConcurrentHashMap<>();
  private final Map<String, ScheduledFuture<?>> pendingRestarts = new ConcurrentHashMap<>();
  /** Containers being restarted by a user: their exit does not auto-remove them (dockerd's rule). */
  private final java.util.Set<String> manualRestarts = ConcurrentHashMap.newKeySet();
  private volatile boolean shuttingDown;
  private Health health;
  private Consumer<Container> onRemove;
  private NetworkService networks;
  private ContainerMounts mounts;

  /** One run of a container: from the monitor's launch to the processing of its exit. */
  static final class Run {
    final String id;
    final Path dir;
    final long pid;
    final long startedNanos = System.nanoTime();
    final CompletableFuture<Integer> done = new CompletableFuture<>();

    Run(String id, Path dir, long pid) {
      this.id = id;
      this.dir = dir;
      this.pid = pid;
    }
  }

  Supervisor(ContainerStore store, LayerStore layers, EventBus events, OciSpecBuilder specs, Runc runc,
      Monitor monitor, Cgroups cgroups, Path execRoot, Path containersDir, LogSettings.Defaults logDefaults,
      ExitWatcher watcher, ScheduledExecutorService timers, Path initBinary) {
    this.store = store;
    this.layers = layers;
    this.events = events;
    this.specs = specs;
    this.runc = runc;
    this.monitor = monitor;
    this.cgroups = cgroups;
    this.execRoot = execRoot;
    this.containersDir = containersDir;
    this.logDefaults = logDefaults;
    this.watcher = watcher;
    this.timers = timers;
    this.initBinary = initBinary;
  }

  void setNetworks(NetworkService n) {
    this.networks = n;
  }

  void setMounts(ContainerMounts m) {
    this.mounts = m;
  }

  void setHealth(Health h) {
    this.health = h;
  }

  /** What removes a container (ContainerService), for --rm. */
  void setOnRemove(Consumer<Container> r) {
    this.onRemove = r;
  }

  /** The record, or NOT_FOUND if it was removed meanwhile. */
  Container existing(String id) {
    Container c = store.get(id);
    if (c == null) {
      throw EngineException.notFound("No such container: %s", id);
    }
    return c;
  }

  ReentrantLock lock(String id) {
    return locks.computeIfAbsent(id, k -> new ReentrantLock());
  }

  /**
   * Freezes or thaws a running container's processes without touching its recorded state: {@code docker cp}'s
   * window, so nothing inside can swap a path for a symlink between its resolution and its use (moby's fix for
   * CVE-2018-15664 also pauses the container). The caller holds the container's lock.
   */
  void freeze(String id, boolean freeze) throws IOException {
    if (freeze) {
      runc.pause(id);
    } else {
      runc.resume(id);
    }
  }

  Path runDir(String id) {
    return execRoot.resolve("c").resolve(id);
  }

  Path containerDir(String id) {
    return containersDir.resolve(id);
  }

  Run run(String id) {
    return runs.get(id);
  }

  String cgroupsPath(String id) {
    return "/berth/" + id;
  }

  // ---- start -------------------------------------------------------------------------------------

  /** Starts a created or exited container. NOT_MODIFIED if it runs, CONFLICT if paused. */
  void start(String id) {
    ReentrantLock l = lock(id);
    l.lock();
    Container failed = null;
    try {
      Container c = store.get(id);
      if (c == null) {
        throw EngineException.notFound("No such container: %s", id);
      }
      if (c.state().paused()) {
        throw EngineException.conflict("cannot start a paused container, try unpause instead");
      }
      if (runs.containsKey(id)) {
        throw EngineException.notModified();
      }
      cancelPendingRestart(id);
      backoff.remove(id); // a user's start resets the policy's back-off and retry count, as dockerd
      try {
        startLocked(c.withManuallyStopped(false).withRestartCount(0));
      } catch (EngineException e) {
        failed = store.get(id);
        throw e;
      }
    } finally {
      l.unlock();
      if (failed != null && Boolean.TRUE.equals(failed.hostConfig().autoRemove()) && onRemove != null) {
        onRemove.accept(failed); // dockerd removes an --rm container whose start failed
      }
    }
  }

  private void startLocked(Container c) {
    String id = c.id();
    Path dir = runDir(id);
    Path rootfs = dir.resolve("rootfs");
    boolean launched = false;
    List<Consumer<Path>> attachers = null;
    try {
      Trees.deleteFlat(dir); // not recursive: a rootfs still mounted fails here
      Files.createDirectories(dir);
      MountSpec m = layers.prepare(id, c.diffIds().stream().map(Digest::parse).toList());
      Mounts.mount(m, rootfs);
      ContainerMounts.Prepared volumeMounts = mounts.prepare(id, c.mountPoints(), rootfs);
      if (!volumeMounts.mounts().equals(c.mountPoints())) {
        c = c.withMountPoints(volumeMounts.mounts()); // copy-up done: recorded with the running state below
      }
      ContainerCreateRequest req = new ContainerCreateRequest(c.config(),
          ContainerMounts.withMountTmpfs(c.hostConfig(), c.mountPoints()), null);
      UserResolver.ExecUser user = UserResolver.resolve(rootfs, OciSpecBuilder.effectiveUser(c.config(), null),
          c.hostConfig().groupAdd());
      Map<String, String> nsPaths = new HashMap<>();
      Container joined = joined(c, c.hostConfig().networkMode(), "network");
      for (String[] ns : new String[][] {{"pid", c.hostConfig().pidMode()}, {"ipc", c.hostConfig().ipcMode()}}) {
        Container other = joined(c, ns[1], ns[0]);
        if (other != null) {
          nsPaths.put(ns[0], "/proc/" + other.state().pid() + "/ns/" + ns[0]);
        }
      }
      NetworkService.Attachment net = null;
      if (joined != null) {
        nsPaths.put("network", "/proc/" + joined.state().pid() + "/ns/net");
      } else {
        net = networks.attach(id, c.name(), c.hostConfig(), c.networking().networks(),
            c.config().exposedPorts() == null ? Set.of() : c.config().exposedPorts().keySet());
        if (net.netns() != null) {
          nsPaths.put("network", net.netns().toString());
        }
        c = c.withNetworking(new Container.Networking(net.networks(), net.ports(),
            net.netns() == null ? "" : net.netns().toString()));
      }
      List<OciSpecBuilder.BindMount> binds = new ArrayList<>(etcFiles(c, net, joined));
      binds.addAll(volumeMounts.binds());
      OciSpecBuilder.Inputs in = OciSpecBuilder.Inputs.of(id, req, null, rootfs, user).withBinds(binds)
          .withCgroupsPath(cgroupsPath(id)).withNamespacePaths(nsPaths);
      if (Boolean.TRUE.equals(c.hostConfig().init()) && initBinary != null) {
        in = in.withInitBinary(initBinary);
      }
      OciSpec spec = specs.build(in);
      Files.write(dir.resolve("config.json"), spec.toJson().getBytes(StandardCharsets.UTF_8)); // a fresh dir
      writeBindMounts(id, spec);
      LogSettings log = LogSettings.of(c.hostConfig().logConfig(), logDefaults);
      boolean tty = Boolean.TRUE.equals(c.config().tty());
      List<Consumer<Path>> waiting = pendingAttach.remove(id);
      attachers = waiting == null ? null : List.copyOf(waiting);
      // runc run -d creates and starts at once; clients waiting to attach are connected first (the monitor
      // waits for the engine's start frame, sent after onReady), so they miss no output.
      Monitor.Options o = new Monitor.Options(id, dir, null, tty, Boolean.TRUE.equals(c.config().openStdin()),
          log.path(containerDir(id), id), log.maxSize(), log.maxFile(), cgroups.oomFile(cgroupsPath(id)), 0,
          attachers != null);
      Path logPath = o.logPath();
      if (logPath != null) {
        Files.createDirectories(logPath.getParent());
      }
      List<Consumer<Path>> connect = attachers;
      launched = true;
      long pid = monitor.launch(o, d -> {
        if (connect != null) {
          for (Consumer<Path> a : connect) {
            try {
              a.accept(d);
            } catch (RuntimeException e) {
              LOG.log(Level.FINE, "an attach client could not connect", e); // the others still get the start
            }
          }
        }
      });
      Run r = new Run(id, dir, pid);
      runs.put(id, r);
      watcher.watch(dir, () -> onExit(r));
      Container running = c.withState(c.state().asRunning(pid, Instant.now().toString(), null));
      store.update(running);
      events.publish("container", "start", id, attrs(running));
      if (health != null) {
        health.started(running);
      }
    } catch (RuntimeException | IOException e) { // anything: the namespace, ports and mounts made so far go
      if (attachers != null) {
        attachers.forEach(a -> a.accept(null)); // null: the start failed; attached clients are let go
      }
      runs.remove(id); // the exit the monitor may still record is not processed: this cleans up
      if (launched) {
        Monitor.kill(dir);
      }
      cleanupRun(id, dir, launched);
      failStart(c, e);
      if (e instanceof EngineException ee) {
        throw ee;
      }
      throw EngineException.system("could not start container: " + e.getMessage(), e);
    }
  }

  private void failStart(Container c, Exception e) {
    String msg = e.getMessage() == null ? e.toString() : e.getMessage();
    int code = msg.contains("no such file or directory") || msg.contains("executable file not found")
        || msg.contains("not a directory") ? 127
        : msg.contains("permission denied") ? 126 : 128;
    try {
      Container now = store.get(c.id());
      if (now != null) {
        // as dockerd: the state never left "created"; the exit code and error say why
        store.update(stopped(now).withState(now.state().startedAt().equals(Container.State.ZERO_TIME)
            ? now.state().asFailedStart(code, msg) // never ran: stays "created", as with dockerd
            : now.state().asExited(code, false, Instant.now().toString(), msg)));
      }
    } catch (IOException x) {
      LOG.log(Level.WARNING, "could not record start failure of " + c.id(), x);
    }
  }

  /**
   * The container whose namespace of {@code type} a {@code container:<x>} mode joins (running, as dockerd
   * requires), or null for other modes.
   */
  private Container joined(Container c, String mode, String type) {
    if (mode == null || !mode.startsWith("container:")) {
      return null;
    }
    String ref = mode.substring("container:".length());
    String tid = store.idOfName(ref.startsWith("/") ? ref.substring(1) : ref);
    if (tid == null) {
      List<String> ids = store.byPrefix(ref);
      tid = ids.size() == 1 ? ids.get(0) : null;
    }
    Container t = tid == null ? null : store.get(tid);
    if (t == null) {
      throw EngineException.notFound("No such container: %s", ref);
    }
    if (t.id().equals(c.id())) {
      throw EngineException.invalid("cannot join own %s namespace", type);
    }
    if (!t.state().running() || runs.get(t.id()) == null) {
      throw EngineException.conflict("cannot join %s namespace of a non running container: container %s is %s",
          type, t.id(), t.state().status());
    }
    return t;
  }

  /** A container's own hostname off the host network: {@code --hostname}, else its short ID. */
  static String hostname(Container c) {
    String h = c.config().hostname();
    return h != null && !h.isEmpty() ? h : c.id().substring(0, 12);
  }

  /**
   * /etc/hostname, /etc/hosts and /etc/resolv.conf, kept with the container and bind-mounted; a container that
   * joins another's network shares that one's files, as with dockerd.
   */
  private List<OciSpecBuilder.BindMount> etcFiles(Container c, NetworkService.Attachment net, Container joined)
      throws IOException {
    Path d = joined != null ? containerDir(joined.id()) : containerDir(c.id());
    List<OciSpecBuilder.BindMount> out = new ArrayList<>();
    Path hn = d.resolve("hostname");
    Path hosts = d.resolve("hosts");
    Path resolv = d.resolve("resolv.conf");
    if (joined == null) {
      boolean hostNet = "host".equals(c.hostConfig().networkMode());
      String hostname = hostNet ? berth.engine.sys.Host.hostname() : hostname(c);
      HostConfig h = c.hostConfig();
      // rewritten at every start: no need for AtomicFiles' fsync
      Files.write(hn, (hostname + "\n").getBytes(StandardCharsets.UTF_8));
      Files.write(hosts, EtcFiles.hosts(hostNet, hostname, net.ownIps(), h.extraHosts(), networks.hostGateway())
          .getBytes(StandardCharsets.UTF_8));
      Files.write(resolv, EtcFiles.resolvConf(hostNet, net.embeddedDns(), h.dns(), h.dnsSearch(), h.dnsOptions())
          .getBytes(StandardCharsets.UTF_8));
    }
    out.add(new OciSpecBuilder.BindMount(resolv.toString(), "/etc/resolv.conf", false, "rprivate"));
    if (!"host".equals(c.hostConfig().utsMode()) && joined == null) {
      out.add(new OciSpecBuilder.BindMount(hn.toString(), "/etc/hostname", false, "rprivate"));
    }
    out.add(new OciSpecBuilder.BindMount(hosts.toString(), "/etc/hosts", false, "rprivate"));
    return out;
  }

  /**
   * Keeps the bind mounts this start gave runc with the container ({@link ContainerView#MOUNTS_FILE}), so that
   * {@code docker cp} into or out of a stopped container reaches its volumes, binds and /etc files as dockerd does.
   */
  private void writeBindMounts(String id, OciSpec spec) throws IOException {
    List<OciSpec.Mount> binds = new ArrayList<>();
    for (OciSpec.Mount m : spec.mounts()) {
      if (ContainerView.isBind(MOUNT_JSON.valueToTree(m))) {
        binds.add(m);
      }
    }
    // rewritten at every start, like the /etc files: no need for AtomicFiles' fsync
    Files.write(containerDir(id).resolve(ContainerView.MOUNTS_FILE), MOUNT_JSON.writeValueAsBytes(binds));
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper MOUNT_JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /** Undoes a run: runc state, the root filesystem mount, the cgroup and the run directory. */
  private void cleanupRun(String id, Path dir, boolean hadRunc) {
    cleanupRun(id, dir, hadRunc, false);
  }

  /**
   * With {@code exited} (the monitor reaped the init process, so its pid namespace is gone), the cgroup and
   * runc's state are removed directly, saving a runc process on every exit; if the cgroup still holds
   * processes (a container sharing the host's pid namespace), {@code runc delete --force} kills them.
   */
  private void cleanupRun(String id, Path dir, boolean hadRunc, boolean exited) {
    networks.detach(id);
    boolean cgroupGone = false;
    if (hadRunc && exited) {
      try {
        cgroups.remove(cgroupsPath(id));
        cgroupGone = true;
        runc.forget(id);
        hadRunc = false;
      } catch (IOException e) {
        LOG.fine("cgroup of " + id + " is busy; runc delete --force: " + e.getMessage());
      }
    }
    if (hadRunc) {
      try {
        runc.delete(id, true);
      } catch (IOException e) {
        // never created, or already deleted
      }
    }
    try {
      Mounts.unmount(dir.resolve("rootfs"));
    } catch (IOException e) {
      LOG.log(Level.WARNING, "could not unmount the root filesystem of " + id, e);
    }
    mounts.stopped(id);
    if (!cgroupGone) {
      try {
        cgroups.remove(cgroupsPath(id));
      } catch (IOException e) {
        LOG.log(Level.WARNING, "could not remove the cgroup of " + id, e);
      }
    }
    try {
      Trees.deleteFlat(dir); // not recursive: a rootfs still mounted fails here
    } catch (IOException e) {
      LOG.log(Level.WARNING, "could not remove " + dir, e);
    }
  }

  // ---- exit --------------------------------------------------------------------------------------

  private void onExit(Run r) {
    ReentrantLock l = lock(r.id);
    l.lock();
    int code = 255;
    Container c = null;
    boolean restartedByUser = false;
    boolean processed = false;
    try {
      if (runs.get(r.id) != r) {
        return;
      }
      processed = true;
      if (health != null) {
        health.stopped(r.id); // before the run dir goes: a probe writes its process file there
      }
      restartedByUser = manualRestarts.remove(r.id);
      code = exitCodeOf(r.dir);
      boolean oom = Monitor.oomKilled(r.dir);
      Container before = store.get(r.id);
      cleanupRun(r.id, r.dir, true, before == null || privatePidNamespace(before));
      runs.remove(r.id);
      c = store.get(r.id);
      if (c == null) {
        return;
      }
      c = stopped(c.withState(c.state().asExited(code, oom, Instant.now().toString(), "")));
      if (oom) {
        events.publish("container", "oom", r.id, attrs(c));
      }
      events.publish("container", "die", r.id, attrs(c, "exitCode", Integer.toString(code)));
      long ranMillis = (System.nanoTime() - r.startedNanos) / 1_000_000;
      if (shouldRestart(c, code)) {
        c = c.withState(c.state().asRestarting());
        store.update(c);
        scheduleRestart(c, ranMillis);
      } else {
        store.update(c);
      }
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.WARNING, "could not record the exit of " + r.id, e);
    } finally {
      l.unlock();
      if (processed) { // waiters hear of the exit whatever failed above
        r.done.complete(code);
        CompletableFuture<Integer> next = nextExit.remove(r.id);
        if (next != null) {
          next.complete(code);
        }
      }
    }
    if (c != null && !c.state().restarting() && !restartedByUser && Boolean.TRUE.equals(c.hostConfig().autoRemove())
        && onRemove != null) {
      try {
        onRemove.accept(c);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "could not auto-remove " + r.id, e);
      }
    }
  }

  /**
   * With its own pid namespace, a container's processes all died with its init; sharing the host's (or
   * another container's), some may live on and only {@code runc delete --force} kills them.
   */
  private static boolean privatePidNamespace(Container c) {
    String m = c.hostConfig().pidMode();
    return m == null || m.isEmpty();
  }

  private static int exitCodeOf(Path dir) {
    try {
      int code = Monitor.exitCode(dir);
      return code < 0 ? 255 : code;
    } catch (IOException e) {
      return 255;
    }
  }

  private boolean shouldRestart(Container c, int code) {
    HostConfig.RestartPolicy p = c.hostConfig().restartPolicy();
    if (p == null || p.name() == null || shuttingDown || c.hasBeenManuallyStopped()) {
      return false;
    }
    return switch (p.name()) {
      case "always", "unless-stopped" -> true;
      case "on-failure" -> code != 0
          && (p.maximumRetryCount() == null || p.maximumRetryCount() <= 0 || c.restartCount() < p.maximumRetryCount());
      default -> false;
    };
  }

  /** Docker's back-off: 100 ms doubling per restart up to a minute; back to 100 ms after 10 s of running. */
  private final Map<String, Long> backoff = new ConcurrentHashMap<>();

  private void scheduleRestart(Container c, long ranMillis) {
    long delay = ranMillis >= 10_000 ? 100 : Math.min(60_000, backoff.getOrDefault(c.id(), 50L) * 2);
    backoff.put(c.id(), delay);
    pendingRestarts.put(c.id(), timers.schedule(() -> {
      ReentrantLock l = lock(c.id());
      l.lock();
      try {
        pendingRestarts.remove(c.id());
        Container now = store.get(c.id());
        if (now == null || !now.state().restarting() || runs.containsKey(c.id()) || shuttingDown) {
          return;
        }
        Container next = now.withRestartCount(now.restartCount() + 1);
        store.update(next);
        startLocked(next);
      } catch (RuntimeException | IOException e) {
        LOG.log(Level.WARNING, "restart of " + c.id() + " failed: " + e.getMessage());
      } finally {
        l.unlock();
      }
    }, delay, TimeUnit.MILLISECONDS));
  }

  void cancelPendingRestart(String id) {
    ScheduledFuture<?> f = pendingRestarts.remove(id);
    if (f != null) {
      f.cancel(false);
    }
  }

  // ---- signals, stop, pause -------------------------------------------------------------------

  /** Sends a signal; CONFLICT if the container is not running. */
  void kill(String id, String signal) {
    String sig = Signals.normalize(signal == null || signal.isEmpty() ? "KILL" : signal);
    ReentrantLock l = lock(id);
    l.lock();
    Run r;
    try {
      Container c = existing(id);
      if (c.state().restarting()) { // dockerd: the pending restart is called off, the container stays down
        cancelPendingRestart(id);
        store.update(c.withManuallyStopped(true).withState(c.state().asExited(c.state().exitCode(),
            c.state().oomKilled(), Instant.now().toString(), "")));
        return;
      }
      r = runs.get(id);
      if (r == null) {
        throw EngineException.conflict("Container %s is not running", id);
      }
      if (!sig.equals("9") && c.state().paused()) {
        throw EngineException.conflict("Container %s is paused. Unpause the container before stopping or killing",
            id);
      }
      store.update(c.withManuallyStopped(true));
      signal(id, sig);
      if (c.state().paused()) {
        runc.resume(id); // a frozen cgroup (v1) would keep even a SIGKILLed process alive
      }
      events.publish("container", "kill", id, attrs(c, "signal", Integer.toString(Signals.number(sig))));
    } catch (IOException e) {
      throw EngineException.system("could not kill container " + id, e);
    } finally {
      l.unlock();
    }
    if (sig.equals("9")) {
      awaitExit(r, 10_000); // as dockerd: `docker kill c && docker rm c` must find it stopped
    }
  }

  private void signal(String id, String sig) throws IOException {
    try {
      runc.kill(id, sig, sig.equals("9"));
    } catch (Runc.RuncException e) {
      if (!e.getMessage().contains("not running") && !e.getMessage().contains("does not exist")) {
        throw e;
      }
    }
  }

  /**
   * Stops with the container's stop signal, then SIGKILL after the timeout (null: the container's
   * StopTimeout, else 10 s; negative: wait forever). NOT_MODIFIED if it is not running.
   */
  void stop(String id, Integer timeout, String signalOverride) {
    Run r;
    Container c;
    String sig;
    ReentrantLock l = lock(id);
    l.lock();
    try {
      c = existing(id);
      if (c.state().restarting()) {
        cancelPendingRestart(id);
        store.update(c.withManuallyStopped(true).withState(c.state().asExited(c.state().exitCode(),
            c.state().oomKilled(), Instant.now().toString(), "")));
        events.publish("container", "stop", id, attrs(c));
        return;
      }
      r = runs.get(id);
      if (r == null) {
        throw EngineException.notModified();
      }
      c = c.withManuallyStopped(true);
      store.update(c);
      sig = Signals.normalize(signalOverride != null && !signalOverride.isEmpty() ? signalOverride
          : c.config().stopSignal() != null && !c.config().stopSignal().isEmpty() ? c.config().stopSignal() : "TERM");
      boolean paused = c.state().paused();
      if (paused && !sig.equals("9")) {
        runc.resume(id); // a frozen process cannot handle the signal
        store.update(c.withState(c.state().asPaused(false)));
      }
      signal(id, sig);
      if (paused && sig.equals("9")) {
        runc.resume(id); // thawed, the SIGKILLed process can die (cgroup v1 freezer)
      }
      events.publish("container", "kill", id, attrs(c, "signal", Integer.toString(Signals.number(sig))));
    } catch (IOException e) {
      throw EngineException.system("could not stop container " + id, e);
    } finally {
      l.unlock();
    }
    int t = timeout != null ? timeout : c.config().stopTimeout() != null ? c.config().stopTimeout()
        : DEFAULT_STOP_TIMEOUT;
    if (!awaitExit(r, t < 0 ? Long.MAX_VALUE : t * 1000L)) {
      try {
        signal(id, "9");
        events.publish("container", "kill", id, attrs(c, "signal", "9"));
      } catch (IOException e) {
        throw EngineException.system("could not kill container " + id, e);
      }
      if (!awaitExit(r, 30_000)) {
        throw EngineException.system("container " + id + " did not exit after SIGKILL", null);
      }
    }
    events.publish("container", "stop", id, attrs(c));
  }

  private static boolean awaitExit(Run r, long millis) {
    try {
      r.done.get(millis, TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException e) {
      return true;
    }
  }

  void restart(String id, Integer timeout, String signal) {
    manualRestarts.add(id); // onExit takes it off
    try {
      stop(id, timeout, signal);
    } catch (EngineException e) {
      manualRestarts.remove(id);
      if (e.kind() != ErrorKind.NOT_MODIFIED) {
        throw e;
      }
    }
    start(id);
    Container c = store.get(id);
    events.publish("container", "restart", id, attrs(c));
  }

  void pause(String id, boolean pause) {
    ReentrantLock l = lock(id);
    l.lock();
    try {
      Container c = existing(id);
      if (!runs.containsKey(id)) {
        throw EngineException.conflict("Container %s is not running", id);
      }
      if (pause && c.state().paused()) {
        throw EngineException.conflict("Container %s is already paused", id);
      }
      if (!pause && !c.state().paused()) {
        throw EngineException.conflict("Container %s is not paused", id);
      }
      if (pause) {
        runc.pause(id);
      } else {
        runc.resume(id);
      }
      store.update(c.withState(c.state().asPaused(pause)));
      events.publish("container", pause ? "pause" : "unpause", id, attrs(c));
    } catch (IOException e) {
      throw EngineException.system("could not " + (pause ? "pause" : "unpause") + " container " + id + ": "
          + e.getMessage(), e);
    } finally {
      l.unlock();
    }
  }

  // ---- wait, attach ----------------------------------------------------------------------------

  /** The future of the next exit (created if needed). */
  CompletableFuture<Integer> nextExit(String id) {
    return nextExit.computeIfAbsent(id, k -> new CompletableFuture<>());
  }

  CompletableFuture<Integer> removal(String id) {
    return removed.computeIfAbsent(id, k -> new CompletableFuture<>());
  }

  void removalFailed(String id, RuntimeException e) {
    CompletableFuture<Integer> f = removed.remove(id);
    if (f != null) {
      f.completeExceptionally(e);
    }
  }

  void removedNow(Container c) {
    CompletableFuture<Integer> f = removed.remove(c.id());
    if (f != null) {
      f.complete(c.state().exitCode());
    }
    CompletableFuture<Integer> n = nextExit.remove(c.id());
    if (n != null) {
      n.complete(c.state().exitCode());
    }
    pendingAttach.remove(c.id());
    locks.remove(c.id());
    backoff.remove(c.id());
  }

  /**
   * Runs {@code connect} with the monitor's directory: now if the container runs, else when it next starts
   * (before its process runs, so no output is missed), or with null if that start fails. Returns a handle that
   * withdraws a pending attach.
   */
  Runnable onAttachable(String id, Consumer<Path> connect) {
    ReentrantLock l = lock(id);
    l.lock();
    try {
      Run r = runs.get(id);
      if (r != null) {
        connect.accept(r.dir);
        return () -> { };
      }
      List<Consumer<Path>> list = pendingAttach.computeIfAbsent(id, k -> new java.util.concurrent.CopyOnWriteArrayList<>());
      list.add(connect);
      return () -> list.remove(connect);
    } finally {
      l.unlock();
    }
  }

  // ---- removal support ---------------------------------------------------------------------------

  /** Kills a running container and waits for its exit (docker rm -f). */
  void killForRemoval(String id) {
    cancelPendingRestart(id);
    Run r = runs.get(id);
    if (r == null) {
      return;
    }
    ReentrantLock l = lock(id);
    l.lock();
    try {
      Container c = existing(id);
      store.update(c.withManuallyStopped(true));
      signal(id, "9");
      if (c.state().paused()) {
        runc.resume(id);
      }
      events.publish("container", "kill", id, attrs(c, "signal", "9"));
    } catch (IOException e) {
      throw EngineException.system("could not kill container " + id, e);
    } finally {
      l.unlock();
    }
    if (!awaitExit(r, 30_000)) {
      throw EngineException.system("container " + id + " did not exit after SIGKILL", null);
    }
  }

  // ---- engine start and stop ---------------------------------------------------------------------

  /**
   * Reconciles every record with reality after an engine start: a container whose monitor still runs is
   * adopted (live restore) or, without live restore, stopped; one whose monitor has gone is marked exited
   * with the recorded exit code (255 if none). Then restart policies apply.
   */
  void restore(boolean liveRestore) {
    List<Container> toStart = new ArrayList<>();
    for (Container c : store.all()) {
      Path dir = runDir(c.id());
      try {
        if (c.state().running() && !c.state().restarting() && Files.isDirectory(dir) && Monitor.alive(dir)) {
          Run r = new Run(c.id(), dir, c.state().pid());
          networks.restore(c.id(), c.name(), c.hostConfig(), c.networking().networks(), c.networking().ports());
          mounts.adopted(c.id(), c.mountPoints());
          runs.put(c.id(), r);
          watcher.watch(dir, () -> onExit(r));
          if (!liveRestore) {
            String id = c.id();
            timers.execute(() -> {
              try {
                stopForShutdown(id);
              } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "could not stop " + id, e);
              }
            });
          } else if (health != null) {
            health.started(c);
          }
          continue;
        }
        if (c.state().running()) {
          boolean hadExit = Files.exists(dir.resolve("exit"));
          int code = hadExit ? exitCodeOf(dir) : 255;
          boolean oom = Monitor.oomKilled(dir);
          cleanupRun(c.id(), dir, true);
          Container e = stopped(c.withState(c.state().asExited(code, oom, Instant.now().toString(), "")));
          store.update(e);
          events.publish("container", "die", c.id(), attrs(e, "exitCode", Integer.toString(code)));
          c = e;
        } else if (Files.exists(dir)) {
          cleanupRun(c.id(), dir, true);
        }
        HostConfig.RestartPolicy p = c.hostConfig().restartPolicy();
        String pn = p == null || p.name() == null ? "" : p.name();
        if (pn.equals("always") || pn.equals("unless-stopped") && !c.hasBeenManuallyStopped()) {
          toStart.add(c);
        } else if (Boolean.TRUE.equals(c.hostConfig().autoRemove()) && onRemove != null) {
          onRemove.accept(c);
        }
      } catch (IOException | RuntimeException e) {
        LOG.log(Level.WARNING, "could not restore container " + c.id(), e);
      }
    }
    networks.sweep();
    for (Container c : toStart) {
      try {
        start(c.id());
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "could not restart " + c.id() + ": " + e.getMessage());
      }
    }
  }

  private void stopForShutdown(String id) {
    Container c = store.get(id);
    boolean manual = c != null && c.hasBeenManuallyStopped();
    try {
      stop(id, null, null);
    } catch (EngineException e) {
      if (e.kind() != ErrorKind.NOT_MODIFIED) {
        throw e;
      }
    }
    Container now = store.get(id);
    if (now != null && now.hasBeenManuallyStopped() != manual) {
      try {
        store.update(now.withManuallyStopped(manual)); // an engine stop is not a user's stop
      } catch (IOException e) {
        LOG.log(Level.WARNING, "could not update " + id, e);
      }
    }
  }

  /** Engine shutdown: without live restore, every running container is stopped (in parallel). */
  void shutdown(boolean liveRestore) {
    shuttingDown = true;
    pendingRestarts.values().forEach(f -> f.cancel(false));
    if (liveRestore) {
      return;
    }
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (String id : new ArrayList<>(runs.keySet())) {
      all.add(CompletableFuture.runAsync(() -> {
        try {
          stopForShutdown(id);
        } catch (RuntimeException e) {
          LOG.log(Level.WARNING, "could not stop " + id + " at shutdown", e);
        }
      }));
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
  }

  // ---- helpers -----------------------------------------------------------------------------------

  /** A container that no longer runs keeps its network configuration but no address or published port. */
  static Container stopped(Container c) {
    Container.Networking n = c.networking();
    return c.withNetworking(new Container.Networking(NetworkService.cleared(n.networks()), Map.of(), ""));
  }

  static Map<String, String> attrs(Container c, String... extra) {
    Map<String, String> a = new LinkedHashMap<>();
    if (c.config().labels() != null) {
      a.putAll(c.config().labels());
    }
    for (int i = 0; i + 1 < extra.length; i += 2) {
      a.put(extra[i], extra[i + 1]);
    }
    a.put("image", c.image());
    a.put("name", c.name());
    return a;
  }
}
