package berth.engine.container;

import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.TreeSet;

/**
 * Maps paths inside a container to host paths the way the container itself sees them, as if chrooted: every
 * component is resolved in turn, {@code ..} stops at the root, and a symlink is read and followed from the
 * container's root (an absolute target) or from its own directory (a relative one), so no path can name a host
 * file outside the container's root or its bind mounts. A path under a mount's destination is looked up in that
 * mount's source (the longest destination wins, as the kernel's mount table would). This replaces dockerd's
 * chroot into the container ({@code daemon/containerfs_linux.go}) and its {@code FollowSymlinkInScope}.
 *
 * <p>Resolution checks the file system component by component, so a process that swapped a directory for a symlink
 * between the check and the use could redirect it: {@link ContainerView} keeps a running container frozen while
 * its files are used, as moby does for CVE-2018-15664 (another container sharing a volume is not frozen).
 * Immutable; thread-safe.
 */
final class RootResolver {
  /** Linux's MAXSYMLINKS: more hops than this is a loop. */
  private static final int MAX_HOPS = 40;

  /** A bind mount: {@code destination} (absolute, in the container) shows {@code source} (on the host). */
  record Mount(String destination, Path source, boolean readOnly) {
    List<String> parts() {
      return split(destination);
    }
  }

  /** A resolved path: the clean container path, its host path, and the mount it lies in (null: the rootfs). */
  record Resolved(String containerPath, Path hostPath, Mount mount) {
    String name() {
      int slash = containerPath.lastIndexOf('/');
      return containerPath.equals("/") ? "/" : containerPath.substring(slash + 1);
    }
  }

  private final Path rootfs;
  private final List<Mount> mounts;

  RootResolver(Path rootfs, List<Mount> mounts) {
    this.rootfs = rootfs;
    List<Mount> sorted = new ArrayList<>(mounts);
    // longest destination first: the first prefix match is the innermost mount
    sorted.sort(Comparator.comparingInt((Mount m) -> m.parts().size()).reversed());
    this.mounts = List.copyOf(sorted);
  }

  /**
   * Resolves {@code path} (absolute or relative to the root) inside the container. Symlinks in the middle are
   * always followed; the last component only with {@code followLast}. A missing component ends following (the
   * rest is appended as is). INVALID_PARAMETER for a symlink loop or a path the host cannot represent.
   */
  Resolved resolve(String path, boolean followLast) throws IOException {
    Deque<String> todo = new ArrayDeque<>(split(path));
    List<String> cur = new ArrayList<>();
    int hops = 0;
    while (!todo.isEmpty()) {
      String c = todo.pollFirst();
      if (c.equals("..")) {
        if (!cur.isEmpty()) {
          cur.remove(cur.size() - 1);
        }
        continue;
      }
      cur.add(c);
      if (todo.isEmpty() && !followLast) {
        break;
      }
      Path host = hostPath(cur);
      if (!Files.isSymbolicLink(host)) {
        continue; // a directory, a file or nothing: a file in the middle fails later, at its use, as ENOTDIR
      }
      if (++hops > MAX_HOPS) {
        throw EngineException.invalid("too many levels of symbolic links: %s", path);
      }
      String target = Files.readSymbolicLink(host).toString();
      cur.remove(cur.size() - 1);
      if (target.startsWith("/")) {
        cur.clear();
      }
      List<String> t = split(target);
      for (int i = t.size() - 1; i >= 0; i--) {
        todo.addFirst(t.get(i));
      }
    }
    return new Resolved("/" + String.join("/", cur), hostPath(cur), mountOf(cur));
  }

  /** The host path of clean container path components (no {@code ..}, no symlink to follow). */
  Path hostPath(List<String> parts) {
    Mount m = mountOf(parts);
    Path base = m == null ? rootfs : m.source();
    int skip = m == null ? 0 : m.parts().size();
    try {
      for (int i = skip; i < parts.size(); i++) {
        base = base.resolve(parts.get(i));
      }
    } catch (InvalidPathException e) {
      throw EngineException.invalid("invalid path: %s", String.join("/", parts));
    }
    return base;
  }

  /** Host path of a clean absolute container path. */
  Path hostPath(String cleanPath) {
    return hostPath(split(cleanPath));
  }

  private Mount mountOf(List<String> parts) {
    for (Mount m : mounts) {
      List<String> d = m.parts();
      if (d.size() <= parts.size() && parts.subList(0, d.size()).equals(d)) {
        return m;
      }
    }
    return null;
  }

  /** Whether a clean container path is exactly a mount's destination. */
  boolean isMountPoint(String cleanPath) {
    List<String> p = split(cleanPath);
    return mounts.stream().anyMatch(m -> m.parts().equals(p));
  }

  /** The names of mount destinations directly inside a clean container directory path (they may be absent in it). */
  TreeSet<String> mountedChildren(String cleanDir) {
    List<String> dir = split(cleanDir);
    TreeSet<String> out = new TreeSet<>();
    for (Mount m : mounts) {
      List<String> d = m.parts();
      if (d.size() == dir.size() + 1 && d.subList(0, dir.size()).equals(dir)) {
        out.add(d.get(dir.size()));
      }
    }
    return out;
  }

  /** Whether a host path exists, not following a final symlink. */
  static boolean exists(Path p) {
    return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
  }

  /** Path components without empty ones and {@code .}; {@code ..} is kept for the caller to apply. */
  static List<String> split(String path) {
    List<String> out = new ArrayList<>();
    for (String s : path.split("/")) {
      if (!s.isEmpty() && !s.equals(".")) {
        out.add(s);
      }
    }
    return out;
  }

  /** Lexically cleans a container path: absolute, no {@code .}, {@code ..} applied and stopped at the root. */
  static String clean(String path) {
    List<String> out = new ArrayList<>();
    for (String s : split(path)) {
      if (s.equals("..")) {
        if (!out.isEmpty()) {
          out.remove(out.size() - 1);
        }
      } else {
        out.add(s);
      }
    }
    return "/" + String.join("/", out);
  }
}
