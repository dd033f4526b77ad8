package berth.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.types.BuildCachePruneReport;
import berth.engine.api.types.BuildCacheRecord;
import berth.engine.api.types.Filters;
import berth.engine.content.Digest;
import berth.engine.content.LocalContentStore;
import berth.engine.errdefs.EngineException;
import berth.engine.events.EventBus;
import berth.engine.layer.OverlayLayerStore;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The build cache over a real image service on a temporary data root (no mounts: step layers are written straight
 * into writable layers' upper dirs): what counts as an entry, its size and sharing, and what prune removes, keeps
 * and detaches.
 */
class BuildCacheTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir
  Path dir;
  private ImageService images;
  private OverlayLayerStore layers;
  private String base;
  private String step1;
  private String step2;
  private String app;
  private String leftover;

  @BeforeEach
  void setUp() throws IOException {
    layers = new OverlayLayerStore(dir.resolve("layers"));
    images = new ImageService(new LocalContentStore(dir.resolve("content")), layers,
        new ImageStore(dir.resolve("images")), new EventBus());
    base = commit(null, Map.of("base.txt", 100), null, false);
    images.tagImage(base, "base:1");
    step1 = commit(base, Map.of("a", 1000), "RUN make a", true);
    step2 = commit(step1, Map.of(), "ENV X=1", true);
    app = commit(step2, Map.of("b", 2000), "COPY b /b", true);
    images.tagImage(app, "app:1");
    leftover = commit(base, Map.of("x", 500), "RUN make x", true); // a failed build's last step
  }

  /** A step on {@code parent} adding files of the given sizes (none: a metadata step), released as a build does. */
  private String commit(String parent, Map<String, Integer> files, String instruction, boolean step)
      throws IOException {
    String key = null;
    if (!files.isEmpty()) {
      key = "build-" + UUID.randomUUID().toString().replace("-", "");
      layers.prepare(key, parent == null ? List.of()
          : images.resolve(parent).diffIds().stream().map(Digest::parse).toList());
      for (Map.Entry<String, Integer> f : files.entrySet()) {
        Files.write(layers.writableDir(key).resolve(f.getKey()), new byte[f.getValue()]);
      }
    }
    ObjectNode cc = JSON.createObjectNode();
    if (instruction != null) {
      cc.putArray("Cmd").add("/bin/sh").add("-c").add(instruction);
    }
    try {
      String id = images.commitStep(new ImageService.StepSpec(parent, key, JSON.createObjectNode(),
          step ? cc : null, instruction, null, null, step));
      if (step) {
        images.buildCache().release(id);
      }
      return id;
    } finally {
      if (key != null) {
        layers.removeWritable(key);
      }
    }
  }

  private Map<String, BuildCacheRecord> usage() {
    return images.buildCache().usage().stream().collect(Collectors.toMap(BuildCacheRecord::id, r -> r));
  }

  @Test
  void entriesAreTheUntaggedStepImagesWithTheirOwnLayersSizeAndSharing() {
    Map<String, BuildCacheRecord> u = usage();
    assertEquals(Set.of(step1, step2, leftover), u.keySet(), "tagged images and images without a parent are not cache");
    assertTrue(u.get(step1).shared(), "step1's layer is also app:1's");
    assertTrue(u.get(step1).size() >= 1000, "its own layer: " + u.get(step1).size());
    assertEquals(0, u.get(step2).size(), "a metadata step has no layer");
    assertFalse(u.get(leftover).shared());
    assertTrue(u.get(leftover).size() >= 500);
    assertEquals(step1, u.get(step2).parent());
    assertEquals("ENV X=1", u.get(step2).description());
    assertEquals(u.get(leftover).size(), BuildCache.size(images.buildCache().usage()),
        "df's size counts what is not shared with images");
  }

  @Test
  void pruneRemovesUnusedEntriesKeepsHeldOnesAndDetachesWhatPointedAtThem() throws IOException {
    assertTrue(images.buildCache().hold(step1));
    BuildCachePruneReport r = images.buildCache().prune(Filters.none(), false, 0);
    assertEquals(Set.of(step2, leftover), Set.copyOf(r.cachesDeleted()));
    assertTrue(r.spaceReclaimed() >= 500, "the leftover's layer is freed: " + r.spaceReclaimed());
    assertNull(images.store.get(app).parent(), "app:1 lost its link to the removed step");
    assertEquals(base, images.store.get(step1).parent(), "a held image is left alone");

    images.buildCache().release(step1);
    r = images.buildCache().prune(Filters.none(), true, 0);
    assertEquals(List.of(step1), r.cachesDeleted());
    assertEquals(0, r.spaceReclaimed(), "step1's layer is app:1's as well");
    assertEquals(List.of(), images.childrenOf(base), "nothing is left to take a step from the cache");
    assertEquals(app, images.resolve("app:1").id());
    for (String d : images.resolve("app:1").diffIds()) {
      assertTrue(layers.exists(Digest.parse(d)), "app:1 keeps every layer");
    }
    assertEquals(Map.of(), usage());
    assertNull(images.buildCache().prune(Filters.none(), false, 0).cachesDeleted());
  }

  @Test
  void aTaggedBuildResultStraightOnItsBaseIsDetachedToo() throws IOException {
    String one = commit(base, Map.of("c", 10), "RUN make c", true);
    images.tagImage(one, "one:1");
    images.buildCache().prune(Filters.none(), false, 0);
    assertNull(images.store.get(one).parent(), "no cache hit would find it under base:1 any more");
    assertEquals(base, images.resolve("base:1").id());
  }

  @Test
  void filtersAndKeepStorageLimitWhatGoes() throws IOException {
    BuildCachePruneReport none = images.buildCache().prune(
        Filters.parse("{\"until\":{\"2000-01-01T00:00:00Z\":true}}"), false, 0);
    assertNull(none.cachesDeleted(), "every entry is newer than the until time");
    assertEquals(step2, images.store.get(app).parent(), "and nothing was detached");

    BuildCachePruneReport some = images.buildCache().prune(
        Filters.parse("{\"description\":{\"make x\":true}}"), false, 0);
    assertEquals(List.of(leftover), some.cachesDeleted());

    String big = commit(base, Map.of("y", 50_000), "RUN make y", true);
    BuildCachePruneReport kept = images.buildCache().prune(Filters.none(), false, 60_000);
    assertNull(kept.cachesDeleted(), "all the unshared cache fits in keep-storage");
    assertEquals(Set.of(step1, step2, big), usage().keySet());

    EngineException bad = assertThrows(EngineException.class,
        () -> images.buildCache().prune(Filters.parse("{\"bogus\":{\"1\":true}}"), false, 0));
    assertEquals("invalid filter 'bogus'", bad.getMessage());
  }

  @Test
  void holdFailsForAnImageThatIsGone() throws IOException {
    images.buildCache().prune(Filters.none(), false, 0);
    assertFalse(images.buildCache().hold(leftover));
    assertTrue(images.buildCache().hold(app));
  }
}
