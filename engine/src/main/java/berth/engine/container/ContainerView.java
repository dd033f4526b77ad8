package berth.engine.container;

import berth.engine.content.Digest;
import berth.engine.layer.LayerStore;
import berth.engine.layer.MountSpec;
import berth.engine.runtime.Mounts;
import berth.engine.store.Trees;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A container's file system as the container sees it, opened for one file operation: the merged root plus its
 * bind mounts. A running container's root is its bundle's {@code rootfs} mount and its bind mounts are those of
 * the bundle's {@code config.json}; a stopped one gets its overlay mounted at the same place for the duration and
 * the bind mounts it last ran with ({@code containers/<id>/mounts.json}, written at each start). Holds the
 * container's lock from open to close, so it cannot start, stop or be removed meanwhile, and keeps a running
 * container frozen (unless the user paused it already); must be closed on the thread that opened it.
 */
final class ContainerView implements Closeable {
  private static final Logger LOG = Logger.getLogger(ContainerView.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The bind mounts of the last start: the OCI mounts of type bind, as in the bundle. */
  static final String MOUNTS_FILE = "mounts.json";

  private final ReentrantLock lock;
  private final Path rootfs;
  private final Path runDir;
  private final boolean mountedHere;
  /** A running container's processes are frozen while the view is open (see {@link Supervisor#freeze}). */
  private final boolean frozen;
  private final Supervisor sup;
  private final List<RootResolver.Mount> mounts;
  private final Container container;

  private ContainerView(ReentrantLock lock, Supervisor sup, Container c, Path rootfs, Path runDir,
      boolean mountedHere, boolean frozen, List<RootResolver.Mount> mounts) {
    this.lock = lock;
    this.sup = sup;
    this.frozen = frozen;
    this.container = c;
    this.rootfs = rootfs;
    this.runDir = runDir;
    this.mountedHere = mountedHere;
    this.mounts = mounts;
  }

  /** Opens the file system of container {@code id}; NOT_FOUND if it is gone. */
  static ContainerView open(Supervisor sup, LayerStore layers, String id) throws IOException {
    ReentrantLock l = sup.lock(id);
    l.lock();
    try {
      Container c = sup.existing(id);
      Path dir = sup.runDir(id);
      Path rootfs = dir.resolve("rootfs");
      if (sup.run(id) != null) {
        List<RootResolver.Mount> mounts = readMounts(dir.resolve("config.json"));
        boolean freeze = !c.state().paused();
        if (freeze) {
          try {
            sup.freeze(id, true);
          } catch (IOException e) {
            freeze = false; // it is exiting (its exit waits for this lock): nothing left inside to race with
            LOG.fine("could not freeze " + id + ": " + e.getMessage());
          }
        }
        return new ContainerView(l, sup, c, rootfs, dir, false, freeze, mounts);
      }
      // A stopped container: mount its overlay where a start would (a crash meanwhile is cleaned up by restore,
      // which unmounts the rootfs of every run directory it finds).
      Trees.deleteFlat(dir);
      Files.createDirectories(dir);
      MountSpec m = layers.prepare(id, c.diffIds().stream().map(Digest::parse).toList());
      try {
        Mounts.mount(m, rootfs);
      } catch (IOException | RuntimeException e) {
        Trees.deleteFlat(dir);
        throw e;
      }
      return new ContainerView(l, sup, c, rootfs, dir, true, false,
          readMounts(sup.containerDir(id).resolve(MOUNTS_FILE)));
    } catch (IOException | RuntimeException e) {
      l.unlock();
      throw e;
    }
  }

  Container container() {
    return container;
  }

  /** The merged root on the host (the overlay mount). */
  Path rootfs() {
    return rootfs;
  }

  /** A resolver over the root and the bind mounts (for docker cp). */
  RootResolver resolver() {
    return new RootResolver(rootfs, mounts);
  }

  /** A resolver over the root alone (for docker export, which leaves volumes out as dockerd does). */
  RootResolver rootOnly() {
    return new RootResolver(rootfs, List.of());
  }

  /** The bind mounts of an OCI {@code config.json} or of a {@code mounts.json} list; none if the file is absent. */
  static List<RootResolver.Mount> readMounts(Path file) throws IOException {
    JsonNode n;
    try {
      n = JSON.readTree(file.toFile());
    } catch (java.io.FileNotFoundException | NoSuchFileException e) {
      return List.of();
    }
    JsonNode list = n.isArray() ? n : n.path("mounts");
    List<RootResolver.Mount> out = new ArrayList<>();
    for (JsonNode m : list) {
      if (!isBind(m)) {
        continue;
      }
      boolean ro = false;
      for (JsonNode o : m.path("options")) {
        ro |= o.asText().equals("ro");
      }
      out.add(new RootResolver.Mount(RootResolver.clean(m.path("destination").asText()),
          Path.of(m.path("source").asText()), ro));
    }
    return out;
  }

  /** OCI bind mounts: type "bind", or a "bind"/"rbind" option; the source is an absolute host path. */
  static boolean isBind(JsonNode m) {
    boolean bind = m.path("type").asText().equals("bind");
    for (JsonNode o : m.path("options")) {
      bind |= o.asText().equals("bind") || o.asText().equals("rbind");
    }
    return bind && m.path("source").asText().startsWith("/") && m.path("destination").asText().startsWith("/");
  }

  @Override
  public void close() {
    try {
      if (frozen) {
        try {
          sup.freeze(container.id(), false);
        } catch (IOException e) {
          LOG.log(Level.WARNING, "could not thaw " + container.id() + " after a file operation", e);
        }
      }
      if (mountedHere) {
        try {
          Mounts.unmount(rootfs);
          Trees.deleteFlat(runDir); // not recursive: a rootfs still mounted fails here
        } catch (IOException e) {
          LOG.log(Level.WARNING, "could not unmount the root filesystem of " + container.id(), e);
        }
      }
    } finally {
      lock.unlock();
    }
  }
}
