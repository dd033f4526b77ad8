package berth.engine.content;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;

/**
 * A content-addressed blob store (containerd's content store): blobs are written through a
 * {@link ContentWriter} and, once committed, are immutable and named by their {@link Digest}.
 * Implementations are thread-safe.
 */
public interface ContentStore {
  /** Whether a committed blob with this digest exists. */
  boolean exists(Digest d);

  /** The size in bytes of a committed blob; NOT_FOUND if there is none. */
  long size(Digest d) throws IOException;

  /** Opens a committed blob for reading; NOT_FOUND if there is none. The caller closes the stream. */
  InputStream open(Digest d) throws IOException;

  /** Where the committed blob lives on disk; the file may not exist. */
  Path path(Digest d);

  /** Starts a new ingest; the caller commits or closes the writer. */
  ContentWriter writer() throws IOException;

  /** Writes and commits {@code data}, returning its digest; idempotent. */
  Digest put(byte[] data) throws IOException;

  /** Removes a committed blob; no error if it is absent. */
  void delete(Digest d) throws IOException;

  /** The digests of all committed blobs, sorted. */
  List<Digest> list() throws IOException;
}
