package berth.engine.layer;

import berth.engine.content.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;

/**
 * Unpacked image layers, each a directory usable as an overlayfs lower dir, keyed by diffID.
 * Implementations are thread-safe; a layer is immutable once it exists.
 */
public interface LayerStore {
  /**
   * Reads a layer blob to its end (uncompressed tar, gzip or zstd, told apart by magic bytes) and
   * unpacks it into a new diff directory. The diffID is the sha256 of every byte of the
   * uncompressed stream. Idempotent: if a layer with that diffID exists, the new copy is discarded
   * and the existing one kept. The layer appears only once the whole stream succeeded; on any
   * failure nothing is left behind. Does not close {@code blob}.
   *
   * @throws berth.engine.errdefs.EngineException INVALID_PARAMETER for a malformed or hostile
   *     archive, with a message saying what is wrong
   * @throws IOException for I/O failures, such as a full disk or a failing {@code blob}
   */
  UnpackedLayer unpack(InputStream blob) throws IOException;

  /** Whether a layer with this diffID exists. */
  boolean exists(Digest diffId);

  /** The directory holding the layer's files, usable as an overlay lowerdir; it may not exist. */
  Path diffDir(Digest diffId);

  /** The unpacked size of a layer in bytes; NOT_FOUND if there is none. */
  long size(Digest diffId) throws IOException;

  /** Removes a layer; no error if it is absent. The caller makes sure no mount uses it. */
  void delete(Digest diffId) throws IOException;

  /** The diffIDs of all layers, sorted. */
  List<Digest> list() throws IOException;

  /**
   * Writes the layer as an uncompressed PAX tar, overlay whiteouts turned back into {@code .wh.}
   * entries, in sorted order; NOT_FOUND if there is no such layer. Does not close {@code out}.
   */
  void writeTar(Digest diffId, OutputStream out) throws IOException;

  /**
   * Creates the writable layer {@code key} over the given diffs (bottom first) and returns the
   * overlay mount that shows them with the writable layer on top. Idempotent: preparing an existing
   * key returns the same writable directory with its content kept. NOT_FOUND if a diff is absent;
   * INVALID_PARAMETER for a key that is not [A-Za-z0-9_.-] (1–128, not starting with '.') or when the
   * mount options would exceed what one overlay mount takes.
   */
  MountSpec prepare(String key, List<Digest> diffIds) throws IOException;

  /** The upper directory of a writable layer: what the container changed. */
  Path writableDir(String key);

  /** Removes a writable layer, which must not be mounted; no error if absent. */
  void removeWritable(String key) throws IOException;

  /**
   * Writes writable layer {@code key}'s changes as a layer tar, like {@link #writeTar} ({@code docker commit});
   * entries {@code skip} picks (by "/path" and host path) are left out with what is under them. Does not close
   * {@code out}.
   */
  void writeWritableTar(String key, java.util.function.BiPredicate<String, Path> skip, OutputStream out)
      throws IOException;

  /**
   * Writes what writable layer {@code key} changed as a layer tar (overlay whiteouts as {@code .wh.} entries, as
   * {@link #writeTar}), leaving out the empty mount points the runtime creates for {@code /etc/hosts},
   * {@code /etc/hostname} and {@code /etc/resolv.conf} when the lower layers {@code diffIds} (bottom first) lack
   * them; returns false, having written nothing, when no change is left. The layer must not be in use by a
   * running process. Does not close {@code out}.
   */
  boolean writeChanges(String key, List<Digest> diffIds, OutputStream out) throws IOException;

  /** The keys of every writable layer. */
  List<String> writableKeys() throws IOException;
}
