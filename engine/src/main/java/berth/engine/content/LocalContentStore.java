package berth.engine.content;

import berth.engine.errdefs.EngineException;
import berth.engine.store.Trees;
import com.sun.jna.Memory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

/**
 * A {@link ContentStore} in a local directory: committed blobs at {@code <root>/blobs/sha256/<hex>},
 * ingests at {@code <root>/ingest/<random>/data} (containerd's {@code plugins/content/local}).
 * Thread-safe: ingests are private to their writer and publication is an atomic rename.
 */
public final class LocalContentStore implements ContentStore {
  private static final int BUFFER = 256 * 1024;

  private final Path blobs;
  private final Path ingest;

  /** Opens (creating if needed) the store at {@code root} and removes ingests a crash left behind. */
  public LocalContentStore(Path root) throws IOException {
    this.blobs = root.resolve("blobs").resolve("sha256");
    this.ingest = root.resolve("ingest");
    Files.createDirectories(blobs);
    Files.createDirectories(ingest);
    try (DirectoryStream<Path> stale = Files.newDirectoryStream(ingest)) {
      for (Path p : stale) {
        Trees.delete(p);
      }
    }
  }

  @Override
  public boolean exists(Digest d) {
    return Files.isRegularFile(path(d));
  }

  @Override
  public long size(Digest d) throws IOException {
    try {
      return Files.size(path(d));
    } catch (NoSuchFileException e) {
      throw notFound(d);
    }
  }

  @Override
  public InputStream open(Digest d) throws IOException {
    try {
      return Files.newInputStream(path(d));
    } catch (NoSuchFileException e) {
      throw notFound(d);
    }
  }

  @Override
  public Path path(Digest d) {
    return blobs.resolve(d.hex());
  }

  @Override
  public ContentWriter writer() throws IOException {
    Path dir = ingest.resolve(UUID.randomUUID().toString());
    Files.createDirectory(dir);
    try {
      return new LocalWriter(dir);
    } catch (IOException | RuntimeException e) {
      Trees.delete(dir);
      throw e;
    }
  }

  @Override
  public Digest put(byte[] data) throws IOException {
    Digest d = Digest.of(data);
    if (exists(d)) {
      return d;
    }
    try (ContentWriter w = writer()) {
      w.stream().write(data);
      return w.commit(data.length, d);
    }
  }

  @Override
  public void delete(Digest d) throws IOException {
    Files.deleteIfExists(path(d));
  }

  @Override
  public List<Digest> list() throws IOException {
    List<Digest> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        if (Digest.isValidHex(name)) {
          out.add(Digest.ofHex(name));
        }
      }
    }
    Collections.sort(out);
    return out;
  }

  private static EngineException notFound(Digest d) {
    // containerd's wording: "content digest sha256:...: not found"
    return EngineException.notFound("content digest %s: not found", d);
  }

  private final class LocalWriter implements ContentWriter {
    private final Path dir;
    private final Path data;
    private final FileChannel channel;
    private final MessageDigest sha = Digest.newSha256();
    // Native memory freed when the writer closes: a direct ByteBuffer's would stay allocated until a full
    // collection found the writer, and with the engine's serial collector that can be long after a load.
    private final Memory bufMemory = new Memory(BUFFER);
    private final ByteBuffer buf = bufMemory.getByteBuffer(0, BUFFER);
    private final OutputStream stream = new HashingStream();
    private long written;
    private boolean closed;

    LocalWriter(Path dir) throws IOException {
      this.dir = dir;
      this.data = dir.resolve("data");
      this.channel = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    @Override
    public OutputStream stream() {
      return stream;
    }

    @Override
    public long written() {
      return written;
    }

    @Override
    public Digest digest() {
      try {
        return Digest.fromBytes(((MessageDigest) sha.clone()).digest());
      } catch (CloneNotSupportedException e) {
        throw new IllegalStateException("SHA-256 digest is not cloneable", e);
      }
    }

    @Override
    public synchronized Digest commit(long expectedSize, Digest expected) throws IOException {
      try {
        ensureOpen();
        drainBuffer();
        channel.force(true);
        channel.close();
        Digest actual = Digest.fromBytes(sha.digest());
        if (expectedSize >= 0 && expectedSize != written) {
          throw EngineException.invalid(
              "size mismatch for %s: expected %d bytes, got %d", actual, expectedSize, written);
        }
        if (expected != null && !expected.equals(actual)) {
          throw EngineException.invalid("digest mismatch: expected %s, got %s", expected, actual);
        }
        Path target = path(actual);
        if (!Files.exists(target)) {
          // Read-only before it becomes visible, so a published blob is never writable.
          Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("r--r--r--"));
          try {
            Files.move(data, target, StandardCopyOption.ATOMIC_MOVE);
          } catch (FileAlreadyExistsException e) {
            // another writer published the same content first
          }
          fsyncDir(blobs);
        }
        return actual;
      } finally {
        close();
      }
    }

    @Override
    public synchronized void close() {
      if (closed) {
        return;
      }
      closed = true;
      bufMemory.close();
      try {
        channel.close();
      } catch (IOException e) {
        // nothing more to release; the files go below
      }
      try {
        Trees.delete(dir);
      } catch (IOException e) {
        // A leftover ingest is removed when the store is next opened.
      }
    }

    private void ensureOpen() throws IOException {
      if (closed) {
        throw new IOException("content writer is closed");
      }
    }

    private void drainBuffer() throws IOException {
      buf.flip();
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
      buf.clear();
    }

    private final class HashingStream extends OutputStream {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        synchronized (LocalWriter.this) { // close() frees the buffer; never while a write uses it
          writeLocked(b, off, len);
        }
      }

      private void writeLocked(byte[] b, int off, int len) throws IOException {
        ensureOpen();
        sha.update(b, off, len);
        written += len;
        while (len > 0) {
          int n = Math.min(len, buf.remaining());
          buf.put(b, off, n);
          off += n;
          len -= n;
          if (!buf.hasRemaining()) {
            drainBuffer();
          }
        }
      }
    }
  }

  static void fsyncDir(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }
}
