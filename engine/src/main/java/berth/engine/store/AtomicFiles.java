package berth.engine.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Writes state files so that a reader or a crash sees either the old or the new content, never half. */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** Writes to a temporary file in the same directory, fsyncs it, then renames it over the target. */
  public static void write(Path target, byte[] data) throws IOException {
    write(target, data, true);
  }

  /**
   * The same without the fsync, for figures a crash may lose (the build cache's use counts): readers still see
   * the old or the new content, but a build step taken from the cache does not wait for the disk.
   */
  public static void writeLossy(Path target, byte[] data) throws IOException {
    write(target, data, false);
  }

  private static void write(Path target, byte[] data, boolean sync) throws IOException {
    Path dir = target.getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buf = ByteBuffer.wrap(data);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        if (sync) {
          ch.force(true);
        }
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
