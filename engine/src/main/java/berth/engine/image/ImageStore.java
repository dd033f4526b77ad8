package berth.engine.image;

import berth.engine.store.AtomicFiles;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.logging.Logger;

/**
 * Image records ({@code images/<hex>.json}) and the reference table ({@code repositories.json}: full
 * reference → image ID), kept in memory and written atomically on every change. Thread-safe.
 */
public final class ImageStore {
  private static final Logger LOG = Logger.getLogger(ImageStore.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path dir;
  private final Map<String, ImageRecord> images = new HashMap<>();
  private final TreeMap<String, String> refs = new TreeMap<>();
  /** The builder's cache hits on an image: when it was last taken from the cache, and how often. */
  private final Map<String, CacheUse> uses = new HashMap<>();

  /** One image's cache hits (cache-uses.json). */
  public record CacheUse(@JsonProperty("LastUsedAt") String lastUsedAt, @JsonProperty("Hits") long hits) {}

  public ImageStore(Path dir) throws IOException {
    this.dir = dir;
    Files.createDirectories(dir.resolve("images"));
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.resolve("images"), "*.json")) {
      for (Path p : ds) {
        try {
          ImageRecord r = JSON.readValue(p.toFile(), ImageRecord.class);
          images.put(r.id(), r);
        } catch (IOException e) {
          LOG.warning("ignoring unreadable image record " + p + ": " + e.getMessage());
        }
      }
    }
    Path usesFile = dir.resolve("cache-uses.json");
    if (Files.exists(usesFile)) {
      try {
        Map<String, CacheUse> m = JSON.readValue(usesFile.toFile(), new TypeReference<Map<String, CacheUse>>() {});
        m.forEach((id, u) -> {
          if (images.containsKey(id)) {
            uses.put(id, u);
          }
        });
      } catch (IOException e) {
        LOG.warning("ignoring unreadable build cache uses " + usesFile + ": " + e.getMessage());
      }
    }
    Path repos = dir.resolve("repositories.json");
    if (Files.exists(repos)) {
      Map<String, String> m = JSON.readValue(repos.toFile(), new TypeReference<Map<String, String>>() {});
      m.forEach((ref, id) -> {
        if (images.containsKey(id)) {
          refs.put(ref, id);
        }
      });
    }
  }

  public synchronized ImageRecord get(String id) {
    return images.get(id);
  }

  public synchronized List<ImageRecord> all() {
    return new ArrayList<>(images.values());
  }

  /** Adds or replaces an image record. */
  public synchronized void put(ImageRecord r) throws IOException {
    AtomicFiles.write(recordPath(r.id()), JSON.writeValueAsBytes(r));
    images.put(r.id(), r);
  }

  /** Counts a build step taken from the cache: {@code id} was used at {@code when} (RFC 3339). */
  public synchronized void recordCacheUse(String id, String when) throws IOException {
    if (images.containsKey(id)) {
      CacheUse before = uses.get(id);
      uses.put(id, new CacheUse(when, before == null ? 1 : before.hits() + 1));
      saveUses();
    }
  }

  /** The cache hits on {@code id}, or null when it was never taken from the cache. */
  public synchronized CacheUse cacheUse(String id) {
    return uses.get(id);
  }

  /** Removes an image record and every reference to it. */
  public synchronized void remove(String id) throws IOException {
    if (uses.remove(id) != null) {
      saveUses();
    }
    boolean changed = refs.values().removeIf(id::equals);
    if (changed) {
      saveRefs();
    }
    Files.deleteIfExists(recordPath(id));
    images.remove(id);
  }

  /** The image ID a full reference points at, or null. */
  public synchronized String resolve(String fullRef) {
    return refs.get(fullRef);
  }

  /** Points a reference at an image; returns the image it pointed at before (or null). */
  public synchronized String tag(String fullRef, String id) throws IOException {
    String old = refs.put(fullRef, id);
    if (!id.equals(old)) {
      saveRefs();
    }
    return old;
  }

  /** Removes a reference; returns the image it pointed at, or null. */
  public synchronized String untag(String fullRef) throws IOException {
    String old = refs.remove(fullRef);
    if (old != null) {
      saveRefs();
    }
    return old;
  }

  /** The references of an image, sorted. */
  public synchronized List<String> refsOf(String id) {
    List<String> out = new ArrayList<>();
    refs.forEach((r, i) -> {
      if (i.equals(id)) {
        out.add(r);
      }
    });
    return out;
  }

  /** Every image's references, sorted, in one pass (for listings). */
  public synchronized Map<String, List<String>> refsById() {
    Map<String, List<String>> out = new HashMap<>();
    refs.forEach((r, i) -> out.computeIfAbsent(i, k -> new ArrayList<>()).add(r));
    return out;
  }

  /** Image IDs whose hex starts with the given prefix. */
  public synchronized List<String> byPrefix(String hexPrefix) {
    List<String> out = new ArrayList<>();
    for (String id : images.keySet()) {
      if (id.startsWith("sha256:" + hexPrefix)) {
        out.add(id);
      }
    }
    return out;
  }

  private Path recordPath(String id) {
    return dir.resolve("images").resolve(id.substring(id.indexOf(':') + 1) + ".json");
  }

  private void saveUses() throws IOException {
    AtomicFiles.writeLossy(dir.resolve("cache-uses.json"), JSON.writeValueAsBytes(uses));
  }

  private void saveRefs() throws IOException {
    AtomicFiles.write(dir.resolve("repositories.json"), JSON.writeValueAsBytes(refs));
  }
}
