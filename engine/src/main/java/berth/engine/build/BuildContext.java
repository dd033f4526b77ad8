package berth.engine.build;

import berth.engine.errdefs.EngineException;
import berth.engine.store.Trees;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * A build context spooled from the request body to a directory: a tar (plain or gzip) is unpacked entry by
 * entry as it streams in, never held whole; a body that is not an archive is taken as the Dockerfile alone
 * ({@code docker build - < Dockerfile}). {@code .dockerignore} is applied afterwards. The directory is
 * removed by {@link #close}.
 */
final class BuildContext implements AutoCloseable {
  private static final int TAR_MAGIC_OFFSET = 257;
  private final Path dir;
  private final Path files;

  private BuildContext(Path dir) {
    this.dir = dir;
    this.files = dir.resolve("context");
  }

  /** Where the context's files are. */
  Path files() {
    return files;
  }

  /** A scratch directory of this build, removed with it. */
  Path scratch(String name) throws IOException {
    return Files.createDirectories(dir.resolve(name));
  }

  /**
   * Reads the body into a new directory under {@code tmp}; INVALID_PARAMETER for a truncated or malformed
   * archive, an entry that escapes the context, or more than {@code maxBytes} of (uncompressed) context.
   * {@code dockerfileName} is the name a lone Dockerfile gets.
   */
  static BuildContext spool(InputStream body, Path tmp, String dockerfileName, long maxBytes) throws IOException {
    Path dir = Files.createDirectories(tmp).resolve("build-" + java.util.UUID.randomUUID());
    Files.createDirectory(dir);
    BuildContext ctx = new BuildContext(dir);
    try {
      Files.createDirectory(ctx.files);
      BufferedInputStream in = new BufferedInputStream(body, 1 << 16);
      in.mark(TAR_MAGIC_OFFSET + 8);
      byte[] head = in.readNBytes(TAR_MAGIC_OFFSET + 8);
      in.reset();
      boolean gzip = head.length >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b;
      boolean tar = head.length >= TAR_MAGIC_OFFSET + 5
          && new String(head, TAR_MAGIC_OFFSET, 5, java.nio.charset.StandardCharsets.US_ASCII).equals("ustar");
      if (!gzip && !tar && head.length > 0 && !isZeroBlock(head)) {
        // not an archive: the Dockerfile itself
        Path f = ctx.files.resolve(dockerfileName.isEmpty() ? "Dockerfile" : dockerfileName).normalize();
        if (!f.startsWith(ctx.files)) {
          throw EngineException.invalid("the Dockerfile (%s) must be within the build context", dockerfileName);
        }
        Files.createDirectories(f.getParent());
        try (OutputStream out = Files.newOutputStream(f)) {
          new Limited(in, maxBytes).transferTo(out);
        }
        return ctx;
      }
      untar(new Limited(gzip ? new GzipCompressorInputStream(in, true) : in, maxBytes), ctx.files, false);
      return ctx;
    } catch (IOException | RuntimeException e) {
      ctx.close();
      if (e instanceof EngineException) {
        throw e;
      }
      if (e instanceof EOFException || e.getMessage() != null && e.getMessage().toLowerCase().contains("truncated")) {
        throw EngineException.invalid("the build context is not a complete archive: %s", e.getMessage());
      }
      if (e instanceof IOException io && !(e instanceof java.nio.file.FileSystemException)) {
        throw EngineException.invalid("could not read the build context: %s", io.getMessage());
      }
      throw e;
    }
  }

  /** A stream that fails once more than {@code max} bytes are read (counted after decompression: a gzip bomb too). */
  static final class Limited extends java.io.FilterInputStream {
    private final long max;
    private long read;

    Limited(InputStream in, long max) {
      super(in);
      this.max = max;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        count(1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        count(n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long k = super.skip(n);
      count(k);
      return k;
    }

    private void count(long n) {
      read += n;
      if (read > max) {
        throw EngineException.invalid("the build context is larger than this engine accepts (%d bytes: "
            + "build-context-max-size in its configuration); leave files out with .dockerignore", max);
      }
    }
  }

  private static boolean isZeroBlock(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Unpacks a tar stream under {@code root} (an existing directory); entries may not escape it. Owners are kept
   * only when {@code keepOwners} (ADD of a local archive); the context's files belong to root.
   */
  static void untar(InputStream raw, Path root, boolean keepOwners) throws IOException {
    TarArchiveInputStream tar = new TarArchiveInputStream(raw);
    List<Object[]> dirTimes = new ArrayList<>();
    TarArchiveEntry e;
    while ((e = tar.getNextEntry()) != null) {
      String name = e.getName();
      Path p = inside(root, name);
      if (p.equals(root)) {
        continue;
      }
      parentDirs(root, p, name);
      if (Files.isSymbolicLink(p)) {
        Files.delete(p); // replaced, never written through
      }
      if (e.isDirectory()) {
        Files.createDirectories(p);
        dirTimes.add(new Object[] {p, e.getLastModifiedDate().getTime()});
      } else if (e.isSymbolicLink()) {
        Files.deleteIfExists(p);
        Files.createSymbolicLink(p, Path.of(e.getLinkName()));
        if (keepOwners) {
          berth.engine.sys.Posix.lchown(p, e.getLongUserId(), e.getLongGroupId());
        }
        continue; // no mode or time on the link itself
      } else if (e.isLink()) {
        Path target = inside(root, e.getLinkName());
        parentDirs(root, target, e.getLinkName());
        Files.deleteIfExists(p);
        Files.createLink(p, target);
        continue;
      } else if (e.isFile()) {
        try (OutputStream out = Files.newOutputStream(p, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
          long left = e.getSize();
          byte[] buf = new byte[1 << 16];
          while (left > 0) {
            int n = tar.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
              throw new EOFException("truncated archive: " + name + " ends early");
            }
            out.write(buf, 0, n);
            left -= n;
          }
        }
        Files.setLastModifiedTime(p, FileTime.fromMillis(e.getLastModifiedDate().getTime()));
      } else {
        continue; // devices and fifos have no place in a build context
      }
      if (keepOwners) {
        berth.engine.sys.Posix.lchown(p, e.getLongUserId(), e.getLongGroupId());
      }
      berth.engine.sys.Posix.chmod(p, e.getMode() & 07777);
    }
    for (int i = dirTimes.size() - 1; i >= 0; i--) {
      Files.setLastModifiedTime((Path) dirTimes.get(i)[0], FileTime.fromMillis((Long) dirTimes.get(i)[1]));
    }
  }

  /**
   * Creates the missing directories above {@code p} one by one, refusing a symlink on the way: an archive could
   * otherwise plant {@code a -> /etc} and then write {@code a/passwd} outside the root.
   */
  private static void parentDirs(Path root, Path p, String name) throws IOException {
    Path cur = root;
    for (Path part : root.relativize(p.getParent())) {
      cur = cur.resolve(part);
      if (Files.isSymbolicLink(cur)) {
        throw EngineException.invalid("invalid archive: %s goes through the symlink %s", name, root.relativize(cur));
      }
      if (!Files.exists(cur, LinkOption.NOFOLLOW_LINKS)) {
        Files.createDirectory(cur);
      } else if (!Files.isDirectory(cur, LinkOption.NOFOLLOW_LINKS)) {
        throw EngineException.invalid("invalid archive: %s needs %s to be a directory", name, root.relativize(cur));
      }
    }
  }

  private static Path inside(Path root, String name) {
    Path p = root.resolve(name.startsWith("/") ? name.substring(1) : name).normalize();
    if (!p.startsWith(root)) {
      throw EngineException.invalid("invalid build context: path %s escapes the context", name);
    }
    return p;
  }

  static Set<PosixFilePermission> perms(int mode) {
    Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] all = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
        PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
        PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.OWNER_READ};
    for (int i = 0; i < all.length; i++) {
      if ((mode & (1 << i)) != 0) {
        s.add(all[i]);
      }
    }
    return s;
  }

  /**
   * Removes what {@code .dockerignore} leaves out, keeping the Dockerfile and {@code .dockerignore} themselves
   * (the builder still needs to read them, as dockerd does).
   */
  void applyDockerignore(String dockerfile) throws IOException {
    Path ignoreFile = files.resolve(".dockerignore");
    if (!Files.isRegularFile(ignoreFile, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    DockerIgnore ignore = DockerIgnore.parse(Files.readString(ignoreFile));
    if (ignore.isEmpty()) {
      return;
    }
    String keep = DockerIgnore.clean(dockerfile);
    Files.walkFileTree(files, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
        String rel = files.relativize(f).toString();
        if (!rel.equals(keep) && !rel.equals(".dockerignore") && ignore.excluded(rel)) {
          Files.delete(f);
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
        if (!d.equals(files) && ignore.excluded(files.relativize(d).toString())) {
          try (var ds = Files.newDirectoryStream(d)) {
            if (!ds.iterator().hasNext()) {
              Files.delete(d);
            }
          }
        }
        return FileVisitResult.CONTINUE;
      }
    });
  }

  @Override
  public void close() throws IOException {
    Trees.delete(dir);
  }
}
