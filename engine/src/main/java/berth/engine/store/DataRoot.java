package berth.engine.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Every on-disk name under the engine's data root, in one place. */
public final class DataRoot {
  private final Path root;

  public DataRoot(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  /** The lock that keeps a second engine off this data root; holds the owner's pid. */
  public Path lockFile() {
    return root.resolve("engine.lock");
  }

  /** Content-addressed blobs: blobs/sha256/&lt;hex&gt; and interrupted ingests. */
  public Path content() {
    return root.resolve("content");
  }

  /** Unpacked layer diffs by diffID, usable as overlay lower dirs. */
  public Path layers() {
    return root.resolve("layers");
  }

  /** Image records (one JSON per image ID) and the reference → image table. */
  public Path images() {
    return root.resolve("image");
  }

  /** Container records: containers/&lt;id&gt;/config.v2.json. */
  public Path containers() {
    return root.resolve("containers");
  }

  /** Volumes of the local driver: volumes/&lt;name&gt;/{_data,volume.json}. */
  public Path volumes() {
    return root.resolve("volumes");
  }

  /** Scratch space for work in progress (loads, imports); cleaned on start. */
  public Path tmp() {
    return root.resolve("tmp");
  }

  /** Creates the directories; the root gets mode 0711 (others may traverse, not list), as dockerd's. */
  public void create() throws IOException {
    Files.createDirectories(root);
    Files.setPosixFilePermissions(root, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
    for (Path p : new Path[] {content(), layers(), images(), containers(), volumes(), tmp()}) {
      Files.createDirectories(p);
    }
  }
}
