package berth.engine.image;

import berth.engine.api.types.BuildCachePruneReport;
import berth.engine.api.types.BuildCacheRecord;
import berth.engine.api.types.Filters;
import berth.engine.api.types.Timestamps;
import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The classic builder's cache as {@code /system/df} and {@code docker builder prune} see it. The cache is the image
 * store: a build step's image is found again through its parent link. An <em>entry</em> is an image the builder
 * made ({@code container_config} in its config and a parent link) that has no tag: an intermediate step. Pruning
 * removes the entries no container and no running build uses, and cuts the parent link of every other image that
 * pointed at a removed entry or is itself a matching build result (tagged), so no step of the pruned builds is taken
 * from the cache again while tagged images and images containers use stay whole (an image record
 * lists all its layers; the parent link only names history lines and finds cache hits). Thread-safe.
 */
public final class BuildCache {
  private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(BuildCache.class.getName());
  private static final Set<String> FILTERS = Set.of("until", "id", "parent", "type", "description", "inuse",
      "shared", "private", "label", "label!");
  private final ImageService svc;
  /** Images running builds stand on (counted: two builds may hold one); never pruned or detached. */
  private final Map<String, Integer> held = new ConcurrentHashMap<>();

  BuildCache(ImageService svc) {
    this.svc = svc;
  }

  /**
   * Keeps {@code imageId} (a running build's current image) from being pruned or detached until a matching
   * {@link #release}; false, holding nothing, if the image is gone. Atomic with respect to {@link #prune}.
   */
  public boolean hold(String imageId) {
    synchronized (svc) {
      if (svc.store.get(imageId) == null) {
        return false;
      }
      held.merge(imageId, 1, Integer::sum);
      return true;
    }
  }

  /**
   * A build took {@code imageId} from the cache: its last use and usage count in {@code /system/df} move, and
   * {@code prune --filter until} keeps it as recently used. A failure to record it is logged, not thrown: the
   * build goes on.
   */
  public void used(String imageId) {
    try {
      svc.store.recordCacheUse(imageId, Instant.now().toString());
    } catch (IOException e) {
      LOG.warning("could not record a build cache hit on " + imageId + ": " + e.getMessage());
    }
  }

  /** When an image the builder made was last used: its last cache hit, else its creation. */
  private long lastUsedNano(String id, JsonNode config) {
    ImageStore.CacheUse u = svc.store.cacheUse(id);
    return u == null ? ImageConfigs.createdNano(config) : Timestamps.parseRfc3339(u.lastUsedAt());
  }

  /** Undoes one {@link #hold}. */
  public void release(String imageId) {
    held.computeIfPresent(imageId, (k, n) -> n <= 1 ? null : n - 1);
  }

  /** One entry as the pruning rules need it. */
  private record Entry(ImageRecord image, JsonNode config, boolean inUse, boolean shared, long size) {
    String createdBy() {
      JsonNode h = config.path("history");
      return h.isArray() && h.size() > 0 ? h.get(h.size() - 1).path("created_by").asText("") : "";
    }
  }

  /** Whether the builder made this image: a step's record (parent link) with its cache key. */
  private boolean builtStep(ImageRecord r, JsonNode cfg) {
    return r.parent() != null && cfg.path("container_config").isObject();
  }

  /** The entries, oldest first (called under the service lock, or for a snapshot good enough for df). */
  private List<Entry> entries() {
    List<ImageRecord> all = svc.store.all();
    Map<String, List<String>> refs = svc.store.refsById();
    List<ImageRecord> cache = new ArrayList<>();
    Set<String> keptLayers = new HashSet<>(svc.users.diffIdsInUse());
    for (ImageRecord r : all) {
      if (refs.getOrDefault(r.id(), List.of()).isEmpty() && builtStep(r, svc.config(r))) {
        cache.add(r);
      } else {
        r.layers().forEach(l -> keptLayers.add(l.diffId()));
      }
    }
    List<Entry> out = new ArrayList<>();
    for (ImageRecord r : cache) {
      JsonNode cfg = svc.config(r);
      JsonNode h = cfg.path("history");
      boolean ownLayer = h.isArray() && h.size() > 0 && !h.get(h.size() - 1).path("empty_layer").asBoolean(false)
          && !r.layers().isEmpty();
      String top = ownLayer ? r.layers().get(r.layers().size() - 1).diffId() : null;
      boolean inUse = held.containsKey(r.id()) || !svc.users.containersUsing(r.id()).isEmpty();
      out.add(new Entry(r, cfg, inUse, top != null && keptLayers.contains(top), top == null ? 0
          : svc.layerSize(top)));
    }
    out.sort(Comparator.comparingLong((Entry e) -> e.image().addedNano()).thenComparing(e -> e.image().id()));
    return out;
  }

  /** {@code /system/df}'s BuildCache list. */
  public List<BuildCacheRecord> usage() {
    List<BuildCacheRecord> out = new ArrayList<>();
    for (Entry e : entries()) {
      String parent = e.image().parent();
      String created = ImageConfigs.text(e.config(), "created");
      ImageStore.CacheUse u = svc.store.cacheUse(e.image().id());
      // as BuildKit counts: made once, then each time a build takes it from the cache
      out.add(new BuildCacheRecord(e.image().id(), parent, List.of(parent), "regular", e.createdBy(), e.inUse(),
          e.shared(), e.size(), created, u == null ? created : u.lastUsedAt(), u == null ? 1 : 1 + u.hits()));
    }
    return out;
  }

  /**
   * {@code POST /build/prune}: removes the unused entries matching {@code f} (until, id, parent, type, description,
   * shared, private, label, label!; inuse matches nothing, as used entries are kept), oldest first, until the
   * unshared size of the entries left is at most {@code keepStorage} (0: no limit). {@code all} changes nothing:
   * this cache has no internal or frontend records, the only ones BuildKit keeps without it. INVALID_PARAMETER
   * for an unknown filter.
   */
  public BuildCachePruneReport prune(Filters f, boolean all, long keepStorage) {
    f.validate(FILTERS);
    long until = Long.MAX_VALUE;
    for (String u : f.get("until")) {
      until = Math.min(until, Filters.untilNano(u));
    }
    synchronized (svc) {
      List<Entry> entries = entries();
      long left = 0;
      for (Entry e : entries) {
        left += e.shared() ? 0 : e.size();
      }
      Set<String> diffsBefore = new HashSet<>();
      svc.store.all().forEach(r -> r.layers().forEach(l -> diffsBefore.add(l.diffId())));
      Map<String, Long> sizes = new HashMap<>();
      diffsBefore.forEach(d -> sizes.put(d, svc.layerSize(d)));
      List<String> deleted = new ArrayList<>();
      Set<String> removed = new HashSet<>();
      try {
        for (Entry e : entries) {
          if (keepStorage > 0 && left <= keepStorage) {
            break;
          }
          if (e.inUse() || !matches(e, f, until, lastUsedNano(e.image().id(), e.config()))) {
            continue;
          }
          svc.removeImage(e.image().id());
          removed.add(e.image().id());
          deleted.add(e.image().id());
          left -= e.shared() ? 0 : e.size();
        }
        Map<String, List<String>> refs = svc.store.refsById();
        for (ImageRecord r : svc.store.all()) {
          if (r.parent() == null || held.containsKey(r.id())
              || refs.getOrDefault(r.id(), List.of()).isEmpty() && builtStep(r, svc.config(r))) {
            continue; // an entry left (used, or not matching): it stays one, to go at a later prune
          }
          boolean orphan = removed.contains(r.parent());
          boolean result = keepStorage == 0 && builtStep(r, svc.config(r))
              && matches(new Entry(r, svc.config(r), false, false, 0), f, until,
              lastUsedNano(r.id(), svc.config(r)));
          if (orphan || result) {
            svc.store.put(new ImageRecord(r.id(), r.manifestDigest(), r.manifestMediaType(), r.layers(),
                r.repoDigests(), null, r.addedNano(), r.lastTagTime()));
          }
        }
        svc.gc();
      } catch (IOException e) {
        throw EngineException.system("could not prune the build cache", e);
      }
      Set<String> diffsAfter = new HashSet<>(svc.users.diffIdsInUse());
      svc.store.all().forEach(r -> r.layers().forEach(l -> diffsAfter.add(l.diffId())));
      long reclaimed = 0;
      for (String d : diffsBefore) {
        if (!diffsAfter.contains(d)) {
          reclaimed += sizes.get(d);
        }
      }
      return new BuildCachePruneReport(deleted.isEmpty() ? null : deleted, reclaimed);
    }
  }

  /** {@code until}: BuildKit's keep-duration, so an entry used after that time stays (lastUsed: its last use). */
  private static boolean matches(Entry e, Filters f, long until, long lastUsed) {
    if (lastUsed > until || f.has("inuse")) {
      return false;
    }
    if (f.has("id") && f.get("id").stream().noneMatch(p -> e.image().id().startsWith(p)
        || e.image().id().startsWith("sha256:" + p))) {
      return false;
    }
    if (f.has("parent") && f.get("parent").stream().noneMatch(p -> e.image().parent() != null
        && (e.image().parent().startsWith(p) || e.image().parent().startsWith("sha256:" + p)))) {
      return false;
    }
    if (f.has("type") && !f.get("type").contains("regular")) {
      return false;
    }
    if (f.has("description") && f.get("description").stream().noneMatch(d -> e.createdBy().contains(d))) {
      return false;
    }
    if (f.has("shared") && !e.shared() || f.has("private") && e.shared()) {
      return false;
    }
    Map<String, String> labels = ImageConfigs.labels(e.config());
    if (!f.matchLabels("label", labels)) {
      return false;
    }
    for (String l : f.get("label!")) {
      int eq = l.indexOf('=');
      String k = eq < 0 ? l : l.substring(0, eq);
      if (labels.containsKey(k) && (eq < 0 || labels.get(k).equals(l.substring(eq + 1)))) {
        return false;
      }
    }
    return true;
  }

  /** The total size {@code docker system df} shows: the entries' sizes not shared with other images. */
  public static long size(List<BuildCacheRecord> records) {
    long total = 0;
    for (BuildCacheRecord r : records) {
      total += r.shared() ? 0 : r.size();
    }
    return total;
  }
}
