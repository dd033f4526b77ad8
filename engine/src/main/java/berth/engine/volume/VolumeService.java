package berth.engine.volume;

import berth.engine.api.http.ApiJson;
import berth.engine.api.types.Filters;
import berth.engine.api.types.Volume;
import berth.engine.api.volumes.VolumesBackend;
import berth.engine.errdefs.EngineException;
import berth.engine.events.EventBus;
import berth.engine.store.AtomicFiles;
import berth.engine.store.Trees;
import berth.engine.sys.Posix;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Stream;

/**
 * Volumes of the {@code local} driver: {@code volumes/<name>/_data} holds the data and
 * {@code volumes/<name>/volume.json} the name, labels, options and creation time. Containers reference the
 * volumes they were created with (the references are rebuilt from the container records at start, so they
 * survive a restart); a referenced volume cannot be removed. A volume created with {@code type}/{@code device}/
 * {@code o} options is mounted on its {@code _data} while at least one running container uses it. Thread-safe.
 */
public final class VolumeService implements VolumesBackend {
  private static final Logger LOG = Logger.getLogger(VolumeService.class.getName());
  /** The label dockerd puts on volumes it made without a name (API 1.42+ prunes only those by default). */
  public static final String ANONYMOUS_LABEL = "com.docker.volume.anonymous";
  public static final String LOCAL = "local";
  private static final Set<String> OPTION_KEYS = Set.of("type", "o", "device", "size");
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path dir;
  private final Path tmp;
  private final EventBus events;
  private final Map<String, Volume> volumes = new TreeMap<>();
  /** Container IDs referencing each volume. */
  private final Map<String, Set<String>> refs = new HashMap<>();
  /** Containers running with each volume mounted (device volumes are mounted while this is non-empty). */
  private final Map<String, Set<String>> active = new HashMap<>();

  /**
   * Loads the volumes under {@code dir}; what a crash left half-made (a directory without its record) goes.
   *
   * @param tmp scratch space on the same file system, where new volumes are made before they appear
   */
  public VolumeService(Path dir, Path tmp, EventBus events) throws IOException {
    this.dir = dir;
    this.tmp = tmp;
    this.events = events;
    Files.createDirectories(dir);
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path d : ds) {
        Path meta = d.resolve("volume.json");
        if (!Files.isRegularFile(meta)) {
          if (Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS) && !mounted(d.resolve("_data"))) {
            Trees.delete(d); // a removal a crash interrupted (the record goes first)
          }
          continue;
        }
        try {
          Volume v = ApiJson.MAPPER.readValue(meta.toFile(), Volume.class);
          volumes.put(v.name(), v);
        } catch (IOException e) {
          LOG.log(Level.WARNING, "skipping unreadable volume record " + meta, e);
        }
      }
    }
  }

  // ---- API ---------------------------------------------------------------------------------------

  @Override
  public synchronized List<Volume> list(Filters f) {
    f.validate(Set.of("dangling", "name", "label", "driver"));
    Boolean dangling = null;
    for (String d : f.get("dangling")) {
      dangling = switch (d.toLowerCase()) {
        case "true", "1" -> true;
        case "false", "0" -> false;
        default -> throw EngineException.invalid("invalid filter 'dangling=%s'", d);
      };
    }
    List<Pattern> names = new ArrayList<>();
    for (String n : f.get("name")) {
      try {
        names.add(Pattern.compile(n));
      } catch (PatternSyntaxException e) {
        throw EngineException.invalid("invalid filter 'name=%s'", n);
      }
    }
    List<Volume> out = new ArrayList<>();
    for (Volume v : volumes.values()) {
      boolean used = inUse(v.name());
      if (dangling != null && dangling == used
          || !names.isEmpty() && names.stream().noneMatch(p -> p.matcher(v.name()).find())
          || !f.matchAny("driver", v.driver())
          || !f.matchLabels("label", v.labels())) {
        continue;
      }
      out.add(v);
    }
    return out;
  }

  @Override
  public synchronized Volume inspect(String name) {
    Volume v = volumes.get(name);
    if (v == null) {
      throw EngineException.notFound("get %s: no such volume", name);
    }
    return v;
  }

  @Override
  public synchronized Volume create(String name, String driver, Map<String, String> opts,
      Map<String, String> labels) {
    return ensure(name, driver, opts, labels).volume;
  }

  @Override
  public void remove(String name, boolean force) {
    Volume v;
    synchronized (this) {
      v = volumes.get(name);
      if (v == null) {
        if (force) {
          return;
        }
        throw EngineException.notFound("get %s: no such volume", name);
      }
      if (inUse(name)) {
        throw EngineException.conflict("remove %s: volume is in use - [%s]", name,
            String.join(", ", new TreeSet<>(refs.get(name))));
      }
      delete(v);
    }
    events.publish("volume", "destroy", name, Map.of("driver", v.driver()));
  }

  @Override
  public PruneReport prune(Filters f, boolean allByDefault) {
    f.validate(Set.of("label", "label!", "all"));
    boolean all = allByDefault;
    for (String a : f.get("all")) {
      all = switch (a.toLowerCase()) {
        case "true", "1" -> true;
        case "false", "0" -> false;
        default -> throw EngineException.invalid("invalid filter 'all=%s'", a);
      };
    }
    List<String> deleted = new ArrayList<>();
    long reclaimed = 0;
    List<Volume> gone = new ArrayList<>();
    synchronized (this) {
      for (Volume v : new ArrayList<>(volumes.values())) {
        if (inUse(v.name()) || !all && !anonymous(v) || !f.matchLabels("label", v.labels())
            || f.has("label!") && labelsExclude(f.get("label!"), v.labels())) {
          continue;
        }
        long size = size(v);
        try {
          delete(v);
        } catch (EngineException e) {
          LOG.log(Level.WARNING, "prune could not remove volume " + v.name(), e);
          continue;
        }
        deleted.add(v.name());
        gone.add(v);
        reclaimed += Math.max(0, size);
      }
    }
    for (Volume v : gone) {
      events.publish("volume", "destroy", v.name(), Map.of("driver", v.driver()));
    }
    events.publish("volume", "prune", "", Map.of("reclaimed", Long.toString(reclaimed)));
    return new PruneReport(deleted, reclaimed);
  }

  /** True if a {@code label!} filter matches the labels (such volumes are kept). */
  private static boolean labelsExclude(Set<String> not, Map<String, String> labels) {
    for (String want : not) {
      int eq = want.indexOf('=');
      String k = eq < 0 ? want : want.substring(0, eq);
      if (labels != null && labels.containsKey(k) && (eq < 0 || want.substring(eq + 1).equals(labels.get(k)))) {
        return true;
      }
    }
    return false;
  }

  // ---- for containers ----------------------------------------------------------------------------

  /** A volume and whether this call made it. */
  public record Acquired(Volume volume, boolean created) {}

  /**
   * The named volume (made if missing) or a new anonymous one (null name), now referenced by the container.
   *
   * @throws EngineException INVALID_PARAMETER for a bad name, driver or option
   */
  public Acquired acquire(String name, String driver, Map<String, String> opts, Map<String, String> labels,
      String containerId) {
    Acquired a;
    synchronized (this) {
      a = ensure(name, driver, opts, labels);
      refs.computeIfAbsent(a.volume.name(), k -> new TreeSet<>()).add(containerId);
    }
    return a;
  }

  /**
   * Records a reference found in a container record at engine start. False if the volume is gone.
   */
  public synchronized boolean reference(String name, String containerId) {
    if (!volumes.containsKey(name)) {
      return false;
    }
    refs.computeIfAbsent(name, k -> new TreeSet<>()).add(containerId);
    return true;
  }

  /** Drops a container's reference (its removal, or the undo of its create). */
  public synchronized void release(String name, String containerId) {
    Set<String> r = refs.get(name);
    if (r != null) {
      r.remove(containerId);
      if (r.isEmpty()) {
        refs.remove(name);
      }
    }
  }

  /** True if the volume carries dockerd's anonymous label. */
  public synchronized boolean isAnonymous(String name) {
    Volume v = volumes.get(name);
    return v != null && anonymous(v);
  }

  /**
   * Makes the volume's data directory ready for a starting container and returns it: a device volume is
   * mounted by its first user. Publishes dockerd's {@code mount} event.
   *
   * @throws EngineException NOT_FOUND if the volume was removed meanwhile; SYSTEM if its device cannot be mounted
   */
  public Path mount(String name, String containerId, MountPoint m) {
    Volume v;
    synchronized (this) {
      v = inspect(name);
      Set<String> a = active.computeIfAbsent(name, k -> new TreeSet<>());
      if (a.isEmpty() && needsMount(v) && !mounted(data(v))) {
        try {
          mountDevice(v);
        } catch (IOException e) {
          active.remove(name);
          throw EngineException.system("error while mounting volume '" + data(v) + "': failed to mount local volume: "
              + e.getMessage(), e);
        }
      }
      a.add(containerId);
    }
    Map<String, String> attrs = new LinkedHashMap<>();
    attrs.put("container", containerId);
    attrs.put("destination", m.destination());
    attrs.put("driver", v.driver());
    attrs.put("propagation", m.propagation() == null ? "" : m.propagation());
    attrs.put("read/write", Boolean.toString(m.rw()));
    events.publish("volume", "mount", name, attrs);
    return data(v);
  }

  /**
   * Undoes {@link #mount} for a container that stopped; the last user of a device volume unmounts it. A volume
   * the container had not mounted is left alone.
   */
  public void unmount(String name, String containerId) {
    Volume v;
    synchronized (this) {
      v = volumes.get(name);
      Set<String> a = active.get(name);
      if (v == null || a == null || !a.remove(containerId)) {
        return;
      }
      if (a.isEmpty()) {
        active.remove(name);
        if (needsMount(v)) {
          try {
            Posix.umount2(data(v), Posix.MNT_DETACH);
          } catch (IOException e) {
            LOG.log(Level.WARNING, "could not unmount volume " + name, e);
          }
        }
      }
    }
    events.publish("volume", "unmount", name, Map.of("container", containerId, "driver", v.driver()));
  }

  /** Undoes every {@link #mount} of the container. */
  public void unmountAll(String containerId) {
    List<String> names = new ArrayList<>();
    synchronized (this) {
      active.forEach((n, a) -> {
        if (a.contains(containerId)) {
          names.add(n);
        }
      });
    }
    for (String n : names) {
      unmount(n, containerId);
    }
  }

  /**
   * Records that a container adopted at engine start (live restore) has the volume mounted; a device volume is
   * mounted still (the mount outlives the engine), so nothing is mounted again.
   */
  public synchronized void adopt(String name, String containerId) {
    if (volumes.containsKey(name)) {
      active.computeIfAbsent(name, k -> new TreeSet<>()).add(containerId);
    }
  }

  /** Every volume with its size (-1 for a device volume, which is not counted) and reference count. */
  public List<Volume> usage() {
    List<Volume> vs;
    Map<String, Integer> counts = new HashMap<>();
    synchronized (this) {
      vs = new ArrayList<>(volumes.values());
      refs.forEach((k, r) -> counts.put(k, r.size()));
    }
    List<Volume> out = new ArrayList<>();
    for (Volume v : vs) {
      out.add(v.withUsage(size(v), counts.getOrDefault(v.name(), 0)));
    }
    return out;
  }

  // ---- internals ---------------------------------------------------------------------------------

  private Acquired ensure(String name, String driver, Map<String, String> opts, Map<String, String> labels) {
    boolean anon = name == null || name.isEmpty();
    String n = anon ? HexFormat.of().formatHex(random32()) : name;
    String d = driver == null || driver.isEmpty() ? LOCAL : driver;
    if (!d.equals(LOCAL)) {
      throw EngineException.notFound("create %s: error looking up volume plugin %s: plugin \"%s\" not found", n, d, d);
    }
    Volume existing = volumes.get(n);
    if (existing != null) {
      return new Acquired(existing, false); // dockerd returns the volume that has the name
    }
    MountParser.validateName(n);
    Map<String, String> o = opts == null ? Map.of() : new TreeMap<>(opts);
    validateOptions(n, o);
    Map<String, String> l = new TreeMap<>(labels == null ? Map.of() : labels);
    if (anon) {
      l.put(ANONYMOUS_LABEL, "");
    }
    Volume v = new Volume(n, d, dir.resolve(n).resolve("_data").toString(),
        DateTimeFormatter.ISO_OFFSET_DATE_TIME.format(Instant.now().truncatedTo(ChronoUnit.SECONDS)
            .atOffset(ZoneOffset.UTC)), l, "local", o, null);
    Path staging = tmp.resolve("volume-" + HexFormat.of().formatHex(random32()).substring(0, 16));
    try {
      Files.createDirectories(staging.resolve("_data"));
      Posix.chmod(staging, 0701); // as dockerd: others may reach _data, not list the volume's directory
      Posix.chmod(staging.resolve("_data"), 0755);
      AtomicFiles.write(staging.resolve("volume.json"), ApiJson.MAPPER.writeValueAsBytes(v));
      Files.move(staging, dir.resolve(n), StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      try {
        Trees.delete(staging);
      } catch (IOException x) {
        e.addSuppressed(x);
      }
      throw EngineException.system("create " + n + ": " + e.getMessage(), e);
    }
    volumes.put(n, v);
    events.publish("volume", "create", n, Map.of("driver", d));
    return new Acquired(v, true);
  }

  /** dockerd's local driver: known keys only, each with the keys it needs; no quota support here. */
  private static void validateOptions(String name, Map<String, String> o) {
    for (String k : o.keySet()) {
      if (!OPTION_KEYS.contains(k)) {
        throw EngineException.invalid("create %s: invalid option: %s", name, MountParser.goQuote(k));
      }
    }
    if (o.containsKey("size")) {
      throw EngineException.invalid("create %s: quota size requested but no quota support", name);
    }
    Map<String, List<String>> required = Map.of("device", List.of("type"), "type", List.of("device"), "o",
        List.of("device", "type"));
    for (String k : List.of("device", "type", "o")) {
      if (o.containsKey(k)) {
        for (String need : required.get(k)) {
          if (!o.containsKey(need)) {
            throw EngineException.invalid("create %s: missing required option: %s", name, MountParser.goQuote(need));
          }
        }
      }
    }
  }

  private static boolean needsMount(Volume v) {
    return v.options() != null && (v.options().containsKey("type") || v.options().containsKey("device"));
  }

  private static boolean anonymous(Volume v) {
    return v.labels() != null && v.labels().containsKey(ANONYMOUS_LABEL);
  }

  private boolean inUse(String name) {
    Set<String> r = refs.get(name);
    return r != null && !r.isEmpty();
  }

  private Path data(Volume v) {
    return dir.resolve(v.name()).resolve("_data");
  }

  /** mount(8)-style options: flags become mount flags, the rest is the file system's data. */
  private void mountDevice(Volume v) throws IOException {
    String type = v.options().getOrDefault("type", "");
    String device = v.options().getOrDefault("device", "");
    if (device.isEmpty()) {
      throw new IOException("missing device in volume options");
    }
    long flags = 0;
    boolean readOnly = false;
    List<String> data = new ArrayList<>();
    String o = v.options().getOrDefault("o", "");
    for (String opt : o.isEmpty() ? new String[0] : o.split(",")) {
      Long f = FLAGS.get(opt);
      if (f != null) {
        flags |= f;
      } else if (opt.equals("ro")) {
        readOnly = true;
      } else if (!opt.equals("rw") && !opt.equals("defaults")) {
        data.add(opt);
      }
    }
    boolean bind = (flags & Posix.MS_BIND) != 0;
    Path target = data(v);
    if (bind) {
      // a bind takes no data, and read-only needs a remount of the new bind
      Posix.mount(device, target, type.isEmpty() ? "none" : type, flags, null);
      if (readOnly) {
        Posix.mount("none", target, "none", flags | Posix.MS_REMOUNT | Posix.MS_RDONLY, null);
      }
    } else {
      Posix.mount(device, target, type, flags | (readOnly ? Posix.MS_RDONLY : 0),
          data.isEmpty() ? null : String.join(",", data));
    }
  }

  private static final Map<String, Long> FLAGS = Map.of("bind", Posix.MS_BIND, "rbind", Posix.MS_BIND | Posix.MS_REC,
      "nosuid", Posix.MS_NOSUID, "nodev", Posix.MS_NODEV, "noexec", Posix.MS_NOEXEC, "noatime", Posix.MS_NOATIME,
      "sync", Posix.MS_SYNCHRONOUS);

  /** True if the directory is a mount point (its device differs from its parent's). */
  private static boolean mounted(Path p) {
    try {
      Object a = Files.getAttribute(p, "unix:dev", LinkOption.NOFOLLOW_LINKS);
      Object b = Files.getAttribute(p.getParent(), "unix:dev", LinkOption.NOFOLLOW_LINKS);
      return !a.equals(b);
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  /** Removes the volume's directory; a device still mounted on it is unmounted first, never walked into. */
  private void delete(Volume v) {
    Path d = dir.resolve(v.name());
    try {
      if (mounted(data(v))) {
        Posix.umount2(data(v), Posix.MNT_DETACH);
        if (mounted(data(v))) {
          throw new IOException("the volume's device is still mounted on " + data(v));
        }
      }
      // the record goes first: a crash midway leaves a directory that the next start ignores, not a volume
      Files.deleteIfExists(d.resolve("volume.json"));
      volumes.remove(v.name());
      Trees.delete(d);
    } catch (IOException e) {
      throw EngineException.system("remove " + v.name() + ": " + e.getMessage(), e);
    }
  }

  /** Bytes of the volume's regular files; -1 for a device volume (its size is the device's business). */
  private long size(Volume v) {
    if (needsMount(v)) {
      return -1;
    }
    try (Stream<Path> s = Files.walk(data(v))) {
      return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> p.toFile().length())
          .sum();
    } catch (IOException | java.io.UncheckedIOException e) {
      return 0;
    }
  }

  private static byte[] random32() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return b;
  }
}
