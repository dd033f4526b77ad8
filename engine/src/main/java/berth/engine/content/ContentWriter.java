package berth.engine.content;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;

/**
 * One ingest into a {@link ContentStore}: bytes are hashed and counted as they are written, then
 * published by {@link #commit}. Not thread-safe.
 */
public interface ContentWriter extends Closeable {
  /** The stream to write the blob to; bytes written here are hashed and counted as they go. Do not close it; close the writer. */
  OutputStream stream();

  /** How many bytes have been written so far. */
  long written();

  /** The digest of what has been written so far. */
  Digest digest();

  /**
   * Publishes the blob: fsyncs the data, checks the size ({@code expectedSize < 0} accepts any)
   * and the digest ({@code expected == null} accepts any) and throws INVALID_PARAMETER "size
   * mismatch ..." or "digest mismatch ..." with nothing published. If the blob already exists the
   * ingest is dropped (idempotent); otherwise it is moved atomically into place, the directory is
   * fsynced and the file made read-only. Always closes the writer, even on failure.
   *
   * @return the digest of the committed blob
   */
  Digest commit(long expectedSize, Digest expected) throws IOException;

  /** Abandons an uncommitted ingest and deletes its files; idempotent, and a no-op after commit. */
  @Override
  void close();
}
