package berth.engine.container;

import static berth.engine.sys.Posix.S_IFBLK;
import static berth.engine.sys.Posix.S_IFCHR;
import static berth.engine.sys.Posix.S_IFDIR;
import static berth.engine.sys.Posix.S_IFIFO;
import static berth.engine.sys.Posix.S_IFLNK;
import static berth.engine.sys.Posix.S_IFMT;
import static berth.engine.sys.Posix.S_IFREG;
import static berth.engine.sys.Posix.S_IFSOCK;

import berth.engine.api.containers.ContainersBackend.PathStat;
import berth.engine.api.types.Timestamps;
import berth.engine.errdefs.EngineException;
import berth.engine.sys.Posix;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * File operations on an open {@link ContainerView}, every path going through its {@link RootResolver}: stat,
 * tar out of a path ({@code docker cp} from, {@code docker export}) and tar in under a directory ({@code docker
 * cp} to). Nothing here opens, reads or writes a host path that did not come out of the resolver, so neither the
 * request's path nor a symlink in the container nor an entry of the uploaded tar can reach outside the container.
 */
final class ContainerFiles {

  private final RootResolver fs;
  private final String containerName;

  ContainerFiles(RootResolver fs, String containerName) {
    this.fs = fs;
    this.containerName = containerName;
  }

  // ---- stat --------------------------------------------------------------------------------------

  /** Stat of {@code path} as dockerd's containerfs gives it: the last component is not followed. NOT_FOUND. */
  PathStat stat(String path) throws IOException {
    RootResolver.Resolved r = fs.resolve(absolute(path), false);
    Map<String, Object> a = lstat(r, path);
    int mode = (Integer) a.get("mode");
    String link = "";
    if ((mode & S_IFMT) == S_IFLNK) {
      link = fs.resolve(r.containerPath(), true).containerPath(); // FollowSymlinkInScope: as far as it goes
    }
    return new PathStat(baseName(path, r), (Long) a.get("size"), goFileMode(mode),
        Timestamps.rfc3339Nano(nanos((FileTime) a.get("lastModifiedTime"))), link);
  }

  private Map<String, Object> lstat(RootResolver.Resolved r, String asked) throws IOException {
    try {
      return Files.readAttributes(r.hostPath(), "unix:*", LinkOption.NOFOLLOW_LINKS);
    } catch (java.nio.file.FileSystemException e) {
      // ENOTDIR (a file in the middle) reads as absent too, as os.Lstat's error is IsNotExist-like for dockerd
      throw notFound(asked);
    }
  }

  EngineException notFound(String path) {
    return EngineException.notFound("Could not find the file %s in container %s", path, containerName);
  }

  /** dockerd's {@code filepath.Base} of the path as asked, "." kept (it means "the directory's content"). */
  private static String baseName(String asked, RootResolver.Resolved r) {
    List<String> parts = new ArrayList<>();
    for (String s : asked.split("/")) {
      if (!s.isEmpty()) {
        parts.add(s);
      }
    }
    if (parts.isEmpty()) {
      return "/";
    }
    String last = parts.get(parts.size() - 1);
    return last.equals("..") ? r.name() : last;
  }

  private static String absolute(String path) {
    return path.startsWith("/") ? path : "/" + path;
  }

  /** Go's os.FileMode of a Unix mode: permission bits plus Go's own type and special bits. */
  static long goFileMode(int mode) {
    long m = mode & 0777;
    switch (mode & S_IFMT) {
      case S_IFDIR -> m |= 1L << 31;
      case S_IFLNK -> m |= 1L << 27;
      case S_IFBLK -> m |= 1L << 26;
      case S_IFCHR -> m |= (1L << 26) | (1L << 21);
      case S_IFIFO -> m |= 1L << 25;
      case S_IFSOCK -> m |= 1L << 24;
      default -> { }
    }
    if ((mode & 04000) != 0) {
      m |= 1L << 23;
    }
    if ((mode & 02000) != 0) {
      m |= 1L << 22;
    }
    if ((mode & 01000) != 0) {
      m |= 1L << 20;
    }
    return m;
  }

  private static long nanos(FileTime t) {
    java.time.Instant i = t.toInstant();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  // ---- tar out -----------------------------------------------------------------------------------

  /**
   * Writes {@code path} as a tar whose entries are named after its last component ({@code docker cp} from the
   * container; "x/." gives "./…"). A symlink as last component is archived as a link, as dockerd does. Does not
   * close {@code out}.
   */
  void archive(String path, PathStat stat, OutputStream out) throws IOException {
    RootResolver.Resolved r = fs.resolve(absolute(path), false);
    try (TarArchiveOutputStream tar = newTar(out)) {
      walk(tar, r.containerPath(), r.hostPath(), stat.name().equals("/") ? "." : stat.name(), new HashMap<>());
      tar.finish();
    }
  }

  /** Writes the whole root as a tar, entries relative to it ({@code docker export}). Does not close {@code out}. */
  void export(OutputStream out) throws IOException {
    Map<String, String> inodes = new HashMap<>();
    try (TarArchiveOutputStream tar = newTar(out)) {
      for (String child : children("/", fs.hostPath("/"))) {
        String c = "/" + child;
        Path h = fs.hostPath(c);
        if (RootResolver.exists(h)) {
          walk(tar, c, h, child, inodes);
        }
      }
      tar.finish();
    }
  }

  private static TarArchiveOutputStream newTar(OutputStream out) {
    TarArchiveOutputStream tar = new TarArchiveOutputStream(new NonClosing(out), "UTF-8");
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    tar.setAddPaxHeadersForNonAsciiNames(true);
    return tar;
  }

  private TreeSet<String> children(String cpath, Path host) throws IOException {
    TreeSet<String> names = new TreeSet<>();
    try (var ds = Files.newDirectoryStream(host)) {
      ds.forEach(p -> names.add(p.getFileName().toString()));
    }
    names.addAll(fs.mountedChildren(cpath)); // a mount shows even where the root has no mount point yet
    return names;
  }

  /** Archives one container path (never following a symlink) and, for a directory, what is under it. */
  private void walk(TarArchiveOutputStream tar, String cpath, Path host, String name, Map<String, String> inodes)
      throws IOException {
    Map<String, Object> a = Files.readAttributes(host, "unix:*", LinkOption.NOFOLLOW_LINKS);
    int mode = (Integer) a.get("mode");
    TarArchiveEntry e;
    switch (mode & S_IFMT) {
      case S_IFDIR -> e = new TarArchiveEntry(name + "/", TarConstants.LF_DIR);
      case S_IFREG -> {
        long nlink = ((Number) a.get("nlink")).longValue();
        String first = nlink > 1 ? inodes.putIfAbsent(a.get("dev") + ":" + a.get("ino"), name) : null;
        if (first != null) {
          e = new TarArchiveEntry(name, TarConstants.LF_LINK);
          e.setLinkName(first);
        } else {
          e = new TarArchiveEntry(name, TarConstants.LF_NORMAL);
          e.setSize((Long) a.get("size"));
        }
      }
      case S_IFLNK -> {
        e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
        e.setLinkName(Files.readSymbolicLink(host).toString());
      }
      case S_IFCHR, S_IFBLK -> {
        e = new TarArchiveEntry(name, (mode & S_IFMT) == S_IFCHR ? TarConstants.LF_CHR : TarConstants.LF_BLK);
        long rdev = ((Number) a.get("rdev")).longValue();
        e.setDevMajor(Posix.major(rdev));
        e.setDevMinor(Posix.minor(rdev));
      }
      case S_IFIFO -> e = new TarArchiveEntry(name, TarConstants.LF_FIFO);
      default -> {
        return; // sockets cannot be archived; dockerd skips them too
      }
    }
    e.setMode(mode & 07777);
    e.setUserId(((Number) a.get("uid")).longValue());
    e.setGroupId(((Number) a.get("gid")).longValue());
    e.setModTime(((FileTime) a.get("lastModifiedTime")).toMillis() / 1000 * 1000);
    tar.putArchiveEntry(e);
    if (e.isFile() && e.getSize() > 0) {
      try (InputStream in = Files.newInputStream(host, LinkOption.NOFOLLOW_LINKS)) {
        long copied = in.transferTo(new Bounded(tar, e.getSize()));
        if (copied < e.getSize()) {
          throw new IOException("file shrank while archiving: " + cpath);
        }
      }
    }
    tar.closeArchiveEntry();
    if (e.isDirectory()) {
      String base = cpath.equals("/") ? "" : cpath;
      for (String child : children(cpath, host)) {
        String c = base + "/" + child;
        Path h = fs.hostPath(c); // a mount inside is entered through its source
        if (RootResolver.exists(h)) {
          walk(tar, c, h, name + "/" + child, inodes);
        }
      }
    }
  }

  // ---- tar in ------------------------------------------------------------------------------------

  /** How {@link #extract} treats ownership and existing files. */
  record ExtractOptions(boolean noOverwriteDirNonDir, Long chownUid, Long chownGid, boolean readonlyRootfs) {}

  /**
   * Unpacks {@code tar} under the directory {@code dir} (symlinks followed, the last one too, inside the
   * container). INVALID_PARAMETER when the destination is not a directory, when an entry, hard link or symlink
   * would leave it, when it is read-only, or when {@code noOverwriteDirNonDir} forbids replacing a directory by a
   * non-directory or the reverse. Entries already written stay (as with dockerd). Does not close {@code tar}.
   */
  void extract(String dir, InputStream tarStream, ExtractOptions o) throws IOException {
    RootResolver.Resolved d = fs.resolve(absolute(dir), true);
    if (!RootResolver.exists(d.hostPath())) {
      throw notFound(dir);
    }
    if (!Files.isDirectory(d.hostPath(), LinkOption.NOFOLLOW_LINKS)) {
      throw EngineException.invalid("extraction point is not a directory");
    }
    checkWritable(d, o);
    String dest = d.containerPath();
    List<Object[]> dirTimes = new ArrayList<>();
    TarArchiveInputStream tar = new TarArchiveInputStream(new NonClosingIn(tarStream), "UTF-8");
    TarArchiveEntry e;
    while ((e = tar.getNextTarEntry()) != null) {
      String rel = RootResolver.clean(e.getName());
      if (escapes(e.getName())) {
        throw EngineException.invalid("invalid archive entry %s: it is outside of %s", e.getName(), dest);
      }
      if (rel.equals("/")) {
        continue; // "./": the destination itself
      }
      String cpath = (dest.equals("/") ? "" : dest) + rel;
      String parent = cpath.substring(0, cpath.lastIndexOf('/'));
      RootResolver.Resolved p = mkdirs(parent.isEmpty() ? "/" : parent, o);
      String leaf = cpath.substring(cpath.lastIndexOf('/') + 1);
      String target = (p.containerPath().equals("/") ? "" : p.containerPath()) + "/" + leaf;
      RootResolver.Resolved t = fs.resolve(target, false);
      checkWritable(t, o);
      Path h = t.hostPath();
      if (RootResolver.exists(h)) {
        boolean isDir = Files.isDirectory(h, LinkOption.NOFOLLOW_LINKS);
        if (o.noOverwriteDirNonDir() && isDir && !e.isDirectory()) {
          throw EngineException.invalid("cannot overwrite directory \"%s\" with non-directory \"%s\"", target,
              e.getName());
        }
        if (o.noOverwriteDirNonDir() && !isDir && e.isDirectory()) {
          throw EngineException.invalid("cannot overwrite non-directory \"%s\" with directory \"%s\"", target,
              e.getName());
        }
        if (!(isDir && e.isDirectory())) {
          if (fs.isMountPoint(t.containerPath())) {
            throw EngineException.invalid("cannot replace mount point %s", t.containerPath());
          }
          berth.engine.store.Trees.delete(h); // never follows a symlink: the link itself goes
        }
      }
      long uid = o.chownUid() != null ? o.chownUid() : e.getLongUserId();
      long gid = o.chownGid() != null ? o.chownGid() : e.getLongGroupId();
      if (e.isDirectory()) {
        if (!RootResolver.exists(h)) {
          Files.createDirectory(h);
        }
        dirTimes.add(new Object[] {h, e.getModTime().getTime()});
      } else if (e.isSymbolicLink()) {
        String link = e.getLinkName();
        if (!link.startsWith("/") && escapes(rel.substring(0, rel.lastIndexOf('/') + 1) + link)) {
          throw EngineException.invalid("invalid symlink \"%s\" -> \"%s\"", target, link);
        }
        Posix.symlink(link, h);
      } else if (e.isLink()) {
        if (escapes(e.getLinkName())) {
          throw EngineException.invalid("invalid hardlink \"%s\" -> \"%s\"", target, e.getLinkName());
        }
        String linkPath = (dest.equals("/") ? "" : dest) + RootResolver.clean(e.getLinkName());
        RootResolver.Resolved l = fs.resolve(linkPath, false);
        if (!Files.isRegularFile(l.hostPath(), LinkOption.NOFOLLOW_LINKS)) {
          throw EngineException.invalid("invalid hardlink \"%s\" -> \"%s\": no such file in the archive", target,
              e.getLinkName());
        }
        Files.createLink(h, l.hostPath());
        continue; // a hard link shares its target's owner, mode and times
      } else if (e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
        int type = e.isCharacterDevice() ? Posix.S_IFCHR : e.isBlockDevice() ? Posix.S_IFBLK : Posix.S_IFIFO;
        Posix.mknod(h, type | (e.getMode() & 07777), e.getDevMajor(), e.getDevMinor());
      } else if (e.isFile()) {
        try (OutputStream w = Files.newOutputStream(h, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
          tar.transferTo(w);
        }
      } else {
        continue; // other types (GNU sparse headers and the like) are not files
      }
      Posix.lchown(h, uid, gid);
      if (!e.isSymbolicLink()) {
        chmodNoFollow(h, e.getMode() & 07777);
      }
      long mt = e.getModTime().getTime();
      Posix.lutimens(h, mt / 1000, (mt % 1000) * 1_000_000, mt / 1000, (mt % 1000) * 1_000_000);
    }
    for (int i = dirTimes.size() - 1; i >= 0; i--) { // last: writing into a directory changes its mtime
      long mt = (Long) dirTimes.get(i)[1];
      Posix.lutimens((Path) dirTimes.get(i)[0], mt / 1000, (mt % 1000) * 1_000_000, mt / 1000,
          (mt % 1000) * 1_000_000);
    }
  }

  private static final int O_PATH = 010000000;
  private static final int O_NOFOLLOW = 0400000;

  /**
   * chmod(2) follows a symlink, so something that swapped the new file for one (another container sharing a
   * volume) could aim it at a host file: the mode is set through an O_PATH|O_NOFOLLOW descriptor instead, which
   * names the file just made or, if it was swapped, the link itself (whose mode Linux refuses to change).
   */
  private static void chmodNoFollow(Path p, int mode) throws IOException {
    int fd = Posix.open(p, O_PATH | O_NOFOLLOW | Posix.O_CLOEXEC);
    try {
      Posix.chmod(Path.of("/proc/self/fd/" + fd), mode);
    } finally {
      Posix.closeFd(fd);
    }
  }

  /** Whether a relative archive name climbs above its root ("../x", "a/../../x"), as dockerd's breakout check. */
  static boolean escapes(String name) {
    int depth = 0;
    for (String s : name.split("/")) {
      if (s.isEmpty() || s.equals(".")) {
        continue;
      }
      if (s.equals("..")) {
        if (--depth < 0) {
          return true;
        }
      } else {
        depth++;
      }
    }
    return false;
  }

  /** Makes the directory (and missing parents) inside the container; returns it resolved. */
  private RootResolver.Resolved mkdirs(String cpath, ExtractOptions o) throws IOException {
    RootResolver.Resolved r = fs.resolve(cpath, true);
    if (RootResolver.exists(r.hostPath())) {
      if (!Files.isDirectory(r.hostPath(), LinkOption.NOFOLLOW_LINKS)) {
        throw EngineException.invalid("cannot create %s: %s is not a directory", cpath, r.containerPath());
      }
      return r;
    }
    String rp = r.containerPath();
    int slash = rp.lastIndexOf('/');
    mkdirs(slash <= 0 ? "/" : rp.substring(0, slash), o);
    RootResolver.Resolved again = fs.resolve(rp, false);
    checkWritable(again, o);
    try {
      Files.createDirectory(again.hostPath());
    } catch (java.nio.file.FileAlreadyExistsException e) {
      // made meanwhile
    }
    return again;
  }

  private static void checkWritable(RootResolver.Resolved r, ExtractOptions o) {
    if (r.mount() != null) {
      if (r.mount().readOnly()) {
        throw EngineException.invalid("mounted volume is marked read-only");
      }
    } else if (o.readonlyRootfs()) {
      throw EngineException.invalid("container rootfs is marked read-only");
    }
  }

  /** Copies at most {@code limit} bytes into a tar entry (a file that grew is cut at its stat size). */
  private static final class Bounded extends OutputStream {
    private final OutputStream out;
    private long left;

    Bounded(OutputStream out, long limit) {
      this.out = out;
      this.left = limit;
    }

    @Override
    public void write(int b) throws IOException {
      if (left > 0) {
        out.write(b);
        left--;
      }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      int n = (int) Math.min(len, left);
      if (n > 0) {
        out.write(b, off, n);
        left -= n;
      }
    }
  }

  /** The caller owns the response stream: closing the tar writer must not close it. */
  private static final class NonClosing extends java.io.FilterOutputStream {
    NonClosing(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
    }

    @Override
    public void close() throws IOException {
      out.flush();
    }
  }

  private static final class NonClosingIn extends java.io.FilterInputStream {
    NonClosingIn(InputStream in) {
      super(in);
    }

    @Override
    public void close() {
      // the request body belongs to the caller
    }
  }
}
