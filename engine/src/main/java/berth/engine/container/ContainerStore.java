package berth.engine.container;

import berth.engine.api.http.ApiJson;
import berth.engine.store.AtomicFiles;
import berth.engine.store.Trees;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Container records under {@code containers/<id>/config.v2.json}, kept in memory with a name index and
 * written atomically on every change. Thread-safe.
 */
public final class ContainerStore {
  private static final Logger LOG = Logger.getLogger(ContainerStore.class.getName());
  static final String CONFIG = "config.v2.json";
  private final Path dir;
  private final Map<String, Container> byId = new HashMap<>();
  private final Map<String, String> byName = new HashMap<>();

  public ContainerStore(Path dir) throws IOException {
    this.dir = dir;
    Files.createDirectories(dir);
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        Path f = p.resolve(CONFIG);
        if (!Files.exists(f)) {
          continue;
        }
        try {
          Container c = ApiJson.MAPPER.readValue(f.toFile(), Container.class);
          byId.put(c.id(), c);
          byName.put(c.name(), c.id());
        } catch (IOException e) {
          LOG.warning("ignoring unreadable container record " + f + ": " + e.getMessage());
        }
      }
    }
  }

  public synchronized Container get(String id) {
    return byId.get(id);
  }

  public synchronized List<Container> all() {
    return new ArrayList<>(byId.values());
  }

  /** The ID of the container with this name (no leading "/"), or null. */
  public synchronized String idOfName(String name) {
    return byName.get(name);
  }

  /** Container IDs starting with the prefix. */
  public synchronized List<String> byPrefix(String prefix) {
    return byId.keySet().stream().filter(id -> id.startsWith(prefix)).toList();
  }

  /**
   * Adds a new container, failing with the holder's ID (in the returned value) when its name is taken.
   * Returns null on success.
   */
  public synchronized String add(Container c) throws IOException {
    String holder = byName.get(c.name());
    if (holder != null) {
      return holder;
    }
    write(c);
    byId.put(c.id(), c);
    byName.put(c.name(), c.id());
    return null;
  }

  /**
   * Replaces a container's record, re-indexing its name; returns the holder's ID if the new name is taken.
   * A record removed meanwhile stays removed (a late writer must not bring it back).
   */
  public synchronized String update(Container c) throws IOException {
    Container old = byId.get(c.id());
    if (old == null) {
      return null;
    }
    String holder = byName.get(c.name());
    if (holder != null && !holder.equals(c.id())) {
      return holder;
    }
    write(c);
    if (old != null) {
      byName.remove(old.name());
    }
    byId.put(c.id(), c);
    byName.put(c.name(), c.id());
    return null;
  }

  public synchronized void remove(String id) throws IOException {
    Container c = byId.remove(id);
    if (c != null) {
      byName.remove(c.name());
    }
    Trees.delete(dir.resolve(id));
  }

  private void write(Container c) throws IOException {
    AtomicFiles.write(dir.resolve(c.id()).resolve(CONFIG), ApiJson.MAPPER.writeValueAsBytes(c));
  }
}
