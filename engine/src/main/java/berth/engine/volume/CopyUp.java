package berth.engine.volume;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;

/**
 * dockerd's copy-up: a new, empty volume mounted where the image has a directory is first filled with that
 * directory's content, with owners, modes and times kept; symlinks are copied as links, never followed.
 */
public final class CopyUp {
  private CopyUp() {}

  /**
   * Copies the tree at {@code source} into {@code volumeData} if {@code source} is a directory and
   * {@code volumeData} is empty; the data directory takes the source's owner and mode.
   *
   * @return true if anything was copied
   */
  public static boolean copy(Path source, Path volumeData) throws IOException {
    if (!Files.isDirectory(source, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    try (var s = Files.list(volumeData)) {
      if (s.findAny().isPresent()) {
        return false; // a volume with content keeps it
      }
    }
    Files.walkFileTree(source, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        Path to = volumeData.resolve(source.relativize(dir).toString());
        if (!dir.equals(source)) {
          Files.copy(dir, to, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.copy(file, volumeData.resolve(source.relativize(file).toString()), StandardCopyOption.COPY_ATTRIBUTES,
            LinkOption.NOFOLLOW_LINKS);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null) {
          throw e;
        }
        // copying the children changed the directory's times
        Path to = volumeData.resolve(source.relativize(dir).toString());
        FileTime mtime = Files.getLastModifiedTime(dir, LinkOption.NOFOLLOW_LINKS);
        Files.setLastModifiedTime(to, mtime);
        return FileVisitResult.CONTINUE;
      }
    });
    Files.setAttribute(volumeData, "unix:uid", Files.getAttribute(source, "unix:uid", LinkOption.NOFOLLOW_LINKS));
    Files.setAttribute(volumeData, "unix:gid", Files.getAttribute(source, "unix:gid", LinkOption.NOFOLLOW_LINKS));
    Files.setAttribute(volumeData, "unix:mode", Files.getAttribute(source, "unix:mode", LinkOption.NOFOLLOW_LINKS));
    return true;
  }
}
