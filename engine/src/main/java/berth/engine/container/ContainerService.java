package berth.engine.container;

import berth.engine.api.containers.ContainersBackend;
import berth.engine.api.http.Hijacked;
import berth.engine.api.http.Stdcopy;
import berth.engine.logs.JsonFileLog;
import berth.engine.logs.LogEntry;
import berth.engine.logs.ReadOptions;
import berth.engine.runtime.ExitWatcher;
import berth.engine.runtime.Monitor;
import berth.engine.runtime.Runc;
import berth.engine.runtime.cgroup.Cgroups;
import berth.engine.store.Trees;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import berth.engine.api.types.ContainerConfig;
import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.types.ContainerInspect;
import berth.engine.api.types.ContainerPruneReport;
import berth.engine.api.types.ContainerStats;
import berth.engine.api.types.ContainerSummary;
import berth.engine.api.types.Filters;
import berth.engine.api.types.HostConfig;
import berth.engine.api.types.ImageInspect;
import berth.engine.api.types.Timestamps;
import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.events.EventBus;
import berth.engine.image.ImageService;
import berth.engine.image.ImageUsers;
import berth.engine.layer.LayerStore;
import berth.engine.network.Network;
import berth.engine.network.NetworkService;
import berth.engine.api.types.NetworkingConfig;
import berth.engine.runtime.OciSpec;
import berth.engine.runtime.OciSpecBuilder;
import berth.engine.runtime.UserResolver;
import berth.engine.store.Rollback;
import berth.engine.volume.MountParser;
import berth.engine.volume.MountPoint;
import berth.engine.volume.VolumeService;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Containers: create (image resolved, options validated by building the OCI spec, writable layer
 * prepared), list, inspect, rename, remove, prune here; running them is the {@link Supervisor}'s, exec
 * sessions {@link Execs}', health checks {@link Health}'s. Thread-safe.
 */
public final class ContainerService implements ContainersBackend, ImageUsers, java.io.Closeable, NetworkService.Containers {
  private static final Set<String> LIST_FILTERS = Set.of("id", "name", "label", "status", "ancestor", "exited",
      "before", "since", "health", "isolation", "network", "publish", "expose", "volume", "is-task");
  private static final Set<String> STATUSES =
      Set.of("created", "restarting", "running", "removing", "paused", "exited", "dead");
  private static final SecureRandom RANDOM = new SecureRandom();

  private final ContainerStore store;
  private final ImageService images;
  private final LayerStore layers;
  private final EventBus events;
  private final OciSpecBuilder specs;
  private final Settings settings;
  private final Supervisor sup;
  private final Execs execs;
  private final Runc runc;
  private final Cgroups cgroups;
  private final ExitWatcher watcher;
  private final ScheduledExecutorService timers;
  private final NetworkService networks;
  private final ContainerMounts mounts;

  /**
   * How containers run here.
   *
   * @param execRoot sockets and run state (a tmpfs such as /run/berth/exec)
   * @param initBinary what {@code --init} runs (tini), or null if there is none
   */
  public record Settings(Path runc, Path monitor, Path execRoot, Path cgroupRoot, String logDriver,
      Map<String, String> logOpts, boolean liveRestore, Path initBinary) {}

  public ContainerService(ContainerStore store, ImageService images, LayerStore layers, EventBus events,
      OciSpecBuilder specs, Path containersDir, Settings settings, NetworkService networks, VolumeService volumes)
      throws IOException {
    this.store = store;
    this.mounts = new ContainerMounts(volumes);
    for (Container c : store.all()) { // references live in the container records: they survive a restart
      for (var m : c.mountPoints()) {
        if (m.isVolume() && !volumes.reference(m.name(), c.id())) {
          java.util.logging.Logger.getLogger(ContainerService.class.getName())
              .warning("container " + c.id() + " uses volume " + m.name() + ", which is gone");
        }
      }
    }
    this.networks = networks;
    this.images = images;
    this.layers = layers;
    this.events = events;
    this.specs = specs;
    this.settings = settings;
    Files.createDirectories(settings.execRoot().resolve("runc"));
    Files.createDirectories(settings.execRoot().resolve("c"));
    Files.createDirectories(settings.execRoot().resolve("e"));
    this.runc = new Runc(settings.runc(), settings.execRoot().resolve("runc"));
    this.cgroups = new Cgroups(settings.cgroupRoot());
    this.timers = java.util.concurrent.Executors.newScheduledThreadPool(2,
        berth.engine.api.http.ApiServer.daemonThreads("containers-"));
    this.watcher = new ExitWatcher(java.util.concurrent.Executors.newCachedThreadPool(
        berth.engine.api.http.ApiServer.daemonThreads("exit-")));
    Monitor monitor = new Monitor(settings.monitor(), runc);
    this.sup = new Supervisor(store, layers, events, specs, runc, monitor, cgroups, settings.execRoot(), containersDir,
        logDefaults(), watcher, timers, settings.initBinary());
    this.execs = new Execs(sup, store, events, monitor, watcher, settings.execRoot());
    sup.setNetworks(networks);
    sup.setMounts(mounts);
    networks.setContainers(this);
    sup.setHealth(new Health(store, events, runc, timers, sup::runDir, sup::lock));
    sup.setOnRemove(c -> {
      var l = sup.lock(c.id());
      l.lock();
      try {
        synchronized (this) {
          Container now = store.get(c.id());
          if (now != null && sup.run(c.id()) == null && !now.state().restarting()) {
            try {
              removeInternal(now, true); // --rm takes the anonymous volumes too, as dockerd
            } catch (RuntimeException e) {
              sup.removalFailed(c.id(), e); // `docker run --rm` waits for the removal: tell it
              throw e;
            }
          }
        }
      } finally {
        l.unlock();
      }
    });
  }

  private LogSettings.Defaults logDefaults() {
    return new LogSettings.Defaults(settings.logDriver(), settings.logOpts());
  }

  private LogSettings logSettings(Container c) {
    return LogSettings.of(c.hostConfig().logConfig(), logDefaults());
  }

  /** Adopts or cleans up what ran before this engine started; restarts containers whose policy says so. */
  public void restore() {
    sup.restore(settings.liveRestore());
    // exec sessions live in memory only: what a previous engine left of finished ones goes
    try (var ds = Files.newDirectoryStream(settings.execRoot().resolve("e"))) {
      for (Path d : ds) {
        if (!Monitor.alive(d)) {
          Trees.deleteFlat(d);
        }
      }
    } catch (IOException e) {
      java.util.logging.Logger.getLogger(ContainerService.class.getName()).warning("exec dirs: " + e.getMessage());
    }
  }

  /** Without live restore, stops every running container. */
  @Override
  public void close() throws IOException {
    sup.shutdown(settings.liveRestore());
    watcher.close();
    timers.shutdownNow();
    networks.close(); // with no container left running, the bridges, rules and namespace directory go too
    // nothing runs any more (or live restore left containers, whose dirs stay): remove what is empty
    for (String d : List.of("c", "e", "runc", "")) {
      try {
        Files.deleteIfExists(settings.execRoot().resolve(d));
      } catch (java.nio.file.DirectoryNotEmptyException e) {
        // containers kept running (live restore)
      }
    }
  }

  // ---- create ------------------------------------------------------------------------------------

  @Override
  public synchronized String create(String name, ContainerCreateRequest request) {
    ContainerConfig asked = request.config();
    if (asked.image() == null || asked.image().isEmpty()) {
      throw EngineException.invalid("No image specified");
    }
    String n = name == null || name.isEmpty() ? null : Names.validate(name);
    ImageService.Resolved image = images.resolve(asked.image());
    String id = HexFormat.of().formatHex(randomBytes());
    HostConfig hostConfig = request.hostConfig() != null ? request.hostConfig() : HostConfig.empty();
    // --mount checks first (nothing is made yet); the tmpfs among them join the spec's check
    List<MountPoint> tmpfsMounts = new ArrayList<>();
    for (var m : hostConfig.mounts() == null ? List.<berth.engine.api.types.Mount>of() : hostConfig.mounts()) {
      MountPoint p = MountParser.parseMount(m, x -> Files.exists(Path.of(x)));
      if (MountPoint.TMPFS.equals(p.type())) {
        tmpfsMounts.add(p);
      }
    }
    // Building the spec now reports invalid options at create time, as dockerd does; the user is
    // resolved against the image's files at start.
    OciSpec spec = specs.build(withInit(OciSpecBuilder.Inputs.of(id, new ContainerCreateRequest(request.config(),
        ContainerMounts.withMountTmpfs(hostConfig, tmpfsMounts), request.networkingConfig()),
        image.config().path("config"), Path.of("/"), UserResolver.ExecUser.root())));
    validateRuntime(hostConfig);
    Map<String, NetworkingConfig.EndpointSettings> endpoints = networks.plan(hostConfig,
        request.networkingConfig() == null ? null : request.networkingConfig().endpointsConfig(), asked.macAddress());
    List<Digest> diffs = image.diffIds().stream().map(Digest::parse).toList();
    try (Rollback undo = new Rollback()) {
      List<MountPoint> mountPoints = mounts.plan(id, hostConfig,
          ContainerMounts.volumeDestinations(asked.volumes(), image.config().path("config")), this::find, undo);
      layers.prepare(id, diffs);
      undo.push(() -> layers.removeWritable(id));
      Container c = null;
      for (int attempt = 0; c == null; attempt++) {
        Container candidate = new Container(id, n != null ? n : Names.generate(attempt), Instant.now().toString(),
            asked.image(), image.id(), image.diffIds(), spec.process().args(), merge(asked, image.config()),
            hostConfig, Container.State.created(), 0, false, new Container.Networking(endpoints, Map.of(), ""),
            mountPoints);
        String holder = store.add(candidate);
        if (holder == null) {
          c = candidate;
        } else if (n != null) {
          throw nameInUse(n, holder);
        }
      }
      undo.commit();
      Map<String, String> attrs = new LinkedHashMap<>();
      attrs.put("image", asked.image());
      attrs.put("name", c.name());
      if (asked.labels() != null) {
        attrs.putAll(asked.labels());
      }
      events.publish("container", "create", id, attrs);
      return id;
    } catch (IOException e) {
      throw EngineException.system("could not create container", e);
    }
  }

  /**
   * For a spec built only to check options: {@code container:<x>} modes are joined at start, when the other
   * container's namespaces exist; until then the engine's own stand in.
   */
  private OciSpecBuilder.Inputs withInit(OciSpecBuilder.Inputs in) {
    in = in.withNamespacePaths(Map.of("network", "/proc/self/ns/net", "pid", "/proc/self/ns/pid", "ipc",
        "/proc/self/ns/ipc"));
    return settings.initBinary() == null ? in : in.withInitBinary(settings.initBinary());
  }

  /** Checks dockerd makes at create about restart policies, auto-remove and log settings. */
  private void validateRuntime(HostConfig h) {
    HostConfig.RestartPolicy p = h.restartPolicy();
    String name = p == null || p.name() == null ? "" : p.name();
    switch (name) {
      case "", "no", "always", "unless-stopped" -> {
        if (p != null && p.maximumRetryCount() != null && p.maximumRetryCount() != 0) {
          throw EngineException.invalid("invalid restart policy: maximum retry count can only be used with "
              + "'on-failure'");
        }
      }
      case "on-failure" -> {
        if (p.maximumRetryCount() != null && p.maximumRetryCount() < 0) {
          throw EngineException.invalid("invalid restart policy: maximum retry count cannot be negative");
        }
      }
      default -> throw EngineException.invalid("invalid restart policy: unknown policy '%s'; use one of 'no', "
          + "'always', 'on-failure', or 'unless-stopped'", name);
    }
    if (Boolean.TRUE.equals(h.autoRemove()) && !name.isEmpty() && !name.equals("no")) {
      throw EngineException.invalid("can't create 'AutoRemove' container with restart policy");
    }
    LogSettings.of(h.logConfig(), logDefaults());
  }

  private static byte[] randomBytes() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return b;
  }

  private static EngineException nameInUse(String name, String holder) {
    return EngineException.conflict("Conflict. The container name \"/%s\" is already in use by container \"%s\". "
        + "You have to remove (or rename) that container to be able to reuse that name.", name, holder);
  }

  /** The image's defaults under the request's settings, as dockerd's merge at create (daemon/create.go). */
  static ContainerConfig merge(ContainerConfig c, JsonNode image) {
    JsonNode ic = image.path("config");
    List<String> env = new ArrayList<>(strings(ic.path("Env")));
    if (c.env() != null) {
      for (String e : c.env()) {
        String key = e.contains("=") ? e.substring(0, e.indexOf('=') + 1) : e + "=";
        env.removeIf(x -> x.startsWith(key) || x.equals(key.substring(0, key.length() - 1)));
        env.add(e);
      }
    }
    List<String> entrypoint = c.entrypoint() != null ? c.entrypoint() : nullable(strings(ic.path("Entrypoint")));
    List<String> cmd = c.cmd() != null ? c.cmd() : c.entrypoint() != null ? null : nullable(strings(ic.path("Cmd")));
    Map<String, String> labels = new LinkedHashMap<>();
    ic.path("Labels").fields().forEachRemaining(f -> labels.put(f.getKey(), f.getValue().asText()));
    if (c.labels() != null) {
      labels.putAll(c.labels());
    }
    ContainerConfig.HealthConfig health = c.healthcheck();
    if (ic.has("Healthcheck") && !ic.get("Healthcheck").isNull()) {
      ContainerConfig.HealthConfig fromImage =
          berth.engine.api.http.ApiJson.MAPPER.convertValue(ic.get("Healthcheck"), ContainerConfig.HealthConfig.class);
      health = health == null ? fromImage : inherit(health, fromImage);
    }
    Map<String, Object> exposed = new java.util.TreeMap<>();
    ic.path("ExposedPorts").fieldNames().forEachRemaining(k -> exposed.put(k, Map.of()));
    if (c.exposedPorts() != null) {
      exposed.putAll(c.exposedPorts());
    }
    return new ContainerConfig(c.hostname(), c.domainname(), or(c.user(), text(ic, "User")), c.attachStdin(),
        c.attachStdout(), c.attachStderr(), exposed.isEmpty() ? null : exposed, c.tty(), c.openStdin(), c.stdinOnce(), env, cmd,
        health, c.argsEscaped(), c.image(), c.volumes(), or(c.workingDir(), text(ic, "WorkingDir")),
        entrypoint, c.networkDisabled(), c.macAddress(), c.onBuild(), labels, or(c.stopSignal(), text(ic, "StopSignal")),
        c.stopTimeout(), c.shell());
  }

  /** The --health-* flags over the image's HEALTHCHECK: unset fields come from the image (moby's merge). */
  private static ContainerConfig.HealthConfig inherit(ContainerConfig.HealthConfig c, ContainerConfig.HealthConfig i) {
    return new ContainerConfig.HealthConfig(c.test() == null || c.test().isEmpty() ? i.test() : c.test(),
        nz(c.interval(), i.interval()), nz(c.timeout(), i.timeout()), nz(c.startPeriod(), i.startPeriod()),
        nz(c.startInterval(), i.startInterval()), c.retries() == null || c.retries() == 0 ? i.retries() : c.retries());
  }

  private static Long nz(Long a, Long b) {
    return a == null || a == 0 ? b : a;
  }

  private static List<String> strings(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.forEach(x -> out.add(x.asText()));
    return out;
  }

  private static List<String> nullable(List<String> l) {
    return l.isEmpty() ? null : l;
  }

  private static String text(JsonNode n, String field) {
    return n.path(field).asText("");
  }

  private static String or(String a, String b) {
    return a != null && !a.isEmpty() ? a : b;
  }

  // ---- lookup, list, inspect ---------------------------------------------------------------------

  /** Finds a container by full ID, name (with or without "/") or unique ID prefix. */
  Container find(String ref) {
    Container c = store.get(ref);
    if (c != null) {
      return c;
    }
    String byName = store.idOfName(ref.startsWith("/") ? ref.substring(1) : ref);
    if (byName != null) {
      return store.get(byName);
    }
    if (!ref.isEmpty()) {
      List<String> ids = store.byPrefix(ref);
      if (ids.size() == 1) {
        return store.get(ids.get(0));
      }
      if (ids.size() > 1) {
        throw EngineException.invalid("Multiple IDs found with provided prefix: %s", ref);
      }
    }
    throw EngineException.notFound("No such container: %s", ref);
  }

  @Override
  public List<ContainerSummary> list(boolean all, int limit, boolean size, Filters f) {
    f.validate(LIST_FILTERS);
    for (String s : f.get("status")) {
      if (!STATUSES.contains(s)) {
        throw EngineException.invalid("Invalid filter 'status=%s'", s);
      }
    }
    for (String h : f.get("health")) {
      if (!Set.of("starting", "healthy", "unhealthy", "none").contains(h)) {
        throw EngineException.invalid("Unrecognised filter value for health: %s", h);
      }
    }
    Set<String> ancestors = new HashSet<>();
    for (String a : f.get("ancestor")) {
      try {
        ancestors.add(images.resolve(a).id());
      } catch (EngineException e) {
        ancestors.add("?"); // an unknown image matches no container, as dockerd
      }
    }
    String before = f.has("before") ? find(f.get("before").iterator().next()).created() : null;
    String since = f.has("since") ? find(f.get("since").iterator().next()).created() : null;
    List<Container> cs = new ArrayList<>(store.all());
    cs.sort(Comparator.comparing(Container::created).reversed());
    List<ContainerSummary> out = new ArrayList<>();
    for (Container c : cs) {
      boolean listAll = all || limit > 0 || f.has("status") || before != null || since != null;
      if (!listAll && !c.state().running()) {
        continue;
      }
      if (f.has("id") && f.get("id").stream().noneMatch(c.id()::startsWith)
          || f.has("name") && f.get("name").stream().noneMatch(p -> c.name().matches(".*" + p + ".*"))
          || !f.matchLabels("label", c.config().labels())
          || !f.matchAny("status", c.state().status())
          || !ancestors.isEmpty() && !ancestors.contains(c.imageId())
          || f.has("exited") && !(c.state().status().equals("exited")
              && f.get("exited").contains(Integer.toString(c.state().exitCode())))
          || before != null && c.created().compareTo(before) >= 0
          || since != null && c.created().compareTo(since) <= 0
          || f.has("health") && !f.get("health").contains(healthStatus(c))
          || f.has("network") && f.get("network").stream().noneMatch(v -> onNetwork(c, v))
          || f.has("volume") && f.get("volume").stream().noneMatch(v -> usesVolume(c, v))
          || f.has("expose") && f.get("expose").stream().noneMatch(p -> hasPort(c.config().exposedPorts(), p))
          || f.has("publish") && f.get("publish").stream().noneMatch(p -> hasPort(c.hostConfig().portBindings(), p))) {
        continue;
      }
      out.add(summary(c, size));
      if (limit > 0 && out.size() >= limit) {
        break;
      }
    }
    return out;
  }

  private static String healthStatus(Container c) {
    return c.state().health() == null ? "none" : c.state().health().status();
  }

  /** docker ps --filter network=: the network's name or ID (a prefix of it), or the container's NetworkMode. */
  private static boolean onNetwork(Container c, String v) {
    if (networkName(c).equals(v)) {
      return true;
    }
    for (Map.Entry<String, NetworkingConfig.EndpointSettings> e : c.networking().networks().entrySet()) {
      String nid = e.getValue().networkId();
      if (e.getKey().equals(v) || nid != null && !v.isEmpty() && nid.startsWith(v)) {
        return true;
      }
    }
    return false;
  }

  private static String networkName(Container c) {
    String n = c.hostConfig().networkMode();
    return n == null || n.isEmpty() || n.equals("default") ? "bridge" : n;
  }

  /** A mount whose volume name, host source or destination is {@code v}. */
  private static boolean usesVolume(Container c, String v) {
    for (MountPoint m : c.mountPoints()) {
      if (v.equals(m.name()) || v.equals(m.source()) || v.equals(m.destination())) {
        return true;
      }
    }
    return false;
  }

  /** "80", "80/udp" against port keys such as "80/tcp" (tcp when no protocol is given). */
  private static boolean hasPort(Map<String, ?> ports, String want) {
    if (ports == null) {
      return false;
    }
    String key = want.contains("/") ? want : want + "/tcp";
    return ports.containsKey(key);
  }

  private ContainerSummary summary(Container c, boolean size) {
    HostConfig h = c.hostConfig();
    String network = h.networkMode() == null || h.networkMode().isEmpty() ? "bridge" : h.networkMode();
    return new ContainerSummary(c.id(), List.of("/" + c.name()), c.image(), c.imageId(), String.join(" ", c.path()),
        Instant.parse(c.created()).getEpochSecond(), portList(c), size ? writableSize(c.id()) : null,
        c.config().labels() == null ? Map.of() : c.config().labels(), c.state().status(), status(c),
        Map.of("NetworkMode", network), Map.of("Networks", c.networking().networks()), inspectMounts(c));
  }

  /** {@code Ports} of docker ps: each binding, and exposed ports without one. */
  private static List<Object> portList(Container c) {
    List<Object> out = new ArrayList<>();
    c.networking().ports().forEach((k, bs) -> {
      String[] pp = k.split("/", 2);
      int priv = Integer.parseInt(pp[0]);
      String type = pp.length > 1 ? pp[1] : "tcp";
      if (bs == null || bs.isEmpty()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("PrivatePort", priv);
        m.put("Type", type);
        out.add(m);
        return;
      }
      for (HostConfig.PortBinding b : bs) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("IP", b.hostIp());
        m.put("PrivatePort", priv);
        m.put("PublicPort", Integer.parseInt(b.hostPort()));
        m.put("Type", type);
        out.add(m);
      }
    });
    return out;
  }

  /** {@code NetworkSettings} of inspect; the top-level address fields are the default bridge's, as dockerd. */
  private static Map<String, Object> networkSettings(Container c) {
    Container.Networking n = c.networking();
    NetworkingConfig.EndpointSettings b = n.networks().get("bridge");
    boolean up = c.state().running();
    Map<String, Object> net = new LinkedHashMap<>();
    net.put("Bridge", "");
    net.put("SandboxID", up && !n.sandboxKey().isEmpty() ? c.id() : "");
    net.put("SandboxKey", up ? n.sandboxKey() : "");
    net.put("Ports", n.ports());
    net.put("HairpinMode", false);
    net.put("LinkLocalIPv6Address", "");
    net.put("LinkLocalIPv6PrefixLen", 0);
    net.put("SecondaryIPAddresses", null);
    net.put("SecondaryIPv6Addresses", null);
    net.put("EndpointID", b == null ? "" : orEmpty(b.endpointId()));
    net.put("Gateway", b == null ? "" : orEmpty(b.gateway()));
    net.put("GlobalIPv6Address", "");
    net.put("GlobalIPv6PrefixLen", 0);
    net.put("IPAddress", b == null ? "" : orEmpty(b.ipAddress()));
    net.put("IPPrefixLen", b == null || b.ipPrefixLen() == null ? 0 : b.ipPrefixLen());
    net.put("IPv6Gateway", "");
    net.put("MacAddress", b == null ? "" : orEmpty(b.macAddress()));
    net.put("Networks", n.networks());
    return net;
  }

  private static String orEmpty(String s) {
    return s == null ? "" : s;
  }

  /** The Status column of docker ps: "Up 2 minutes (healthy)", "Exited (0) 3 seconds ago" … */
  static String status(Container c) {
    Container.State st = c.state();
    long now = System.currentTimeMillis();
    return switch (st.status()) {
      case "created" -> "Created";
      case "running", "paused" -> "Up " + humanDuration(now - millis(st.startedAt()))
          + (st.paused() ? " (Paused)" : "") + healthSuffix(st.health());
      case "restarting" -> "Restarting (" + st.exitCode() + ") " + humanDuration(now - millis(st.finishedAt()))
          + " ago";
      case "exited" -> "Exited (" + st.exitCode() + ") " + humanDuration(now - millis(st.finishedAt())) + " ago";
      default -> st.status();
    };
  }

  private static String healthSuffix(Container.Health h) {
    if (h == null) {
      return "";
    }
    return h.status().equals("starting") ? " (health: starting)" : " (" + h.status() + ")";
  }

  private static long millis(String rfc3339) {
    return Timestamps.parseRfc3339(rfc3339) / 1_000_000;
  }

  /** Docker's units.HumanDuration. */
  static String humanDuration(long ms) {
    long s = Math.max(0, ms / 1000);
    if (s < 1) {
      return "Less than a second";
    } else if (s == 1) {
      return "1 second";
    } else if (s < 60) {
      return s + " seconds";
    }
    long m = s / 60;
    if (m == 1) {
      return "About a minute";
    } else if (m < 60) {
      return m + " minutes";
    }
    long h = Math.round(s / 3600.0);
    if (h == 1) {
      return "About an hour";
    } else if (h < 48) {
      return h + " hours";
    } else if (h < 24 * 7 * 2) {
      return h / 24 + " days";
    } else if (h < 24 * 30 * 2) {
      return h / 24 / 7 + " weeks";
    } else if (h < 24 * 365 * 2) {
      return h / 24 / 30 + " months";
    }
    return h / 24 / 365 + " years";
  }

  @Override
  public ContainerInspect inspect(String name, boolean size) {
    Container c = find(name);
    List<String> path = c.path();
    Map<String, String> gd = new LinkedHashMap<>();
    List<String> lower = new ArrayList<>();
    for (int i = c.diffIds().size() - 1; i >= 0; i--) {
      lower.add(layers.diffDir(Digest.parse(c.diffIds().get(i))).toString());
    }
    gd.put("LowerDir", String.join(":", lower));
    gd.put("UpperDir", layers.writableDir(c.id()).toString());
    gd.put("WorkDir", layers.writableDir(c.id()).resolveSibling("work").toString());
    Map<String, Object> net = networkSettings(c);
    Path dir = containerDirOf(c.id());
    LogSettings ls = logSettings(c);
    Path log = ls.path(dir, c.id());
    boolean ran = !c.state().startedAt().equals(Container.State.ZERO_TIME);
    List<String> execIds = execs.idsOf(c.id());
    return new ContainerInspect(c.id(), c.created(), path.isEmpty() ? "" : path.get(0),
        path.isEmpty() ? List.of() : path.subList(1, path.size()), c.state(), c.imageId(),
        ran ? dir.resolve("resolv.conf").toString() : "", ran ? dir.resolve("hostname").toString() : "",
        ran ? dir.resolve("hosts").toString() : "", log == null || !ls.driver().equals("json-file") ? "" : log.toString(),
        "/" + c.name(), c.restartCount(), "overlay2", "linux", "", "", "", execIds.isEmpty() ? null : execIds,
        c.hostConfig(),
        new ImageInspect.GraphDriver("overlay2", gd), size ? writableSize(c.id()) : null, inspectMounts(c), c.config(),
        net);
  }

  /** {@code Mounts} of inspect and ps: volumes, binds and {@code --mount} tmpfs (dockerd leaves out --tmpfs). */
  private static List<Object> inspectMounts(Container c) {
    List<Object> out = new ArrayList<>();
    c.mountPoints().forEach(m -> out.add(m.toInspect()));
    return out;
  }

  private long writableSize(String id) {
    try (Stream<Path> s = Files.walk(layers.writableDir(id))) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    } catch (IOException e) {
      return 0;
    }
  }

  // ---- network connect and disconnect ------------------------------------------------------------

  /** A container change made under its lock on its current record; IOException becomes a 500 with {@code what}. */
  private interface LockedChange {
    void apply(Container now) throws IOException;
  }

  private void underLock(String ref, String what, LockedChange change) {
    Container c = find(ref);
    var l = sup.lock(c.id());
    l.lock();
    try {
      Container now = store.get(c.id());
      if (now == null) {
        throw EngineException.notFound("No such container: %s", ref);
      }
      change.apply(now);
    } catch (IOException e) {
      throw EngineException.system(what + ": " + e.getMessage(), e);
    } finally {
      l.unlock();
    }
  }

  @Override
  public void connect(String ref, Network n, NetworkingConfig.EndpointSettings asked) {
    underLock(ref, "could not connect container to network " + n.name(), now -> {
      String mode = NetworkService.modeNetwork(now.hostConfig());
      if (mode.equals("host") || mode.startsWith("container:") || n.driver().equals("host")
          || n.driver().equals("null")) {
        throw EngineException.invalid("container sharing network namespace with another container or host cannot "
            + "be connected to any other network");
      }
      if (mode.equals("none")) {
        throw EngineException.invalid("container cannot be connected to multiple networks with one of the networks "
            + "in private (none) mode");
      }
      Map<String, NetworkingConfig.EndpointSettings> eps = new LinkedHashMap<>(now.networking().networks());
      for (NetworkingConfig.EndpointSettings e : eps.values()) {
        if (n.id().equals(e.networkId())) {
          throw EngineException.forbidden("endpoint with name %s already exists in network %s", now.name(), n.name());
        }
      }
      NetworkingConfig.EndpointSettings s = networks.planEndpoint(n, asked);
      Map<String, List<HostConfig.PortBinding>> ports = now.networking().ports();
      if (sup.run(now.id()) != null) {
        NetworkService.Connected done = networks.connectRunning(now.id(), n, s);
        s = done.settings();
        ports = done.ports() != null ? done.ports() : ports;
        etcFilesAfterConnect(now, s.ipAddress(), done.dnsStarted());
      } // a stopped container is connected at its next start, with the event then (as dockerd)
      eps.put(n.name(), s);
      store.update(now.withNetworking(new Container.Networking(eps, ports, now.networking().sandboxKey())));
    });
  }

  /**
   * A running container's /etc/hosts gains its new address; with the embedded DNS started by this connect, its
   * resolv.conf points at 127.0.0.11 (dockerd rebuilds both the same way). The files are bind-mounted: they are
   * rewritten in place.
   */
  private void etcFilesAfterConnect(Container c, String ip, boolean dnsStarted) throws IOException {
    Path d = containerDirOf(c.id());
    String hostname = Supervisor.hostname(c);
    Path hosts = d.resolve("hosts");
    if (ip != null && !ip.isEmpty() && Files.exists(hosts)) {
      Files.writeString(hosts, ip + "\t" + hostname + "\n", java.nio.file.StandardOpenOption.APPEND);
    }
    Path resolv = d.resolve("resolv.conf");
    if (dnsStarted && Files.exists(resolv)) {
      HostConfig h = c.hostConfig();
      Files.writeString(resolv, berth.engine.network.EtcFiles.resolvConf(false, true, h.dns(), h.dnsSearch(),
          h.dnsOptions()), java.nio.file.StandardOpenOption.TRUNCATE_EXISTING, java.nio.file.StandardOpenOption.WRITE);
    }
  }

  @Override
  public void disconnect(String ref, Network n, boolean force) {
    underLock(ref, "could not disconnect container from network " + n.name(), now -> {
      Map<String, NetworkingConfig.EndpointSettings> eps = new LinkedHashMap<>(now.networking().networks());
      String key = null;
      for (Map.Entry<String, NetworkingConfig.EndpointSettings> e : eps.entrySet()) {
        if (n.id().equals(e.getValue().networkId())) {
          key = e.getKey();
        }
      }
      if (key == null) {
        // dockerd answers this with a plain error: 500
        throw EngineException.system(String.format("container %s is not connected to network %s", now.id(),
            n.name()), null);
      }
      if (n.driver().equals("host") || n.driver().equals("null")) {
        throw EngineException.invalid("container cannot be disconnected from host network or connected to host "
            + "network");
      }
      eps.remove(key);
      Map<String, List<HostConfig.PortBinding>> moved = sup.run(now.id()) == null ? null
          : networks.disconnectRunning(now.id(), n);
      store.update(now.withNetworking(new Container.Networking(eps, moved != null ? moved : now.networking().ports(),
          now.networking().sandboxKey())));
    });
  }

  // ---- rename, remove, prune ---------------------------------------------------------------------

  @Override
  public void rename(String name, String newName) {
    Container c = find(name);
    String n = Names.validate(newName);
    if (n.equals(c.name())) {
      throw EngineException.invalid("Renaming a container with the same name as its current name");
    }
    var l = sup.lock(c.id()); // the container's lock, then this monitor: a fresh record, no stale write
    l.lock();
    try {
      synchronized (this) {
        Container now = store.get(c.id());
        if (now == null) {
          throw EngineException.notFound("No such container: %s", name);
        }
        String holder = store.update(renamedNetworking(now.withName(n), now.name()));
        if (holder != null) {
          throw nameInUse(n, holder);
        }
        networks.renamed(c.id(), n);
      }
    } catch (IOException e) {
      throw EngineException.system("could not rename container", e);
    } finally {
      l.unlock();
    }
    events.publish("container", "rename", c.id(), Map.of("oldName", "/" + c.name(), "name", n, "image", c.image()));
  }

  /** The endpoints' DNS names follow a rename (they are served again after a live restore). */
  private static Container renamedNetworking(Container c, String old) {
    Map<String, NetworkingConfig.EndpointSettings> eps = new LinkedHashMap<>();
    c.networking().networks().forEach((k, e) -> {
      List<String> names = e.dnsNames() == null ? null
          : e.dnsNames().stream().map(x -> x.equals(old) ? c.name() : x).toList();
      eps.put(k, new NetworkingConfig.EndpointSettings(e.ipamConfig(), e.links(), e.macAddress(), e.aliases(),
          e.driverOpts(), e.gwPriority(), e.networkId(), e.endpointId(), e.gateway(), e.ipAddress(), e.ipPrefixLen(),
          e.ipv6Gateway(), e.globalIpv6Address(), e.globalIpv6PrefixLen(), names));
    });
    return c.withNetworking(new Container.Networking(eps, c.networking().ports(), c.networking().sandboxKey()));
  }

  @Override
  public void remove(String name, boolean force, boolean volumes) {
    Container c = find(name);
    if (c.state().running() && !force) {
      if (c.state().paused()) {
        throw EngineException.conflict("cannot remove container \"/%s\": container is paused and must be unpaused "
            + "first", c.name());
      }
      throw EngineException.conflict("cannot remove container \"/%s\": container is running: stop the container "
          + "before removing or force remove", c.name());
    }
    if (force) {
      sup.killForRemoval(c.id());
    }
    var l = sup.lock(c.id()); // lock order: the container's lock, then this service's monitor
    l.lock();
    try {
      synchronized (this) {
        Container now = store.get(c.id());
        if (now == null) {
          return; // auto-removed meanwhile
        }
        if (sup.run(c.id()) != null) {
          throw EngineException.conflict("cannot remove container \"/%s\": container is running: stop the "
              + "container before removing or force remove", c.name());
        }
        sup.cancelPendingRestart(c.id());
        removeInternal(now, volumes);
      }
    } finally {
      l.unlock();
    }
    images.gc(); // the container may have held the last use of an image removed with rmi -f
  }

  private void removeInternal(Container c, boolean removeVolumes) {
    try {
      execs.forget(c.id());
      layers.removeWritable(c.id());
      store.remove(c.id());
    } catch (IOException e) {
      throw EngineException.system("could not remove container " + c.id(), e);
    }
    mounts.removed(c.id(), c.mountPoints(), removeVolumes);
    events.publish("container", "destroy", c.id(), Supervisor.attrs(c));
    sup.removedNow(c);
  }

  private Path containerDirOf(String id) {
    return sup.containerDir(id);
  }

  @Override
  public ContainerPruneReport prune(Filters f) {
    f.validate(Set.of("until", "label", "label!"));
    List<String> deleted = new ArrayList<>();
    long reclaimed = 0;
    for (Container c : store.all()) {
      if (c.state().running() || !f.matchLabels("label", c.config().labels())) {
        continue;
      }
      if (f.has("label!") && c.config().labels() != null
          && f.get("label!").stream().anyMatch(l -> matchesLabel(l, c.config().labels()))) {
        continue;
      }
      boolean tooNew = false;
      for (String u : f.get("until")) {
        tooNew |= Timestamps.parseRfc3339(c.created()) > Filters.untilNano(u);
      }
      if (tooNew) {
        continue;
      }
      var l = sup.lock(c.id());
      l.lock();
      try {
        synchronized (this) {
          Container now = store.get(c.id());
          if (now == null || sup.run(c.id()) != null || now.state().running()) {
            continue;
          }
          reclaimed += writableSize(c.id());
          removeInternal(now, false);
          deleted.add(c.id());
        }
      } finally {
        l.unlock();
      }
    }
    images.gc();
    events.publish("container", "prune", "", Map.of("reclaimed", Long.toString(reclaimed)));
    return new ContainerPruneReport(deleted.isEmpty() ? null : deleted, reclaimed);
  }

  private static boolean matchesLabel(String want, Map<String, String> labels) {
    int eq = want.indexOf('=');
    String k = eq < 0 ? want : want.substring(0, eq);
    return labels.containsKey(k) && (eq < 0 || want.substring(eq + 1).equals(labels.get(k)));
  }

  // ---- running ---------------------------------------------------------------------------------

  @Override
  public void start(String name) {
    sup.start(find(name).id());
  }

  @Override
  public void stop(String name, Integer timeout, String signal) {
    sup.stop(find(name).id(), timeout, signal);
  }

  @Override
  public void restart(String name, Integer timeout, String signal) {
    sup.restart(find(name).id(), timeout, signal);
  }

  @Override
  public void kill(String name, String signal) {
    sup.kill(find(name).id(), signal);
  }

  @Override
  public void pause(String name) {
    sup.pause(find(name).id(), true);
  }

  @Override
  public void unpause(String name) {
    sup.pause(find(name).id(), false);
  }

  @Override
  public CompletableFuture<Integer> waitFor(String name, String condition) {
    Container c = find(name);
    String id = c.id();
    return switch (condition) {
      case "next-exit" -> gone(id, sup.nextExit(id), c);
      case "removed" -> gone(id, sup.removal(id), c);
      default -> {
        CompletableFuture<Integer> f = sup.nextExit(id);
        Container now = store.get(id);
        yield now == null || sup.run(id) == null && !now.state().restarting()
            ? CompletableFuture.completedFuture(now == null ? c.state().exitCode() : now.state().exitCode()) : f;
      }
    };
  }

  /** A wait registered just after the container was removed completes at once. */
  private CompletableFuture<Integer> gone(String id, CompletableFuture<Integer> f, Container c) {
    if (store.get(id) == null) {
      f.complete(c.state().exitCode());
    }
    return f;
  }

  @Override
  public boolean attachTty(String name, AttachOptions o) {
    Container c = find(name);
    AttachPump.parseDetachKeys(o.detachKeys());
    return Boolean.TRUE.equals(c.config().tty());
  }

  @Override
  public void attach(String name, AttachOptions o, HijackOpener open) throws IOException {
    Container c = find(name);
    boolean tty = Boolean.TRUE.equals(c.config().tty());
    boolean stdin = o.stdin() && Boolean.TRUE.equals(c.config().openStdin());
    AttachPump.Options po = new AttachPump.Options(tty, o.stdout(), o.stderr(), stdin,
        Boolean.TRUE.equals(c.config().stdinOnce()), AttachPump.parseDetachKeys(o.detachKeys()));
    CompletableFuture<Monitor.Attachment> conn = new CompletableFuture<>();
    Runnable withdraw = () -> { };
    if (o.stream()) {
      // registered before the upgrade goes out: the client may send its start the moment it sees it
      withdraw = sup.onAttachable(c.id(), dir -> {
        if (dir == null) {
          conn.completeExceptionally(new IOException("the container failed to start"));
          return;
        }
        try {
          Monitor.Attachment a = Monitor.attach(dir, false);
          if (!conn.complete(a)) {
            a.close(); // the client left meanwhile: do not hold the monitor's output back for it
          }
        } catch (IOException e) {
          conn.completeExceptionally(e);
        }
      });
    }
    Hijacked h;
    try {
      h = open.open();
    } catch (IOException | RuntimeException e) {
      release(withdraw, conn);
      throw e;
    }
    try {
      if (o.logs()) {
        replayLogs(c, po, h);
      }
      if (!o.stream()) {
        h.close();
        return;
      }
      CompletableFuture.anyOf(conn, h.clientGone()).join();
      if (!conn.isDone()) {
        release(withdraw, conn);
        h.close();
        return;
      }
      AttachPump.run(conn.join(), h, po, null);
    } catch (IOException | java.util.concurrent.CompletionException e) {
      release(withdraw, conn);
      h.close();
    }
  }

  /** Withdraws a pending attachment and closes the monitor connection it may still get. */
  private static void release(Runnable withdraw, CompletableFuture<Monitor.Attachment> conn) {
    withdraw.run();
    conn.cancel(false);
    conn.thenAccept(a -> {
      try {
        a.close();
      } catch (IOException ignored) {
        // closing
      }
    });
  }

  private void replayLogs(Container c, AttachPump.Options po, Hijacked h) throws IOException {
    Path p = logSettings(c).path(containerDirOf(c.id()), c.id());
    if (p == null) {
      return;
    }
    java.io.OutputStream out = h.out();
    new JsonFileLog(p).read(ReadOptions.all().withStreams(po.stdout(), po.stderr()), e -> {
      try {
        if (po.tty()) {
          out.write(e.line());
        } else {
          (e.isStderr() ? Stdcopy.stderr(out) : Stdcopy.stdout(out)).write(e.line());
        }
      } catch (IOException x) {
        throw new java.io.UncheckedIOException(x);
      }
    });
  }

  @Override
  public boolean logsTty(String name) {
    Container c = find(name);
    if (logSettings(c).driver().equals("none")) {
      throw EngineException.notImplemented("configured logging driver does not support reading");
    }
    return Boolean.TRUE.equals(c.config().tty());
  }

  @Override
  public void logs(String name, ReadOptions o, java.util.function.Consumer<LogEntry> sink,
      java.util.function.BooleanSupplier cancelled) throws IOException {
    Container c = find(name);
    Path p = logSettings(c).path(containerDirOf(c.id()), c.id());
    Supervisor.Run r = sup.run(c.id());
    java.util.function.BooleanSupplier stopped = r == null ? () -> true : r.done::isDone;
    new JsonFileLog(p).read(o, sink, cancelled, stopped);
  }

  @Override
  public void resize(String name, int rows, int cols) {
    Container c = find(name);
    Supervisor.Run r = sup.run(c.id());
    if (r == null) {
      throw EngineException.conflict("Container %s is not running", c.id());
    }
    try {
      Monitor.resize(r.dir, rows, cols);
    } catch (IOException e) {
      throw EngineException.conflict("Container %s is not running", c.id());
    }
  }

  @Override
  public Object top(String name, String psArgs) {
    berth.engine.runtime.Top.validateArgs(psArgs);
    Container c = find(name);
    if (sup.run(c.id()) == null) {
      throw EngineException.conflict("Container %s is not running", c.id());
    }
    try {
      return berth.engine.runtime.Top.list(runc.pids(c.id()), psArgs);
    } catch (IOException e) {
      throw EngineException.conflict("Container %s is not running", c.id());
    }
  }

  @Override
  public void stats(String name, boolean stream, boolean oneShot, java.util.function.Consumer<Object> sink,
      java.util.function.Supplier<Boolean> more) throws IOException {
    Container c = find(name);
    Cgroups.Stats prev = null;
    boolean first = true;
    while (first || stream && more.get()) {
      Supervisor.Run r = sup.run(c.id());
      if (r == null) {
        sink.accept(ContainerStats.empty(c.name(), c.id()));
        return;
      }
      Cgroups.Stats now;
      try {
        now = cgroups.read(sup.cgroupsPath(c.id()), r.pid);
      } catch (IOException e) {
        sink.accept(ContainerStats.empty(c.name(), c.id())); // it exited while being read
        return;
      }
      if (!stream && !oneShot && prev == null) {
        prev = now; // dockerd answers stream=false with its second sample, a second later
        sleep(1000);
        continue;
      }
      sink.accept(ContainerStats.of(c.name(), c.id(), now, oneShot ? null : prev));
      prev = now;
      first = false;
      if (stream) {
        sleep(1000);
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public List<String> update(String name, HostConfig changes) {
    Container c = find(name);
    var l = sup.lock(c.id());
    l.lock();
    try {
      c = store.get(c.id());
      if (c == null) {
        throw EngineException.notFound("No such container: %s", name);
      }
      HostConfig merged = mergeUpdate(c.hostConfig(), changes);
      if (changes.restartPolicy() != null && changes.restartPolicy().name() != null
          && !changes.restartPolicy().name().isEmpty() && Boolean.TRUE.equals(c.hostConfig().autoRemove())) {
        throw EngineException.invalid("Restart policy cannot be updated because AutoRemove is enabled for the "
            + "container");
      }
      validateRuntime(merged);
      OciSpec spec = specs.build(withInit(OciSpecBuilder.Inputs.of(c.id(),
          new ContainerCreateRequest(c.config(), merged, null), null, Path.of("/"), UserResolver.ExecUser.root())));
      if (sup.run(c.id()) != null) {
        try {
          runc.update(c.id(), spec.linux().resources());
        } catch (Runc.RuncException e) {
          throw EngineException.invalid("Cannot update container %s: %s", c.id(), e.getMessage());
        }
      }
      store.update(c.withHostConfig(merged));
      events.publish("container", "update", c.id(), Supervisor.attrs(c));
      return List.of();
    } catch (IOException e) {
      throw EngineException.system("could not update container " + c.id(), e);
    } finally {
      l.unlock();
    }
  }

  /** The non-zero, non-empty fields of an update over the container's HostConfig (docker update sends zeros). */
  static HostConfig mergeUpdate(HostConfig base, HostConfig changes) {
    var mapper = berth.engine.api.http.ApiJson.MAPPER;
    com.fasterxml.jackson.databind.node.ObjectNode b = mapper.valueToTree(base);
    com.fasterxml.jackson.databind.node.ObjectNode ch = mapper.valueToTree(changes);
    ch.fields().forEachRemaining(f -> {
      JsonNode v = f.getValue();
      boolean unset = v.isNull() || v.isNumber() && v.asLong() == 0 || v.isTextual() && v.asText().isEmpty()
          || v.isContainerNode() && v.isEmpty()
          || f.getKey().equals("RestartPolicy") && v.path("Name").asText("").isEmpty();
      if (!unset) {
        b.set(f.getKey(), v);
      }
    });
    try {
      return mapper.treeToValue(b, HostConfig.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw EngineException.invalid("invalid update: %s", e.getOriginalMessage());
    }
  }

  // ---- exec ------------------------------------------------------------------------------------

  @Override
  public String execCreate(String name, Map<String, Object> body) {
    Container c = find(name);
    Execs.Config cfg = new Execs.Config(bool(body, "AttachStdin"), bool(body, "AttachStdout"),
        bool(body, "AttachStderr"), str(body, "DetachKeys"), bool(body, "Tty"), strs(body, "Env"), strs(body, "Cmd"),
        bool(body, "Privileged"), str(body, "User"), str(body, "WorkingDir"));
    return execs.create(c, cfg);
  }

  private static boolean bool(Map<String, Object> m, String k) {
    return Boolean.TRUE.equals(m.get(k));
  }

  private static String str(Map<String, Object> m, String k) {
    Object v = m.get(k);
    return v == null ? null : v.toString();
  }

  private static List<String> strs(Map<String, Object> m, String k) {
    Object v = m.get(k);
    if (v instanceof List<?> l) {
      return l.stream().map(String::valueOf).toList();
    }
    return v == null ? null : List.of(v.toString());
  }

  @Override
  public boolean execTty(String execId, boolean tty) {
    Execs.Exec e = execs.get(execId);
    if (e.started) {
      throw EngineException.conflict("Error: Exec command %s has already run", execId);
    }
    if (sup.run(e.containerId) == null) {
      throw EngineException.conflict("Container %s is not running", e.containerId);
    }
    return tty || e.config.tty();
  }

  @Override
  public void execStart(String execId, boolean tty, Hijacked h) {
    execs.start(execId, tty, h);
  }

  @Override
  public void execResize(String execId, int rows, int cols) {
    execs.resize(execId, rows, cols);
  }

  @Override
  public Object execInspect(String execId) {
    Execs.Exec e = execs.get(execId);
    Map<String, Object> pc = new LinkedHashMap<>();
    List<String> cmd = e.config.cmd();
    pc.put("tty", e.config.tty());
    pc.put("entrypoint", cmd.get(0));
    pc.put("arguments", cmd.subList(1, cmd.size()));
    pc.put("privileged", e.config.privileged());
    pc.put("user", e.config.user() == null ? "" : e.config.user());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("CanRemove", false);
    out.put("ContainerID", e.containerId);
    out.put("DetachKeys", e.config.detachKeys() == null ? "" : e.config.detachKeys());
    out.put("ExitCode", e.exitCode);
    out.put("ID", e.id);
    out.put("OpenStderr", e.config.attachStderr());
    out.put("OpenStdin", e.config.attachStdin());
    out.put("OpenStdout", e.config.attachStdout());
    out.put("ProcessConfig", pc);
    out.put("Running", e.running);
    out.put("Pid", e.pid);
    return out;
  }

  // ---- files: docker cp, diff, export, commit ---------------------------------------------------

  @Override
  public PathStat statPath(String name, String path) throws IOException {
    Container c = find(name);
    try (ContainerView v = ContainerView.open(sup, layers, c.id())) {
      return new ContainerFiles(v.resolver(), name).stat(path);
    }
  }

  @Override
  public void archivePath(String name, String path, TarOpener open) throws IOException {
    Container c = find(name);
    try (ContainerView v = ContainerView.open(sup, layers, c.id())) {
      ContainerFiles files = new ContainerFiles(v.resolver(), name);
      PathStat stat = files.stat(path);
      files.archive(path, stat, open.open(stat));
    }
    events.publish("container", "archive-path", c.id(), Supervisor.attrs(c, "path", path));
  }

  @Override
  public void extractToDir(String name, String path, boolean noOverwriteDirNonDir, boolean copyUidGid,
      java.io.InputStream tar) throws IOException {
    Container c = find(name);
    try (ContainerView v = ContainerView.open(sup, layers, c.id())) {
      Long uid = null;
      Long gid = null;
      String user = v.container().config().user();
      if (copyUidGid && user != null && !user.isEmpty()) { // moby's tarCopyOptions: the container's user owns it all
        UserResolver.ExecUser u = UserResolver.resolve(v.rootfs(), user, List.of());
        uid = u.uid();
        gid = u.gid();
      }
      new ContainerFiles(v.resolver(), name).extract(path, tar, new ContainerFiles.ExtractOptions(noOverwriteDirNonDir,
          uid, gid, Boolean.TRUE.equals(v.container().hostConfig().readonlyRootfs())));
    }
    events.publish("container", "extract-to-dir", c.id(), Supervisor.attrs(c, "path", path));
  }

  @Override
  public List<Map<String, Object>> changes(String name) throws IOException {
    Container c = find(name);
    List<Path> lowers = new ArrayList<>();
    for (int i = c.diffIds().size() - 1; i >= 0; i--) {
      lowers.add(layers.diffDir(Digest.parse(c.diffIds().get(i))));
    }
    List<Map<String, Object>> out = new ArrayList<>();
    for (Changes.Change ch : Changes.of(layers.writableDir(c.id()), lowers)) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("Path", ch.path());
      m.put("Kind", ch.kind());
      out.add(m);
    }
    return out;
  }

  @Override
  public void export(String name, TarOpener open) throws IOException {
    Container c = find(name);
    try (ContainerView v = ContainerView.open(sup, layers, c.id())) {
      new ContainerFiles(v.rootOnly(), name).export(open.open(null));
    }
    events.publish("container", "export", c.id(), Supervisor.attrs(c));
  }

  @Override
  public String commit(CommitOptions o) throws IOException {
    Container c = find(o.container());
    var l = sup.lock(c.id());
    l.lock();
    boolean paused = false;
    try {
      Container now = store.get(c.id());
      if (now == null) {
        throw EngineException.notFound("No such container: %s", o.container());
      }
      if (o.pause() && sup.run(c.id()) != null && !now.state().paused()) {
        sup.pause(c.id(), true); // a consistent snapshot, as dockerd (the lock is reentrant)
        paused = true;
      }
      com.fasterxml.jackson.databind.node.ObjectNode requested = imageConfig(o.config());
      com.fasterxml.jackson.databind.node.ObjectNode own = imageConfig(now.config());
      // moby's NewChildImage: the history line is the container's Cmd
      List<String> cmd = now.config().cmd() == null ? List.of() : now.config().cmd();
      ImageService.CommitSpec spec = new ImageService.CommitSpec(now.id(), now.imageId(), requested, own,
          o.changes() == null ? List.of() : o.changes(), o.repo(), o.tag(), o.comment(), o.author(),
          String.join(" ", cmd));
      String id = images.commit(spec, out -> layers.writeWritableTar(now.id(), (p, h) -> {
        try {
          return Changes.isInitStub(p, h);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }, out));
      String ref = o.repo() == null || o.repo().isEmpty() ? ""
          : o.repo() + ":" + (o.tag() == null || o.tag().isEmpty() ? "latest" : o.tag());
      events.publish("container", "commit", now.id(), Supervisor.attrs(now, "comment",
          o.comment() == null ? "" : o.comment(), "imageID", id, "imageRef", ref));
      return id;
    } finally {
      if (paused) {
        try {
          sup.pause(c.id(), false);
        } catch (RuntimeException e) {
          java.util.logging.Logger.getLogger(ContainerService.class.getName()).warning(
              "could not unpause " + c.id() + " after commit: " + e.getMessage());
        }
      }
      l.unlock();
    }
  }

  /** A container config as image-config JSON (PascalCase, unset fields and names left out). */
  private static com.fasterxml.jackson.databind.node.ObjectNode imageConfig(ContainerConfig cfg) {
    com.fasterxml.jackson.databind.node.ObjectNode n = berth.engine.api.http.ApiJson.MAPPER.valueToTree(
        cfg == null ? ContainerConfig.empty() : cfg);
    List<String> drop = new ArrayList<>();
    n.fieldNames().forEachRemaining(f -> {
      if (n.get(f).isNull()) {
        drop.add(f);
      }
    });
    // the container's name, image and network identity are no part of an image (moby keeps them, unused)
    drop.addAll(List.of("Hostname", "Domainname", "Image", "MacAddress", "NetworkDisabled"));
    n.remove(drop);
    return n;
  }

  // ---- ImageUsers ------------------------------------------------------------------------------

  @Override
  public List<String> containersUsing(String imageId) {
    return store.all().stream().filter(c -> c.imageId().equals(imageId)).map(Container::id).toList();
  }

  @Override
  public Set<String> diffIdsInUse() {
    Set<String> out = new HashSet<>();
    store.all().forEach(c -> out.addAll(c.diffIds()));
    return out;
  }

  /** Counts by state for /info: created and exited containers are "stopped". */
  public int[] counts() {
    int running = 0;
    int paused = 0;
    int stopped = 0;
    for (Container c : store.all()) {
      if (c.state().paused()) {
        paused++;
      } else if (c.state().running()) {
        running++;
      } else {
        stopped++;
      }
    }
    return new int[] {running, paused, stopped};
  }
}
