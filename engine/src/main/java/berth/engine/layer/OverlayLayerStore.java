package berth.engine.layer;

import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.store.Trees;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

/**
 * A {@link LayerStore} of overlayfs lower dirs: {@code <root>/<diffid-hex>/diff/} holds the files
 * and {@code <root>/<diffid-hex>/size} the unpacked size. Layers are built in
 * {@code <root>/tmp/<random>} and renamed into place, so a layer directory is always complete.
 * Thread-safe.
 */
public final class OverlayLayerStore implements LayerStore {
  private static final String DIFF = "diff";
  private static final String SIZE = "size";

  private static final String WORK = "work";
  private static final String RW = "rw";
  private static final String EMPTY = "empty";
  /** mount(2) copies at most one page of option data. */
  private static final int MAX_MOUNT_DATA = 4095;
  private static final java.util.regex.Pattern KEY = java.util.regex.Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}");

  private final Path root;
  private final Path tmp;

  /** Opens (creating if needed) the store at {@code root} and removes temp dirs a crash left behind. */
  public OverlayLayerStore(Path root) throws IOException {
    this.root = root;
    this.tmp = root.resolve("tmp");
    Files.createDirectories(tmp);
    try (DirectoryStream<Path> stale = Files.newDirectoryStream(tmp)) {
      for (Path p : stale) {
        Trees.delete(p);
      }
    }
  }

  @Override
  public UnpackedLayer unpack(InputStream blob) throws IOException {
    Path work = tmp.resolve(UUID.randomUUID().toString());
    Files.createDirectory(work);
    boolean published = false;
    try {
      Path diff = work.resolve(DIFF);
      Files.createDirectory(diff);
      TarUnpacker.Result r = new TarUnpacker(diff).unpack(blob);
      Path dest = layerDir(r.diffId());
      if (Files.isDirectory(dest)) {
        return new UnpackedLayer(r.diffId(), size(r.diffId()));
      }
      Files.writeString(work.resolve(SIZE), Long.toString(r.size()), StandardCharsets.US_ASCII);
      try {
        Files.move(work, dest, StandardCopyOption.ATOMIC_MOVE);
        published = true;
      } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
        // A concurrent unpack of the same layer won; its copy is identical.
        return new UnpackedLayer(r.diffId(), size(r.diffId()));
      }
      fsyncDir(root);
      return new UnpackedLayer(r.diffId(), r.size());
    } finally {
      if (!published) {
        Trees.delete(work);
      }
    }
  }

  @Override
  public boolean exists(Digest diffId) {
    return Files.isDirectory(layerDir(diffId).resolve(DIFF), LinkOption.NOFOLLOW_LINKS);
  }

  @Override
  public Path diffDir(Digest diffId) {
    return layerDir(diffId).resolve(DIFF);
  }

  @Override
  public long size(Digest diffId) throws IOException {
    try {
      return Long.parseLong(
          Files.readString(layerDir(diffId).resolve(SIZE), StandardCharsets.US_ASCII).trim());
    } catch (NoSuchFileException e) {
      throw notFound(diffId);
    }
  }

  @Override
  public void delete(Digest diffId) throws IOException {
    // Move it out of sight first so a crash midway never leaves a half-deleted layer listed.
    Path doomed = tmp.resolve(UUID.randomUUID().toString());
    try {
      Files.move(layerDir(diffId), doomed, StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException e) {
      return;
    }
    Trees.delete(doomed);
  }

  @Override
  public List<Digest> list() throws IOException {
    List<Digest> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        if (Digest.isValidHex(name) && Files.isDirectory(p.resolve(DIFF))) {
          out.add(Digest.ofHex(name));
        }
      }
    }
    Collections.sort(out);
    return out;
  }

  @Override
  public MountSpec prepare(String key, List<Digest> diffIds) throws IOException {
    Path dir = writableRoot(key);
    List<String> lower = new ArrayList<>();
    for (int i = diffIds.size() - 1; i >= 0; i--) { // overlay lists the topmost lower dir first
      Digest d = diffIds.get(i);
      if (!exists(d)) {
        throw notFound(d);
      }
      lower.add(diffDir(d).toString());
    }
    if (lower.isEmpty()) {
      // overlay needs one lower dir: a FROM-scratch image has none
      lower.add(Files.createDirectories(root.resolve(EMPTY)).toString());
    }
    Files.createDirectories(dir.resolve(DIFF));
    Files.createDirectories(dir.resolve(WORK));
    MountSpec spec = new MountSpec("overlay", "overlay", List.of("lowerdir=" + String.join(":", lower),
        "upperdir=" + dir.resolve(DIFF), "workdir=" + dir.resolve(WORK)));
    if (spec.data().length() > MAX_MOUNT_DATA) {
      throw EngineException.invalid("too many layers for one overlay mount: %d layers, %d bytes of mount options",
          diffIds.size(), spec.data().length());
    }
    return spec;
  }

  @Override
  public Path writableDir(String key) {
    return writableRoot(key).resolve(DIFF);
  }

  @Override
  public void removeWritable(String key) throws IOException {
    Path doomed = tmp.resolve(UUID.randomUUID().toString());
    try {
      Files.move(writableRoot(key), doomed, StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException e) {
      return;
    }
    Trees.delete(doomed);
  }

  /** Files runc creates as bind-mount targets in a container's root: not the container's own changes. */
  private static final List<String> RUNTIME_MOUNT_POINTS = List.of("etc/hosts", "etc/hostname", "etc/resolv.conf");

  @Override
  public boolean writeChanges(String key, List<Digest> diffIds, OutputStream out) throws IOException {
    Path upper = writableDir(key);
    if (!Files.isDirectory(upper)) {
      throw EngineException.notFound("writable layer %s does not exist", key);
    }
    for (String m : RUNTIME_MOUNT_POINTS) {
      Path p = upper.resolve(m);
      if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && Files.size(p) == 0 && lowerPath(diffIds, m) == null) {
        Files.delete(p);
        pruneCopiedUpParent(upper, p.getParent(), diffIds);
      }
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(upper)) {
      if (!ds.iterator().hasNext()) {
        return false;
      }
    }
    new TarWriter(upper, out).write();
    return true;
  }

  /**
   * Removes a directory of the upper dir that is empty, not opaque, and only a copy-up of the same directory
   * below (same mode and owner): it was made by creating a mount point in it, not by the container.
   */
  private void pruneCopiedUpParent(Path upper, Path dir, List<Digest> diffIds) throws IOException {
    while (dir != null && dir.startsWith(upper) && !dir.equals(upper)) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        if (ds.iterator().hasNext()) {
          return;
        }
      }
      if (berth.engine.sys.Posix.lgetxattr(dir, "trusted.overlay.opaque") != null) {
        return;
      }
      Path lower = lowerPath(diffIds, upper.relativize(dir).toString());
      if (lower == null || !sameOwnerAndMode(dir, lower)) {
        return;
      }
      Files.delete(dir);
      dir = dir.getParent();
    }
  }

  private static boolean sameOwnerAndMode(Path a, Path b) throws IOException {
    var x = Files.readAttributes(a, "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
    var y = Files.readAttributes(b, "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
    return x.equals(y);
  }

  /** The topmost lower layer's copy of a relative path, or null (whiteouts are not looked at: good enough here). */
  private Path lowerPath(List<Digest> diffIds, String rel) {
    for (int i = diffIds.size() - 1; i >= 0; i--) {
      Path p = diffDir(diffIds.get(i)).resolve(rel);
      if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        return p;
      }
    }
    return null;
  }

  @Override
  public List<String> writableKeys() throws IOException {
    List<String> out = new ArrayList<>();
    if (!Files.isDirectory(root.resolve(RW))) {
      return out;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve(RW))) {
      ds.forEach(p -> out.add(p.getFileName().toString()));
    }
    Collections.sort(out);
    return out;
  }

  @Override
  public void writeWritableTar(String key, java.util.function.BiPredicate<String, Path> skip, OutputStream out)
      throws IOException {
    Path upper = writableDir(key);
    if (!Files.isDirectory(upper)) {
      throw EngineException.notFound("writable layer %s does not exist", key);
    }
    new TarWriter(upper, out, skip).write();
  }

  private Path writableRoot(String key) {
    if (!KEY.matcher(key).matches()) {
      throw EngineException.invalid("invalid writable layer key: %s", key);
    }
    return root.resolve(RW).resolve(key);
  }

  @Override
  public void writeTar(Digest diffId, OutputStream out) throws IOException {
    if (!exists(diffId)) {
      throw notFound(diffId);
    }
    new TarWriter(diffDir(diffId), out).write();
  }

  private Path layerDir(Digest diffId) {
    return root.resolve(diffId.hex());
  }

  private static EngineException notFound(Digest diffId) {
    return EngineException.notFound("layer %s does not exist", diffId);
  }

  private static void fsyncDir(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

}
