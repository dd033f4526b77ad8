package berth.engine.image;

import berth.engine.api.images.ImagesBackend;
import berth.engine.api.types.Filters;
import berth.engine.api.types.ImageDeleteItem;
import berth.engine.api.types.ImageHistoryItem;
import berth.engine.api.types.ImageInspect;
import berth.engine.api.types.ImagePruneReport;
import berth.engine.api.types.ImageSummary;
import berth.engine.api.types.JsonStream;
import berth.engine.api.types.Timestamps;
import berth.engine.content.ContentStore;
import berth.engine.content.Digest;
import berth.engine.distribution.AuthConfig;
import berth.engine.distribution.Platform;
import berth.engine.distribution.Registry;
import berth.engine.distribution.RegistryHosts;
import berth.engine.errdefs.EngineException;
import berth.engine.events.EventBus;
import berth.engine.layer.LayerStore;
import berth.engine.layer.UnpackedLayer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * Images: lookup by reference or ID, listing, inspection, tagging, removal and garbage collection of
 * blobs and layers no image refers to. Load, save and import live in {@link ArchiveLoader},
 * {@link ArchiveWriter} and {@link Importer}. Thread-safe: changes to references and GC are serialised on
 * this object; layers being unpacked by a load in progress are leased so GC spares them.
 */
public final class ImageService implements ImagesBackend {
  private static final Logger LOG = Logger.getLogger(ImageService.class.getName());
  static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> LIST_FILTERS = Set.of("dangling", "label", "label!", "before", "since", "reference", "until");

  final ContentStore content;
  final LayerStore layers;
  final ImageStore store;
  final EventBus events;
  private final Map<String, JsonNode> configs = new ConcurrentHashMap<>();
  /** Unpacked sizes by diffID; a layer's content never changes, so its size is read from disk once. */
  private final Map<String, Long> layerSizes = new ConcurrentHashMap<>();
  /** Repositories (domain/path) known to hold a blob, for cross-repository mounts on push; learnt by pull and push. */
  final Map<String, Set<String>> blobSources = new ConcurrentHashMap<>();
  private volatile Registry registry = new Registry(new RegistryHosts(List.of(), List.of(), null));
  private volatile int maxDownloads = 3;
  private volatile int maxUploads = 5;
  private int ingesting;
  volatile ImageUsers users = ImageUsers.NONE;
  private final BuildCache buildCache = new BuildCache(this);

  public ImageService(ContentStore content, LayerStore layers, ImageStore store, EventBus events) {
    this.content = content;
    this.layers = layers;
    this.store = store;
    this.events = events;
  }

  /** Sets the registry client and how many layers a pull downloads (a push uploads) at once. */
  public void setRegistry(Registry registry, int maxDownloads, int maxUploads) {
    this.registry = registry;
    this.maxDownloads = maxDownloads;
    this.maxUploads = maxUploads;
  }

  /** The classic builder's cache (its intermediate images): usage, prune, and holds for running builds. */
  public BuildCache buildCache() {
    return buildCache;
  }

  /** Tells the service about containers (wired once, by Engine: the two services need each other). */
  public void setUsers(ImageUsers users) {
    this.users = users;
  }

  // ---- lookup ----------------------------------------------------------------------------------

  /** An image found by name, with the reference the name resolved through (null when found by ID). */
  record Found(ImageRecord image, Reference ref) {}

  /** Finds an image as dockerd's GetImage does: a reference first, then a full or partial ID. */
  Found find(String name) {
    if (name.startsWith("sha256:") && name.length() == 71) {
      ImageRecord r = store.get(name);
      if (r != null) {
        return new Found(r, null);
      }
      throw noSuchImage(name);
    }
    Reference ref = null;
    try {
      ref = Reference.parse(name).withDefaultTag();
    } catch (EngineException e) {
      if (!Reference.looksLikeId(name)) {
        throw e.kind() == berth.engine.errdefs.ErrorKind.INVALID_PARAMETER ? noSuchImage(name) : e;
      }
    }
    if (ref != null) {
      String id = store.resolve(ref.toString());
      if (id != null && store.get(id) != null) {
        return new Found(store.get(id), ref);
      }
    }
    if (Reference.looksLikeId(name)) {
      String hex = name.startsWith("sha256:") ? name.substring(7) : name;
      List<String> ids = store.byPrefix(hex);
      if (ids.size() == 1) {
        return new Found(store.get(ids.get(0)), null);
      }
      if (ids.size() > 1) {
        throw EngineException.invalid("multiple IDs found with provided prefix: %s", name);
      }
    }
    throw noSuchImage(ref != null ? ref.familiar() : name);
  }

  /** An image as a container needs it: its ID, its diffIDs (bottom first) and its config object. */
  public record Resolved(String id, List<String> diffIds, JsonNode config) {}

  /** Finds an image by reference or ID for a new container; NOT_FOUND "No such image: x" if absent. */
  public Resolved resolve(String name) {
    ImageRecord r = find(name).image();
    List<String> diffIds = new ArrayList<>();
    r.layers().forEach(l -> diffIds.add(l.diffId()));
    return new Resolved(r.id(), diffIds, config(r));
  }

  static EngineException noSuchImage(String name) {
    return EngineException.notFound("No such image: %s", name);
  }

  JsonNode config(ImageRecord r) {
    return configs.computeIfAbsent(r.id(), id -> {
      try (InputStream in = content.open(Digest.parse(id))) {
        return JSON.readTree(in);
      } catch (IOException e) {
        throw EngineException.system("image config " + id + " is unreadable", e);
      }
    });
  }

  List<String> tagsOf(String id) {
    return tags(store.refsOf(id));
  }

  private static List<String> tags(List<String> refs) {
    List<String> out = new ArrayList<>();
    for (String r : refs) {
      Reference ref = Reference.parse(r);
      if (ref.tag() != null) {
        out.add(ref.familiar());
      }
    }
    return out;
  }

  List<String> repoDigestsOf(ImageRecord r) {
    List<String> out = new ArrayList<>();
    for (String d : r.repoDigests() == null ? List.<String>of() : r.repoDigests()) {
      out.add(Reference.parse(d).familiar());
    }
    return out;
  }

  long layerSize(String diffId) {
    Long cached = layerSizes.get(diffId);
    if (cached != null) {
      return cached;
    }
    try {
      long size = layers.size(Digest.parse(diffId));
      layerSizes.put(diffId, size);
      return size;
    } catch (IOException | EngineException e) {
      return 0;
    }
  }

  /** The unpacked layer of a blob some image already holds (blob and layer both present), or null. */
  UnpackedLayer knownLayer(Digest blob) {
    String b = blob.toString();
    for (ImageRecord r : store.all()) {
      for (ImageRecord.LayerRef l : r.layers()) {
        if (l.digest().equals(b) && content.exists(blob) && layers.exists(Digest.parse(l.diffId()))) {
          return new UnpackedLayer(Digest.parse(l.diffId()), layerSize(l.diffId()));
        }
      }
    }
    return null;
  }

  long size(ImageRecord r) {
    long total = 0;
    for (ImageRecord.LayerRef l : r.layers()) {
      total += layerSize(l.diffId());
    }
    return total;
  }

  // ---- list, inspect, history ------------------------------------------------------------------

  @Override
  public List<ImageSummary> list(boolean all, Filters f, boolean sharedSize) {
    f.validate(LIST_FILTERS);
    Boolean dangling = null;
    for (String v : f.get("dangling")) {
      if (v.equalsIgnoreCase("true") || v.equals("1")) {
        dangling = Boolean.TRUE;
      } else if (v.equalsIgnoreCase("false") || v.equals("0")) {
        dangling = Boolean.FALSE;
      } else {
        throw EngineException.invalid("Invalid filter 'dangling=%s'", v);
      }
    }
    long before = f.has("before") ? createdOfFilter(f.get("before")) : Long.MAX_VALUE;
    long since = f.has("since") ? createdOfFilter(f.get("since")) : Long.MIN_VALUE;
    long until = Long.MAX_VALUE;
    for (String u : f.get("until")) {
      until = Math.min(until, Filters.untilNano(u));
    }
    List<Pattern> refPatterns = new ArrayList<>();
    f.get("reference").forEach(p -> refPatterns.add(Glob.compile(p)));

    Map<String, Integer> layerUse = new HashMap<>();
    List<ImageRecord> all0 = store.all();
    if (sharedSize) {
      for (ImageRecord r : all0) {
        r.layers().forEach(l -> layerUse.merge(l.diffId(), 1, Integer::sum));
      }
    }
    Map<String, List<String>> refsById = store.refsById();
    Set<String> parents = new HashSet<>();
    all0.forEach(r -> parents.add(r.parent()));
    List<ImageSummary> out = new ArrayList<>();
    for (ImageRecord r : all0) {
      JsonNode cfg = config(r);
      long created = ImageConfigs.createdNano(cfg);
      List<String> tags = tags(refsById.getOrDefault(r.id(), List.of()));
      boolean isDangling = tags.isEmpty() && (r.repoDigests() == null || r.repoDigests().isEmpty());
      if (isDangling && !all && parents.contains(r.id())) {
        continue; // an intermediate image of a build: listed with -a only, as dockerd does
      }
      if (dangling != null && dangling != isDangling) {
        continue;
      }
      if (created >= before || created <= since && since != Long.MIN_VALUE || created > until) {
        continue;
      }
      Map<String, String> labels = ImageConfigs.labels(cfg);
      if (!f.matchLabels("label", labels) || (f.has("label!") && !notLabels(f, labels))) {
        continue;
      }
      if (!refPatterns.isEmpty()) {
        List<String> kept = new ArrayList<>();
        for (String t : tags) {
          Reference ref = Reference.parse(t);
          for (Pattern p : refPatterns) {
            if (p.matcher(ref.familiar()).matches() || p.matcher(ref.familiarName()).matches()) {
              kept.add(t);
              break;
            }
          }
        }
        if (kept.isEmpty()) {
          continue;
        }
        tags = kept;
      }
      long shared = -1;
      if (sharedSize) {
        shared = 0;
        for (ImageRecord.LayerRef l : r.layers()) {
          if (layerUse.getOrDefault(l.diffId(), 0) > 1) {
            shared += layerSize(l.diffId());
          }
        }
      }
      out.add(new ImageSummary(r.id(), r.parent() == null ? "" : r.parent(), tags, repoDigestsOf(r),
          created / 1_000_000_000L, size(r), shared, labels, -1));
    }
    out.sort(Comparator.comparingLong(ImageSummary::created).reversed().thenComparing(ImageSummary::id));
    return out;
  }

  private static boolean notLabels(Filters f, Map<String, String> labels) {
    for (String want : f.get("label!")) {
      int eq = want.indexOf('=');
      String k = eq < 0 ? want : want.substring(0, eq);
      if (labels.containsKey(k) && (eq < 0 || want.substring(eq + 1).equals(labels.get(k)))) {
        return false;
      }
    }
    return true;
  }

  private long createdOfFilter(Set<String> names) {
    long t = 0;
    for (String n : names) {
      t = ImageConfigs.createdNano(config(find(n).image()));
    }
    return t;
  }



  @Override
  public ImageInspect inspect(String name) {
    ImageRecord r = find(name).image();
    JsonNode cfg = config(r);
    List<String> diffIds = new ArrayList<>();
    r.layers().forEach(l -> diffIds.add(l.diffId()));
    Map<String, String> gd = new LinkedHashMap<>();
    if (!diffIds.isEmpty()) {
      List<String> lower = new ArrayList<>();
      for (int i = diffIds.size() - 2; i >= 0; i--) {
        lower.add(layers.diffDir(Digest.parse(diffIds.get(i))).toString());
      }
      if (!lower.isEmpty()) {
        gd.put("LowerDir", String.join(":", lower));
      }
      gd.put("UpperDir", layers.diffDir(Digest.parse(diffIds.get(diffIds.size() - 1))).toString());
    }
    JsonNode c = cfg.get("config");
    return new ImageInspect(r.id(), tagsOf(r.id()), repoDigestsOf(r), r.parent() == null ? "" : r.parent(),
        ImageConfigs.text(cfg, "comment"), ImageConfigs.text(cfg, "created"), ImageConfigs.text(cfg, "docker_version"),
        ImageConfigs.text(cfg, "author"), c == null || c.isNull() ? null : c, ImageConfigs.text(cfg, "architecture"),
        ImageConfigs.text(cfg, "variant"), ImageConfigs.text(cfg, "os"), ImageConfigs.text(cfg, "os.version"), size(r),
        new ImageInspect.GraphDriver("overlay2", gd), new ImageInspect.RootFs("layers", diffIds),
        new ImageInspect.Metadata(r.lastTagTime() == null ? "0001-01-01T00:00:00Z" : r.lastTagTime()));
  }

  @Override
  public List<ImageHistoryItem> history(String name) {
    ImageRecord r = find(name).image();
    JsonNode cfg = config(r);
    List<ImageHistoryItem> out = new ArrayList<>();
    JsonNode hist = cfg.path("history");
    int layer = 0;
    if (hist.isArray() && hist.size() > 0) {
      for (JsonNode h : hist) {
        boolean empty = h.path("empty_layer").asBoolean(false);
        long size = 0;
        if (!empty && layer < r.layers().size()) {
          size = layerSize(r.layers().get(layer++).diffId());
        }
        out.add(0, new ImageHistoryItem("<missing>", Timestamps.parseRfc3339(ImageConfigs.text(h, "created")) / 1_000_000_000L,
            ImageConfigs.text(h, "created_by"), null, size, ImageConfigs.text(h, "comment")));
      }
    } else {
      long created = ImageConfigs.createdNano(cfg) / 1_000_000_000L;
      for (ImageRecord.LayerRef l : r.layers()) {
        out.add(0, new ImageHistoryItem("<missing>", created, "", null, layerSize(l.diffId()), ""));
      }
    }
    // The image and each ancestor through parent links (a build's steps) name the entry their own history ends
    // with, as dockerd's history does: an ancestor with n entries is the n-th from the bottom.
    Set<String> seen = new HashSet<>();
    for (ImageRecord a = r; a != null && seen.add(a.id()); a = a.parent() == null ? null : store.get(a.parent())) {
      int n = a == r ? out.size() : config(a).path("history").size();
      int at = out.size() - n;
      if (n > 0 && at >= 0 && at < out.size()) {
        ImageHistoryItem item = out.get(at);
        List<String> tags = tagsOf(a.id());
        out.set(at, new ImageHistoryItem(a.id(), item.created(), item.createdBy(), tags.isEmpty() ? null : tags,
            item.size(), item.comment()));
      }
    }
    return out;
  }

  // ---- tag, delete, prune ----------------------------------------------------------------------

  @Override
  public void tag(String source, String repo, String tag) {
    Reference target = Reference.parse(tag == null || tag.isEmpty() ? repo : repo + ":" + tag);
    if (target.digest() != null) {
      throw EngineException.invalid("refusing to create a tag with a digest reference");
    }
    target = target.withDefaultTag();
    ImageRecord r = find(source).image();
    synchronized (this) {
      try {
        tagInternal(target, r.id());
      } catch (IOException e) {
        throw EngineException.system("could not save tag", e);
      }
    }
  }

  /** Points the reference at the image, records the tag time and emits "tag" (and "untag" for an image it left). */
  synchronized void tagInternal(Reference ref, String id) throws IOException {
    String old = store.tag(ref.toString(), id);
    if (id.equals(old)) {
      return;
    }
    ImageRecord r = store.get(id);
    store.put(r.withLastTagTime(Instant.now().toString()));
    events.publish("image", "tag", id, Map.of("name", ref.familiar()));
  }

  @Override
  public synchronized List<ImageDeleteItem> delete(String name, boolean force, boolean noPrune) {
    Found f = find(name);
    String id = f.image().id();
    List<ImageDeleteItem> items = new ArrayList<>();
    try {
      List<String> refs = store.refsOf(id);
      if (f.ref() != null && refs.size() > 1) {
        store.untag(f.ref().toString());
        events.publish("image", "untag", id, Map.of("name", f.ref().familiar()));
        items.add(ImageDeleteItem.untagged(f.ref().familiar()));
        return items;
      }
      List<String> usedBy = users.containersUsing(id);
      if (!usedBy.isEmpty() && !force) {
        // dockerd's conflictSoft: a stopped container keeps the image unless forced (daemon/images/image_delete.go)
        String ctr = usedBy.get(0).substring(0, 12);
        if (f.ref() != null) {
          throw EngineException.conflict("conflict: unable to remove repository reference \"%s\" (must force) - "
              + "container %s is using its referenced image %s", name, ctr, id.substring(7, 19));
        }
        throw EngineException.conflict("conflict: unable to delete %s (must be forced) - image is being used by "
            + "stopped container %s", id.substring(7, 19), ctr);
      }
      if (f.ref() == null && refs.size() > 1 && !force) {
        throw EngineException.conflict("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories",
            id.substring(7, 19));
      }
      for (String r : refs) {
        Reference ref = Reference.parse(r);
        store.untag(r);
        events.publish("image", "untag", id, Map.of("name", ref.familiar()));
        items.add(ImageDeleteItem.untagged(ref.familiar()));
      }
      removeImage(id);
      items.add(ImageDeleteItem.deleted(id));
      if (!noPrune) {
        pruneParents(f.image().parent(), items);
      }
      gc();
      return items;
    } catch (IOException e) {
      throw EngineException.system("could not delete image " + id, e);
    }
  }

  /** Removes the untagged, unused parents a build left (its intermediate images), as dockerd does unless noprune. */
  private void pruneParents(String parentId, List<ImageDeleteItem> items) throws IOException {
    String p = parentId;
    while (p != null) {
      ImageRecord r = store.get(p);
      if (r == null || !store.refsOf(p).isEmpty() || !users.containersUsing(p).isEmpty() || !childrenOf(p).isEmpty()
          || r.repoDigests() != null && !r.repoDigests().isEmpty()) {
        return;
      }
      removeImage(p);
      items.add(ImageDeleteItem.deleted(p));
      p = r.parent();
    }
  }

  void removeImage(String id) throws IOException {
    store.remove(id);
    configs.remove(id);
    events.publish("image", "delete", id, Map.of("name", id));
  }

  @Override
  public synchronized ImagePruneReport prune(Filters f) {
    f.validate(Set.of("dangling", "until", "label", "label!"));
    boolean danglingOnly = true;
    for (String v : f.get("dangling")) {
      if (v.equalsIgnoreCase("false") || v.equals("0")) {
        danglingOnly = false;
      } else if (!(v.equalsIgnoreCase("true") || v.equals("1"))) {
        throw EngineException.invalid("Invalid filter 'dangling=%s'", v);
      }
    }
    long until = Long.MAX_VALUE;
    for (String u : f.get("until")) {
      until = Math.min(until, Filters.untilNano(u));
    }
    List<ImageDeleteItem> items = new ArrayList<>();
    Set<String> diffsBefore = new HashSet<>();
    store.all().forEach(r -> r.layers().forEach(l -> diffsBefore.add(l.diffId())));
    Map<String, Long> sizes = new HashMap<>();
    diffsBefore.forEach(d -> sizes.put(d, layerSize(d)));
    try {
      for (ImageRecord r : store.all()) {
        if (store.get(r.id()) == null) {
          continue; // already gone with a child below
        }
        JsonNode cfg = config(r);
        List<String> refs = store.refsOf(r.id());
        if (danglingOnly && !refs.isEmpty() || !users.containersUsing(r.id()).isEmpty()) {
          continue;
        }
        if (danglingOnly && !childrenOf(r.id()).isEmpty()) {
          continue; // a build's intermediate image under a tagged one is its cache, not dangling (dockerd's topImages)
        }
        if (ImageConfigs.createdNano(cfg) > until) {
          continue;
        }
        Map<String, String> labels = ImageConfigs.labels(cfg);
        if (!f.matchLabels("label", labels) || (f.has("label!") && !notLabels(f, labels))) {
          continue;
        }
        for (String ref : refs) {
          store.untag(ref);
          String fam = Reference.parse(ref).familiar();
          events.publish("image", "untag", r.id(), Map.of("name", fam));
          items.add(ImageDeleteItem.untagged(fam));
        }
        removeImage(r.id());
        items.add(ImageDeleteItem.deleted(r.id()));
        pruneParents(r.parent(), items);
      }
      gc();
    } catch (IOException e) {
      throw EngineException.system("could not prune images", e);
    }
    Set<String> diffsAfter = new HashSet<>();
    store.all().forEach(r -> r.layers().forEach(l -> diffsAfter.add(l.diffId())));
    long reclaimed = 0;
    for (String d : diffsBefore) {
      if (!diffsAfter.contains(d)) {
        reclaimed += sizes.get(d);
      }
    }
    events.publish("image", "prune", "", Map.of("reclaimed", Long.toString(reclaimed)));
    return new ImagePruneReport(items.isEmpty() ? null : items, reclaimed);
  }

  // ---- ingest bracketing and garbage collection -------------------------------------------------

  /**
   * Marks the start of a load or import. While any is running, GC removes nothing, since blobs and
   * layers it has written are not referenced by an image yet; the last one to finish collects.
   */
  synchronized void beginIngest() {
    ingesting++;
  }

  /** Marks the end of a load or import (successful or not) and collects what is left unreferenced. */
  synchronized void endIngest() {
    ingesting--;
    gc();
  }

  /** Deletes every blob and layer that no image refers to, unless a load or import is running. */
  public synchronized void gc() {
    if (ingesting > 0) {
      return;
    }
    Set<String> keep = new HashSet<>(users.diffIdsInUse());
    for (ImageRecord r : store.all()) {
      keep.add(r.id());
      if (r.manifestDigest() != null) {
        keep.add(r.manifestDigest());
      }
      for (ImageRecord.LayerRef l : r.layers()) {
        keep.add(l.digest());
        keep.add(l.diffId());
      }
    }
    try {
      for (Digest d : content.list()) {
        if (!keep.contains(d.toString())) {
          content.delete(d);
        }
      }
      for (Digest d : layers.list()) {
        if (!keep.contains(d.toString())) {
          layers.delete(d);
          layerSizes.remove(d.toString());
        }
      }
    } catch (IOException e) {
      LOG.log(Level.WARNING, "image garbage collection failed", e);
    }
  }

  /** The sum of the sizes of all unpacked layers (for /system/df). */
  public long layersSize() {
    Set<String> seen = new HashSet<>();
    long total = 0;
    for (ImageRecord r : store.all()) {
      for (ImageRecord.LayerRef l : r.layers()) {
        if (seen.add(l.diffId())) {
          total += layerSize(l.diffId());
        }
      }
    }
    return total;
  }

  public int count() {
    return store.all().size();
  }

  // ---- commit: a writable layer (or nothing) on top of an image becomes a new image --------------------

  /**
   * What {@link #commit} makes: an image on top of {@code parentId} (null for none: FROM scratch) whose layers are
   * the parent's plus, when writable layer {@code writableKey} changed anything, one layer of those changes; whose
   * {@code config} object is {@code config}; whose history is the parent's plus one entry ({@code createdBy},
   * {@code comment}, {@code empty_layer} when no layer was added). {@code containerConfig}, when not null, is
   * stored as the config's {@code container_config} (the classic builder's cache key). {@code recordParent} makes
   * the parent link of the record (intermediate build images; {@code docker commit} leaves it empty).
   */
  public record StepSpec(String parentId, String writableKey, JsonNode config, JsonNode containerConfig,
      String createdBy, String comment, String author, boolean recordParent) {}

  /**
   * Makes an image from a build step's writable layer and a config. Returns the new image's ID; the image is
   * registered untagged and, with {@code recordParent}, held in the {@link #buildCache()} (the caller releases it).
   * The writable layer is left as it is (the caller removes it). The same {@link Committer} path as
   * {@link #commit(CommitSpec, LayerSource)}, with the layer written by {@link LayerStore#writeChanges}.
   */
  public String commitStep(StepSpec spec) throws IOException {
    return new Committer(this).step(spec);
  }

  /** The IDs of images whose parent link is {@code parentId} (null: images without a parent). */
  public List<String> childrenOf(String parentId) {
    List<String> out = new ArrayList<>();
    for (ImageRecord r : store.all()) {
      if (java.util.Objects.equals(r.parent(), parentId)) {
        out.add(r.id());
      }
    }
    return out;
  }

  /** Points a reference (as the user typed it; ":latest" added when there is no tag) at an image. */
  public void tagImage(String id, String name) throws IOException {
    Reference ref = Reference.parse(name);
    if (ref.digest() != null) {
      throw EngineException.invalid("refusing to create a tag with a digest reference");
    }
    tagInternal(ref.withDefaultTag(), id);
  }

  /** The familiar form of a reference with its default tag ("x" → "x:latest"); INVALID_PARAMETER if malformed. */
  public static String familiarTagged(String name) {
    Reference ref = Reference.parse(name);
    if (ref.digest() != null) {
      throw EngineException.invalid("invalid reference format: %s", name);
    }
    return ref.withDefaultTag().familiar();
  }

  // ---- load, save, import (delegated) -----------------------------------------------------------

  @Override
  public void load(InputStream tar, boolean quiet, JsonStream out) throws IOException {
    new ArchiveLoader(this).load(tar, quiet, out);
  }

  @Override
  public List<String> resolveForSave(List<String> names) {
    List<String> ids = new ArrayList<>();
    for (String n : names) {
      ids.add(find(n).image().id());
    }
    return ids;
  }

  @Override
  public void save(List<String> names, OutputStream out) throws IOException {
    new ArchiveWriter(this).write(names, out);
    for (String id : resolveForSave(names)) {
      events.publish("image", "save", id, Map.of("name", id));
    }
  }

  @Override
  public String importImage(InputStream tar, String repo, String tag, String message, List<String> changes,
      String platform, JsonStream out) throws IOException {
    return new Importer(this).importImage(tar, repo, tag, message, changes, platform, out);
  }

  @Override
  public void pull(String fromImage, String tag, String platform, String registryAuth, JsonStream out)
      throws IOException {
    Reference ref = Reference.parse(fromImage);
    if ((tag == null || tag.isEmpty()) && ref.tag() == null && ref.digest() == null) {
      // The CLI sends no tag only for --all-tags (it adds "latest" itself otherwise).
      new Puller(this, registry, maxDownloads).pullAllTags(ref, Platform.parse(platform),
          AuthConfig.fromHeader(registryAuth), out);
      return;
    }
    if (tag != null && !tag.isEmpty()) {
      if (ref.tag() != null || ref.digest() != null) {
        throw EngineException.invalid("invalid reference format: both a tag in the image name and a tag parameter");
      }
      ref = tag.startsWith("sha256:") ? Reference.parse(fromImage + "@" + tag) : Reference.parse(fromImage + ":" + tag);
    }
    ref = ref.withDefaultTag();
    if (ref.tag() != null && ref.digest() != null) {
      ref = ref.withDigest(ref.digest()); // name:tag@digest pulls by digest, as dockerd does
    }
    new Puller(this, registry, maxDownloads).pull(ref, Platform.parse(platform), AuthConfig.fromHeader(registryAuth), out);
  }

  /**
   * Pulls an image a build needs (its name as FROM or COPY --from gives it; "latest" when untagged) for
   * {@code platform} (null: the engine's), with the credentials the build's {@code X-Registry-Config} header
   * holds for the image's registry, progress to {@code out}; returns it as {@link #resolve} does.
   */
  public Resolved pullForBuild(String name, String platform, String registryConfig, JsonStream out)
      throws IOException {
    Reference ref = Reference.parse(name).withDefaultTag();
    if (ref.tag() != null && ref.digest() != null) {
      ref = ref.withDigest(ref.digest());
    }
    new Puller(this, registry, maxDownloads).pull(ref, Platform.parse(platform),
        AuthConfig.forDomain(registryConfig, ref.domain()), out);
    return resolve(ref.toString());
  }

  @Override
  public void push(String name, String tag, String registryAuth, JsonStream out) throws IOException {
    Reference ref = Reference.parse(name);
    if (ref.digest() != null) {
      throw EngineException.invalid("cannot push a digest reference");
    }
    String t = tag != null && !tag.isEmpty() ? tag : ref.tag();
    new Pusher(this, registry, maxUploads).push(new Reference(ref.domain(), ref.path(), null, null), t,
        AuthConfig.fromHeader(registryAuth), out);
  }

  @Override
  public void login(byte[] authConfig) {
    registry.login(AuthConfig.fromJson(authConfig));
  }

  /**
   * Registers a pulled or pushed image: a new record is stored as it is, a known one keeps its layers and
   * manifest and gains the repo digest (replacing an older digest of the same repository, as dockerd keeps one
   * per repository); then the references are pointed at it. Under the service lock, like {@link #register}.
   */
  synchronized void registerPulled(ImageRecord r, List<Reference> refs, String repoDigest, String action)
      throws IOException {
    ImageRecord old = store.get(r.id());
    if (old == null) {
      store.put(r);
    } else {
      addRepoDigest(old, repoDigest);
    }
    for (Reference ref : refs) {
      tagInternal(ref, r.id());
    }
    if (action != null) {
      events.publish("image", action, r.id(), Map.of("name", refs.isEmpty()
          ? Reference.parse(repoDigest).familiar() : refs.get(0).familiar()));
    }
  }

  private void addRepoDigest(ImageRecord old, String repoDigest) throws IOException {
    String repo = repoDigest.substring(0, repoDigest.indexOf('@') + 1);
    List<String> digests = new ArrayList<>(old.repoDigests() == null ? List.of() : old.repoDigests());
    if (digests.contains(repoDigest)) {
      return;
    }
    digests.removeIf(d -> d.startsWith(repo));
    digests.add(repoDigest);
    store.put(new ImageRecord(old.id(), old.manifestDigest(), old.manifestMediaType(), old.layers(), digests,
        old.parent(), old.addedNano(), old.lastTagTime()));
  }

  /**
   * What {@code docker commit} makes an image from: the container's image (the parent), the request's config and
   * the container's (image-config keys in PascalCase; the request's, with the Dockerfile-style changes applied,
   * wins), and the history line.
   */
  public record CommitSpec(String containerId, String parentImageId,
      com.fasterxml.jackson.databind.node.ObjectNode requested,
      com.fasterxml.jackson.databind.node.ObjectNode containerConfig, List<String> changes, String repo, String tag,
      String comment, String author, String createdBy) {}

  /** Writes a layer tar (uncompressed); does not close the stream. */
  public interface LayerSource {
    void write(OutputStream out) throws IOException;
  }

  /**
   * Makes and registers an image of the parent's layers plus the layer {@code layer} writes (none if it is
   * empty) and tags it; returns its ID. NOT_FOUND if the parent image is gone, INVALID_PARAMETER for a bad
   * reference or change. Nothing is left behind on failure (the blob and layer are collected).
   */
  public String commit(CommitSpec spec, LayerSource layer) throws IOException {
    return new Committer(this).commit(spec, layer);
  }

  /**
   * Registers a validated image: stores its record and points its references at it, all under the
   * service lock so that GC never sees a half-registered image.
   */
  synchronized void register(ImageRecord r, List<Reference> refs, String action) throws IOException {
    boolean existed = store.get(r.id()) != null;
    if (!existed) {
      store.put(r);
    }
    for (Reference ref : refs) {
      tagInternal(ref, r.id());
    }
    if (action != null) { // a commit's event is the container's
      String name = refs.isEmpty() ? r.id() : refs.get(0).familiar();
      events.publish("image", action, r.id(), Map.of("name", name));
    }
  }
}
