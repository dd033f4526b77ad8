package berth.engine.container;

import berth.engine.api.containers.ContainersBackend;
import berth.engine.api.types.ContainerConfig;
import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.types.ContainerInspect;
import berth.engine.api.types.ContainerPruneReport;
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
import berth.engine.runtime.OciSpec;
import berth.engine.runtime.OciSpecBuilder;
import berth.engine.runtime.UserResolver;
import berth.engine.store.Rollback;
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
 * Containers that exist but do not run yet: create (image resolved, options validated by building
 * the OCI spec, writable layer prepared), list, inspect, rename, remove, prune. Running them needs the
 * per-container monitor (engine/docs/runtime-monitor.md). Thread-safe: changes are serialised here.
 */
public final class ContainerService implements ContainersBackend, ImageUsers {
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

  public ContainerService(ContainerStore store, ImageService images, LayerStore layers, EventBus events,
      OciSpecBuilder specs) {
    this.store = store;
    this.images = images;
    this.layers = layers;
    this.events = events;
    this.specs = specs;
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
    // Building the spec now reports invalid options at create time, as dockerd does; the user is
    // resolved against the image's files at start.
    OciSpec spec = specs.build(OciSpecBuilder.Inputs.of(id, request, image.config().path("config"), Path.of("/"),
        UserResolver.ExecUser.root()));
    HostConfig hostConfig = request.hostConfig() != null ? request.hostConfig() : HostConfig.empty();
    List<Digest> diffs = image.diffIds().stream().map(Digest::parse).toList();
    try (Rollback undo = new Rollback()) {
      layers.prepare(id, diffs);
      undo.push(() -> layers.removeWritable(id));
      Container c = null;
      for (int attempt = 0; c == null; attempt++) {
        Container candidate = new Container(id, n != null ? n : Names.generate(attempt), Instant.now().toString(),
            asked.image(), image.id(), image.diffIds(), spec.process().args(), merge(asked, image.config()),
            hostConfig, Container.State.created());
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
    return new ContainerConfig(c.hostname(), c.domainname(), or(c.user(), text(ic, "User")), c.attachStdin(),
        c.attachStdout(), c.attachStderr(), c.exposedPorts(), c.tty(), c.openStdin(), c.stdinOnce(), env, cmd,
        c.healthcheck(), c.argsEscaped(), c.image(), c.volumes(), or(c.workingDir(), text(ic, "WorkingDir")),
        entrypoint, c.networkDisabled(), c.macAddress(), c.onBuild(), labels, or(c.stopSignal(), text(ic, "StopSignal")),
        c.stopTimeout(), c.shell());
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
          || since != null && c.created().compareTo(since) <= 0) {
        continue;
      }
      out.add(summary(c, size));
      if (limit > 0 && out.size() >= limit) {
        break;
      }
    }
    return out;
  }

  private ContainerSummary summary(Container c, boolean size) {
    HostConfig h = c.hostConfig();
    String network = h.networkMode() == null || h.networkMode().isEmpty() ? "bridge" : h.networkMode();
    return new ContainerSummary(c.id(), List.of("/" + c.name()), c.image(), c.imageId(), String.join(" ", c.path()),
        Instant.parse(c.created()).getEpochSecond(), List.of(), size ? writableSize(c.id()) : null,
        c.config().labels() == null ? Map.of() : c.config().labels(), c.state().status(), status(c),
        Map.of("NetworkMode", network), Map.of("Networks", Map.of()), List.of());
  }

  private static String status(Container c) {
    return switch (c.state().status()) {
      case "created" -> "Created";
      case "exited" -> "Exited (" + c.state().exitCode() + ")";
      default -> c.state().status();
    };
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
    Map<String, Object> net = new LinkedHashMap<>();
    net.put("Ports", Map.of());
    net.put("Networks", Map.of());
    return new ContainerInspect(c.id(), c.created(), path.isEmpty() ? "" : path.get(0),
        path.isEmpty() ? List.of() : path.subList(1, path.size()), c.state(), c.imageId(), "", "", "", "",
        "/" + c.name(), 0, "overlay2", "linux", "", "", "", null, c.hostConfig(),
        new ImageInspect.GraphDriver("overlay2", gd), size ? writableSize(c.id()) : null, List.of(), c.config(), net);
  }

  private long writableSize(String id) {
    try (Stream<Path> s = Files.walk(layers.writableDir(id))) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    } catch (IOException e) {
      return 0;
    }
  }

  // ---- rename, remove, prune ---------------------------------------------------------------------

  @Override
  public synchronized void rename(String name, String newName) {
    Container c = find(name);
    String n = Names.validate(newName);
    if (n.equals(c.name())) {
      throw EngineException.invalid("Renaming a container with the same name as its current name");
    }
    try {
      String holder = store.update(c.withName(n));
      if (holder != null) {
        throw nameInUse(n, holder);
      }
    } catch (IOException e) {
      throw EngineException.system("could not rename container", e);
    }
    events.publish("container", "rename", c.id(), Map.of("oldName", "/" + c.name(), "name", n, "image", c.image()));
  }

  @Override
  public synchronized void remove(String name, boolean force, boolean volumes) {
    Container c = find(name);
    if (c.state().running() && !force) {
      throw EngineException.conflict("You cannot remove a running container %s. Stop the container before "
          + "attempting removal or force remove", c.id());
    }
    removeInternal(c);
    images.gc(); // the container may have held the last use of an image removed with rmi -f
  }

  private void removeInternal(Container c) {
    try {
      layers.removeWritable(c.id());
      store.remove(c.id());
    } catch (IOException e) {
      throw EngineException.system("could not remove container " + c.id(), e);
    }
    events.publish("container", "destroy", c.id(), Map.of("name", c.name(), "image", c.image()));
  }

  @Override
  public synchronized ContainerPruneReport prune(Filters f) {
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
      reclaimed += writableSize(c.id());
      removeInternal(c);
      deleted.add(c.id());
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
