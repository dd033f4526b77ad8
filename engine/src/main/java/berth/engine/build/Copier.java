package berth.engine.build;

import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.runtime.UserResolver;
import berth.engine.sys.Posix;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * COPY and ADD: finds the sources (wildcards, the context's bounds), checksums them for the cache, and copies
 * them into a mounted root filesystem with Docker's rules: a directory's contents go into the destination, a
 * file goes into a destination that ends in '/' or is an existing directory and becomes it otherwise; owners
 * are root (or {@code --chown}), modes kept (or {@code --chmod}), times kept; ADD unpacks local archives.
 */
final class Copier {
  /** A change to a mounted root filesystem. */
  interface RootfsChange {
    void apply(Path root) throws IOException;
  }

  /** One source: where it is, the name it is copied under (its base name), and whether ADD fetched it (not unpacked). */
  record Source(Path path, String name, boolean remote) {
    Source(Path path, String name) {
      this(path, name, false);
    }
  }

  private final Path root;
  private final long uid;
  private final long gid;
  private final boolean chownGiven;
  private final Integer chmod;
  private final boolean add;

  /** {@code owner} is --chown's uid and gid, or null without it (then root owns what is copied). */
  Copier(Path root, long[] owner, Integer chmod, boolean add) {
    this.root = root;
    this.chownGiven = owner != null;
    this.uid = owner == null ? 0 : owner[0];
    this.gid = owner == null ? 0 : owner[1];
    this.chmod = chmod;
    this.add = add;
  }

  // ---- sources ---------------------------------------------------------------------------------

  /**
   * The files one source argument names under {@code srcRoot}. In the build context ({@code context}) a path
   * may not leave it, through {@code ..} or a symlink; in another stage's root, symlinks resolve inside it.
   */
  static List<Source> sources(Path srcRoot, boolean context, String src, String cmd) throws IOException {
    String rel = DockerIgnore.clean(src.startsWith("/") ? src.substring(1) : src);
    if (rel.equals("..") || rel.startsWith("../")) {
      throw EngineException.invalid("%s failed: forbidden path outside the build context: %s ()", cmd, src);
    }
    List<Source> out = new ArrayList<>();
    if (hasWildcard(rel)) {
      glob(srcRoot, rel.split("/"), 0, srcRoot, out);
      if (out.isEmpty()) {
        throw EngineException.invalid("%s failed: no source files were specified", cmd);
      }
      for (Source s : out) {
        checkInside(srcRoot, context, s.path(), src, cmd);
      }
      return out;
    }
    Path p;
    if (context) {
      p = rel.equals(".") ? srcRoot : srcRoot.resolve(rel);
      checkInside(srcRoot, true, p, src, cmd);
    } else {
      p = UserResolver.resolveInRoot(srcRoot, "/" + rel);
    }
    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      throw EngineException.invalid("%s failed: file not found in build context or excluded by .dockerignore: "
          + "stat %s: file does not exist", cmd, src);
    }
    String name = rel.equals(".") ? "" : rel.substring(rel.lastIndexOf('/') + 1);
    out.add(new Source(p, name));
    return out;
  }

  private static void checkInside(Path srcRoot, boolean context, Path p, String src, String cmd) throws IOException {
    if (!context || !Files.exists(p, LinkOption.NOFOLLOW_LINKS) && !Files.isSymbolicLink(p)) {
      return;
    }
    Path real;
    try {
      real = p.toRealPath();
    } catch (java.nio.file.NoSuchFileException e) {
      throw EngineException.invalid("%s failed: file not found in build context or excluded by .dockerignore: "
          + "stat %s: file does not exist", cmd, src);
    }
    if (!real.startsWith(srcRoot.toRealPath())) {
      throw EngineException.invalid("%s failed: forbidden path outside the build context: %s (%s)", cmd, src, real);
    }
  }

  private static boolean hasWildcard(String s) {
    return s.indexOf('*') >= 0 || s.indexOf('?') >= 0 || s.indexOf('[') >= 0;
  }

  private static void glob(Path dir, String[] parts, int at, Path srcRoot, List<Source> out) throws IOException {
    if (at == parts.length) {
      out.add(new Source(dir, dir.getFileName().toString()));
      return;
    }
    if (!hasWildcard(parts[at])) {
      Path next = dir.resolve(parts[at]);
      if (Files.exists(next, LinkOption.NOFOLLOW_LINKS)) {
        glob(next, parts, at + 1, srcRoot, out);
      }
      return;
    }
    if (!Files.isDirectory(dir)) {
      return;
    }
    Pattern p = Pattern.compile(elementRegex(parts[at]));
    List<Path> kids = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      ds.forEach(kids::add);
    }
    kids.sort(null);
    for (Path k : kids) {
      if (p.matcher(k.getFileName().toString()).matches()) {
        glob(k, parts, at + 1, srcRoot, out);
      }
    }
  }

  private static String elementRegex(String e) {
    StringBuilder r = new StringBuilder();
    for (int i = 0; i < e.length(); i++) {
      char c = e.charAt(i);
      if (c == '*') {
        r.append(".*");
      } else if (c == '?') {
        r.append('.');
      } else if (c == '[') {
        int end = e.indexOf(']', i + 1);
        if (end < 0) {
          r.append("\\[");
        } else {
          String cls = e.substring(i + 1, end);
          r.append('[').append(cls.startsWith("^") || cls.startsWith("!") ? "^" + cls.substring(1) : cls).append(']');
          i = end;
        }
      } else if (c == '\\' && i + 1 < e.length()) {
        r.append(Pattern.quote(String.valueOf(e.charAt(++i))));
      } else {
        r.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return r.toString();
  }

  /**
   * A digest of what the sources hold: names, types, modes, contents and link targets (and owners, when they
   * come from an image rather than the context, whose files all become root's). Same digest → same layer.
   */
  static String checksum(List<Source> sources, boolean owners) throws IOException {
    MessageDigest md = Digest.newSha256();
    byte[] buf = new byte[1 << 16];
    for (Source s : sources) {
      md.update(("source " + s.name() + "\0").getBytes(StandardCharsets.UTF_8));
      Path top = s.path();
      List<Path> all = new ArrayList<>();
      if (Files.isDirectory(top)) {
        try (var walk = Files.walk(top)) {
          walk.forEach(all::add);
        }
      } else {
        all.add(top.toRealPath()); // a lone symlink source is copied as what it points to
      }
      all.sort((a, b) -> Arrays.compare(rel(top, a).getBytes(StandardCharsets.UTF_8),
          rel(top, b).getBytes(StandardCharsets.UTF_8)));
      for (Path p : all) {
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,size", LinkOption.NOFOLLOW_LINKS);
        StringBuilder h = new StringBuilder(rel(top, p)).append('\0').append(Integer.toOctalString((Integer) a.get("mode")));
        if (owners) {
          h.append(' ').append(a.get("uid")).append(':').append(a.get("gid"));
        }
        if (Files.isSymbolicLink(p)) {
          h.append(" -> ").append(Files.readSymbolicLink(p));
        }
        md.update(h.append('\n').toString().getBytes(StandardCharsets.UTF_8));
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          try (InputStream in = Files.newInputStream(p)) {
            for (int n; (n = in.read(buf)) > 0; ) {
              md.update(buf, 0, n);
            }
          }
        }
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static String rel(Path top, Path p) {
    return p.startsWith(top) ? top.relativize(p).toString() : "";
  }

  /**
   * ADD of an http(s) URL: the file is downloaded into {@code dir} under the URL's last path element (mode 0600, its
   * Last-Modified time when given), as dockerd does; it is never unpacked. INVALID_PARAMETER when the fetch fails.
   */
  static Source download(String url, Path dir, boolean destIsDir) throws IOException {
    java.net.URI uri;
    try {
      uri = java.net.URI.create(url);
    } catch (IllegalArgumentException e) {
      throw EngineException.invalid("ADD failed: invalid URL %s", url);
    }
    String path = uri.getPath() == null ? "" : uri.getPath();
    String name = path.substring(path.lastIndexOf('/') + 1);
    if (name.isEmpty()) {
      if (destIsDir) {
        throw EngineException.invalid("cannot determine filename from url: %s", url);
      }
      name = "download";
    }
    Path target = Files.createDirectories(dir).resolve(name);
    try {
      java.net.http.HttpResponse<Path> r = java.net.http.HttpClient.newBuilder()
          .followRedirects(java.net.http.HttpClient.Redirect.NORMAL).connectTimeout(java.time.Duration.ofSeconds(30))
          .build().send(java.net.http.HttpRequest.newBuilder(uri).GET().build(),
              java.net.http.HttpResponse.BodyHandlers.ofFile(target));
      if (r.statusCode() != 200) {
        throw EngineException.invalid("ADD failed: invalid response status %d from %s", r.statusCode(), url);
      }
      Posix.chmod(target, 0600);
      r.headers().firstValue("Last-Modified").ifPresent(v -> {
        try {
          Files.setLastModifiedTime(target, java.nio.file.attribute.FileTime.from(java.time.ZonedDateTime.parse(v,
              java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME).toInstant()));
        } catch (IOException | java.time.DateTimeException e) {
          // a malformed header leaves the download time
        }
      });
      return new Source(target, name, true);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while downloading " + url);
    } catch (IOException e) {
      throw EngineException.invalid("ADD failed: Get \"%s\": %s", url, e.getMessage() == null
          ? e.getClass().getSimpleName() : e.getMessage());
    }
  }

  /** --chown's user[:group] as uid/gid, names looked up in the image's /etc/passwd and /etc/group; null without. */
  static long[] owner(Path root, String chown) throws IOException {
    if (chown == null || chown.isEmpty()) {
      return null;
    }
    String spec = chown;
    if (!chown.contains(":")) {
      // a lone user means that user's uid and the group of the same name or id, as the classic builder does
      spec = chown + ":" + chown;
      try {
        return ids(root, spec);
      } catch (EngineException e) {
        UserResolver.ExecUser u = UserResolver.resolve(root, chown, List.of());
        return new long[] {u.uid(), u.uid()};
      }
    }
    return ids(root, spec);
  }

  private static long[] ids(Path root, String spec) throws IOException {
    try {
      UserResolver.ExecUser u = UserResolver.resolve(root, spec, List.of());
      return new long[] {u.uid(), u.gid()};
    } catch (EngineException e) {
      throw EngineException.invalid("unable to convert uid/gid chown string to host mapping: %s", e.getMessage());
    }
  }

  /** Creates a directory and its missing parents (mode 0755, owned by uid:gid) inside the root. */
  static void mkdirs(Path root, String path, long uid, long gid) throws IOException {
    Path cur = root;
    StringBuilder sofar = new StringBuilder();
    for (String part : path.split("/")) {
      if (part.isEmpty()) {
        continue;
      }
      sofar.append('/').append(part);
      cur = UserResolver.resolveInRoot(root, sofar.toString());
      if (!Files.exists(cur, LinkOption.NOFOLLOW_LINKS)) {
        Files.createDirectory(cur);
        Posix.chmod(cur, 0755);
        Posix.lchown(cur, uid, gid);
      } else if (!Files.isDirectory(cur)) {
        throw EngineException.invalid("cannot copy to %s: %s is not a directory", path, sofar);
      }
    }
  }

  // ---- copying -----------------------------------------------------------------------------------

  void copy(List<Source> sources, String dest, boolean destIsDir) throws IOException {
    for (Source s : sources) {
      Path src = s.path();
      if (Files.isDirectory(src)) {
        mkdirs(root, dest, uid, gid);
        copyTree(src, UserResolver.resolveInRoot(root, dest));
        continue;
      }
      if (Files.isSymbolicLink(src)) {
        src = src.toRealPath();
      }
      if (add && !s.remote() && isArchive(src)) {
        mkdirs(root, dest, uid, gid);
        Path target = UserResolver.resolveInRoot(root, dest);
        try (InputStream in = decompress(Files.newInputStream(src))) {
          BuildContext.untar(in, target, true); // an archive's owners are kept unless --chown says otherwise
        }
        if (chownGiven) {
          chownTree(target);
        }
        continue;
      }
      String target = dest;
      Path resolved = UserResolver.resolveInRoot(root, dest);
      if (destIsDir || Files.isDirectory(resolved)) {
        mkdirs(root, dest, uid, gid);
        target = (dest.endsWith("/") ? dest : dest + "/") + s.name();
      } else {
        String parent = dest.substring(0, Math.max(dest.lastIndexOf('/'), 0));
        mkdirs(root, parent.isEmpty() ? "/" : parent, uid, gid);
      }
      copyFile(src, UserResolver.resolveInRoot(root, target));
    }
  }

  private void chownTree(Path top) throws IOException {
    try (var walk = Files.walk(top)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        Posix.lchown(p, uid, gid);
      }
    }
  }

  private void copyTree(Path from, Path to) throws IOException {
    List<Path> kids = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(from)) {
      ds.forEach(kids::add);
    }
    for (Path k : kids) {
      Path t = to.resolve(k.getFileName().toString());
      if (Files.isDirectory(k, LinkOption.NOFOLLOW_LINKS)) {
        if (Files.isSymbolicLink(t) || Files.exists(t, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(t,
            LinkOption.NOFOLLOW_LINKS)) {
          Files.delete(t);
        }
        if (!Files.exists(t, LinkOption.NOFOLLOW_LINKS)) {
          Files.createDirectory(t);
        }
        copyTree(k, t);
        Posix.lchown(t, uid, gid);
        Posix.chmod(t, chmod != null ? chmod : mode(k));
        Files.setLastModifiedTime(t, Files.getLastModifiedTime(k, LinkOption.NOFOLLOW_LINKS));
      } else {
        copyFile(k, t);
      }
    }
  }

  private void copyFile(Path from, Path to) throws IOException {
    if (Files.isDirectory(to, LinkOption.NOFOLLOW_LINKS)) {
      throw EngineException.invalid("cannot overwrite directory %s with a file", to.getFileName());
    }
    if (Files.isSymbolicLink(from)) {
      Files.deleteIfExists(to);
      Posix.symlink(Files.readSymbolicLink(from).toString(), to);
      Posix.lchown(to, uid, gid);
      return;
    }
    if (!Files.isRegularFile(from, LinkOption.NOFOLLOW_LINKS)) {
      return; // sockets, fifos and devices are not copied
    }
    Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING, LinkOption.NOFOLLOW_LINKS);
    Posix.lchown(to, uid, gid);
    Posix.chmod(to, chmod != null ? chmod : mode(from));
    Files.setLastModifiedTime(to, Files.getLastModifiedTime(from, LinkOption.NOFOLLOW_LINKS));
  }

  private static int mode(Path p) throws IOException {
    return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
  }

  /**
   * Whether ADD unpacks this file, as dockerd's {@code IsArchivePath}: it is a tar once decompressed (gzip, bzip2
   * or xz, told by their magic bytes; the name does not matter). A compressed file that is not a tar inside, or is
   * corrupt, is copied as it is.
   */
  static boolean isArchive(Path p) throws IOException {
    byte[] h;
    try (InputStream in = decompress(Files.newInputStream(p))) {
      h = in.readNBytes(512);
    } catch (IOException e) {
      return false;
    }
    return isTarHeader(h);
  }

  /** A tar header block: the ustar magic, or a v7 header whose checksum adds up. */
  static boolean isTarHeader(byte[] h) {
    if (h.length < 512) {
      return false;
    }
    if (new String(h, 257, 5, StandardCharsets.US_ASCII).equals("ustar")) {
      return true;
    }
    String field = new String(h, 148, 8, StandardCharsets.US_ASCII).replace('\0', ' ').trim();
    if (field.isEmpty() || h[0] == 0) {
      return false;
    }
    long want;
    try {
      want = Long.parseLong(field, 8);
    } catch (NumberFormatException e) {
      return false;
    }
    long sum = 0;
    for (int i = 0; i < 512; i++) {
      sum += i >= 148 && i < 156 ? ' ' : h[i] & 0xff;
    }
    return sum == want;
  }

  private static final byte[] XZ_MAGIC = {(byte) 0xfd, '7', 'z', 'X', 'Z', 0};

  /** The stream decompressed by its magic bytes (gzip, bzip2, xz), or as it is. */
  static InputStream decompress(InputStream raw) throws IOException {
    BufferedInputStream b = new BufferedInputStream(raw, 1 << 16);
    b.mark(8);
    byte[] h = b.readNBytes(6);
    b.reset();
    if (h.length >= 2 && (h[0] & 0xff) == 0x1f && (h[1] & 0xff) == 0x8b) {
      return new org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream(b, true);
    }
    if (h.length >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h') {
      return new org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream(b, true);
    }
    if (java.util.Arrays.equals(h, XZ_MAGIC)) {
      return new org.apache.commons.compress.compressors.xz.XZCompressorInputStream(b, true);
    }
    return b;
  }
}
