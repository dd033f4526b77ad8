package berth.engine.runtime;

import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Resolves Docker's {@code --user} ({@code name}, {@code uid}, {@code name:group}, {@code uid:gid}…)
 * and {@code --group-add} against the {@code /etc/passwd} and {@code /etc/group} of an image's root
 * filesystem, with the rules of runc's {@code libcontainer/user.GetExecUser} that dockerd uses.
 *
 * <p>The files are looked up as the container would see them: a symlink is resolved inside the rootfs
 * (an absolute target restarts at the rootfs, {@code ..} stops at it), as moby's
 * {@code FollowSymlinkInScope} does, so nothing outside the rootfs is ever read. A missing file counts
 * as empty, which makes numeric IDs work in images without one. Stateless and thread-safe.
 */
public final class UserResolver {
  private static final long MAX_ID = Integer.MAX_VALUE;
  private static final int MAX_SYMLINKS = 255;
  private static final String NO_PASSWD = "no matching entries in passwd file";
  private static final String NO_GROUP = "no matching entries in group file";

  private UserResolver() {}

  /**
   * The user a process runs as. {@code additionalGids} starts with the primary gid, then the groups the
   * user is a member of in /etc/group, then {@code --group-add}, as Docker's {@code getUser} orders them.
   */
  public record ExecUser(long uid, long gid, List<Long> additionalGids, String home) {
    public ExecUser {
      additionalGids = List.copyOf(additionalGids);
    }

    /** root, as used when the image has no user and no passwd file. */
    public static ExecUser root() {
      return new ExecUser(0, 0, List.of(0L), "/");
    }
  }

  /**
   * Resolves {@code userSpec} ("" means uid 0) and the {@code groupAdd} names or gids.
   *
   * @throws EngineException INVALID_PARAMETER with runc's wording, e.g. "unable to find user x: no
   *     matching entries in passwd file", or "uids and gids must be in range 0-2147483647"
   * @throws IOException if a file exists but cannot be read
   */
  public static ExecUser resolve(Path rootfs, String userSpec, List<String> groupAdd) throws IOException {
    List<String[]> passwd = readTable(rootfs, "/etc/passwd");
    List<String[]> group = readTable(rootfs, "/etc/group");
    String spec = userSpec == null ? "" : userSpec;
    int colon = spec.indexOf(':');
    String userArg = colon < 0 ? spec : spec.substring(0, colon);
    String groupArg = colon < 0 ? "" : spec.substring(colon + 1);
    Long uidArg = parseId(userArg);
    Long gidArg = parseId(groupArg);

    long uid = 0;
    long gid = 0;
    String home = "/";
    String matchedName = null;
    String[] user = null;
    for (String[] e : passwd) {
      boolean match = userArg.isEmpty() ? field(e, 2) == uid
          : uidArg != null ? uidArg.equals(idOrNull(e, 2)) : userArg.equals(e[0]);
      if (match) {
        user = e;
        break; // the first match wins, as in runc
      }
    }
    if (user != null) {
      matchedName = user[0];
      uid = field(user, 2);
      gid = field(user, 3);
      home = user.length > 5 ? user[5] : "/";
    } else if (!userArg.isEmpty()) {
      if (uidArg == null) {
        throw EngineException.invalid("unable to find user %s: %s", userArg, NO_PASSWD);
      }
      uid = checkRange(uidArg);
    }

    List<Long> sgids = new ArrayList<>();
    if (!groupArg.isEmpty()) {
      String[] g = null;
      for (String[] e : group) {
        if (gidArg != null ? gidArg.equals(idOrNull(e, 2)) : groupArg.equals(e[0])) {
          g = e;
          break;
        }
      }
      if (g != null) {
        gid = field(g, 2);
      } else if (gidArg == null) {
        throw EngineException.invalid("unable to find group %s: %s", groupArg, NO_GROUP);
      } else {
        gid = checkRange(gidArg);
      }
    } else if (matchedName != null) {
      // Supplementary groups only in the implicit form ("user", not "user:group"), as runc does.
      for (String[] e : group) {
        if (e.length > 3 && List.of(e[3].split(",")).contains(matchedName)) {
          sgids.add(field(e, 2));
        }
      }
    }

    List<Long> all = new ArrayList<>();
    all.add(gid);
    all.addAll(sgids);
    all.addAll(additionalGroups(groupAdd == null ? List.of() : groupAdd, group));
    return new ExecUser(uid, gid, all, home);
  }

  /** runc's GetAdditionalGroups: a name or gid found in /etc/group, else a number in range. */
  private static List<Long> additionalGroups(List<String> names, List<String[]> group) {
    Set<Long> gids = new LinkedHashSet<>();
    for (String ag : names) {
      Long found = null;
      for (String[] e : group) {
        Long g = idOrNull(e, 2);
        if (e[0].equals(ag) || (g != null && String.valueOf(g).equals(ag))) {
          found = g == null ? 0L : g;
          break;
        }
      }
      if (found == null) {
        Long n = parseId(ag);
        if (n == null) {
          throw EngineException.invalid("Unable to find group %s: %s", ag, NO_GROUP);
        }
        found = checkRange(n);
      }
      gids.add(found);
    }
    return new ArrayList<>(gids);
  }

  private static long checkRange(long id) {
    if (id < 0 || id > MAX_ID) {
      throw EngineException.invalid("uids and gids must be in range 0-%d", MAX_ID);
    }
    return id;
  }

  /** A decimal number, or null when {@code s} is not one (Go's Atoi: an optional sign, then digits). */
  private static Long parseId(String s) {
    if (s.isEmpty() || !s.matches("[+-]?[0-9]{1,18}")) {
      return null;
    }
    return Long.parseLong(s);
  }

  private static Long idOrNull(String[] e, int i) {
    return e.length > i ? parseId(e[i].trim()) : null;
  }

  /** A numeric field; malformed counts as 0, as runc's parser does. */
  private static long field(String[] e, int i) {
    Long v = idOrNull(e, i);
    return v == null ? 0 : v;
  }

  /** The colon-separated lines of a passwd-style file; empty if the file is missing. */
  private static List<String[]> readTable(Path rootfs, String path) throws IOException {
    Path file = resolveInRoot(rootfs, path);
    List<String[]> rows = new ArrayList<>();
    byte[] bytes;
    // NOFOLLOW_LINKS: the last component was resolved above; never follow one that appeared since.
    try (InputStream in = Channels.newInputStream(
        Files.newByteChannel(file, Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)))) {
      bytes = in.readAllBytes();
    } catch (NoSuchFileException | NotDirectoryException e) {
      return rows;
    } catch (IOException e) {
      if (Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(file)) {
        return rows; // not a file the container could read as one
      }
      throw e;
    }
    for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
      line = line.trim();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      rows.add(line.split(":", -1));
    }
    return rows;
  }

  /**
   * {@code path} (absolute, as the container sees it) resolved to a host path under {@code rootfs}, with
   * every symlink followed inside the rootfs. The result may not exist.
   */
  public static Path resolveInRoot(Path rootfs, String path) throws IOException {
    Deque<String> todo = new ArrayDeque<>(List.of(path.split("/")));
    Deque<String> done = new ArrayDeque<>();
    int links = 0;
    while (!todo.isEmpty()) {
      String part = todo.removeFirst();
      if (part.isEmpty() || part.equals(".")) {
        continue;
      }
      if (part.equals("..")) {
        done.pollLast(); // ".." at the root stays at the root
        continue;
      }
      Path candidate = join(rootfs, done).resolve(part);
      if (Files.isSymbolicLink(candidate)) {
        if (++links > MAX_SYMLINKS) {
          throw new IOException("too many symlinks resolving " + path + " in " + rootfs);
        }
        String target = Files.readSymbolicLink(candidate).toString();
        if (target.startsWith("/")) {
          done.clear();
        }
        List<String> parts = List.of(target.split("/"));
        for (int i = parts.size() - 1; i >= 0; i--) {
          todo.addFirst(parts.get(i));
        }
        continue;
      }
      done.addLast(part);
    }
    return join(rootfs, done);
  }

  private static Path join(Path root, Deque<String> parts) {
    Path p = root;
    for (String s : parts) {
      p = p.resolve(s);
    }
    return p;
  }
}
