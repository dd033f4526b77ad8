package berth.engine.container;

import berth.engine.sys.Posix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code docker diff}: what a container changed, read from its overlay upper dir against the image's lower dirs.
 * A path only in the upper dir is added (A), one also below is changed (C; a directory only when its mtime moved),
 * an overlay whiteout (a 0/0 character device) is deleted (D), and so is an opaque directory that exists below
 * (it was removed and made again; what is in it is listed as usual), as moby's {@code overlayDeletedFile} says. The mount points runc makes for /proc, /sys, /dev and the
 * /etc files are left out, as dockerd's init layer hides them.
 */
final class Changes {
  /** Kinds as the API numbers them. */
  static final int MODIFIED = 0;
  static final int ADDED = 1;
  static final int DELETED = 2;

  /** What dockerd's init layer holds ({@code daemon/initlayer}); runc creates the same as mount points. */
  static final Set<String> INIT_PATHS = Set.of("/dev/pts", "/dev/shm", "/proc", "/sys", "/.dockerenv",
      "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", "/dev/console", "/etc/mtab", "/dev");
  private static final Set<String> INIT_DIRS = Set.of("/etc", "/dev");

  /** One change: a container path and its kind. */
  record Change(String path, int kind) {}

  private Changes() {}

  /** The changes of {@code upper} over {@code lowersTopFirst}, sorted by path. */
  static List<Change> of(Path upper, List<Path> lowersTopFirst) throws IOException {
    List<Change> out = new ArrayList<>();
    walk(upper, lowersTopFirst, "", out);
    out.sort((a, b) -> a.path().compareTo(b.path()));
    return out;
  }

  /**
   * Whether an entry of the upper dir is only one of runc's mount points (an empty file or directory at an
   * init-layer path): {@code docker commit} leaves those out of the layer as well.
   */
  static boolean isInitStub(String cpath, Path host) throws IOException {
    if (!INIT_PATHS.contains(cpath)) {
      return false;
    }
    if (Files.isDirectory(host, LinkOption.NOFOLLOW_LINKS)) {
      try (var s = Files.list(host)) {
        return s.findAny().isEmpty();
      }
    }
    return Files.isRegularFile(host, LinkOption.NOFOLLOW_LINKS) && Files.size(host) == 0;
  }

  /** Walks one upper directory; returns whether it reported anything below it. */
  private static boolean walk(Path upper, List<Path> lowers, String rel, List<Change> out) throws IOException {
    Path dir = rel.isEmpty() ? upper : upper.resolve(rel.substring(1));
    TreeSet<String> names = new TreeSet<>();
    try (var ds = Files.newDirectoryStream(dir)) {
      ds.forEach(p -> names.add(p.getFileName().toString()));
    }
    boolean any = false;
    for (String n : names) {
      String p = rel + "/" + n;
      Path h = dir.resolve(n);
      Map<String, Object> a = Files.readAttributes(h, "unix:mode,rdev,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
      int mode = (Integer) a.get("mode");
      if ((mode & 0170000) == Posix.S_IFCHR && ((Number) a.get("rdev")).longValue() == 0) {
        out.add(new Change(p, DELETED));
        any = true;
        continue;
      }
      if (isInitStub(p, h)) {
        continue;
      }
      Path below = lower(lowers, p);
      boolean isDir = (mode & 0170000) == 0040000;
      if (!isDir) {
        // the init layer's files count as present below, as dockerd's diff runs against that layer
        out.add(new Change(p, below == null && !INIT_PATHS.contains(p) ? ADDED : MODIFIED));
        any = true;
        continue;
      }
      if (below == null && !INIT_DIRS.contains(p)) {
        out.add(new Change(p, ADDED));
        walk(upper, lowers, p, out);
        any = true;
        continue;
      }
      int at = out.size();
      boolean inside = walk(upper, lowers, p, out);
      if (below != null && opaque(h)) {
        // removed and made again: moby's overlayDeletedFile reports the directory as deleted, what is in it anew
        out.add(at, new Change(p, DELETED));
        any = true;
        continue;
      }
      boolean moved = below != null && !((FileTime) a.get("lastModifiedTime")).equals(
          Files.getLastModifiedTime(below, LinkOption.NOFOLLOW_LINKS));
      // a directory shows as changed when something under it did (as dockerd lists /etc for /etc/passwd) or its
      // own mtime moved; for /etc and /dev only the first, since runc's mount points move their mtime
      if (inside || moved && !INIT_DIRS.contains(p)) {
        out.add(at, new Change(p, MODIFIED));
      }
      any |= inside || moved;
    }
    return any;
  }

  private static boolean opaque(Path dir) throws IOException {
    byte[] v = Posix.lgetxattr(dir, "trusted.overlay.opaque");
    return v != null && Arrays.equals(v, new byte[] {'y'});
  }

  /** The topmost lower entry at {@code rel}, or null. */
  private static Path lower(List<Path> lowers, String rel) {
    for (Path l : lowers) {
      Path p = l.resolve(rel.substring(1));
      if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        return p;
      }
    }
    return null;
  }
}
