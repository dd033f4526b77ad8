package berth.engine.store;

import berth.engine.sys.Posix;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/** Recursive deletion of directory trees the engine owns; symlinks inside are removed, never followed. */
public final class Trees {
  private Trees() {}

  /**
   * Deletes a file or a directory tree; nothing to do if it is absent. Without root, directories are
   * made writable first, since unpacked layers may hold read-only ones.
   */
  public static void delete(Path top) throws IOException {
    if (!Files.exists(top, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    boolean privileged = Posix.euid() == 0;
    Files.walkFileTree(top, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        if (!privileged) {
          Posix.chmod(dir, 0700);
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null) {
          throw e;
        }
        Files.delete(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  /** Deletes everything inside a directory and keeps the directory; nothing to do if it is absent. */
  public static void deleteContents(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        delete(p);
      }
    }
  }

  /**
   * Deletes a directory and the entries directly in it, never descending: an entry that is a non-empty
   * directory (say, a mount point still mounted) makes this fail instead of deleting what lies below.
   * Nothing to do if it is absent.
   */
  public static void deleteFlat(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        Files.delete(p);
      }
    }
    Files.delete(dir);
  }
}
