package berth.engine.layer;

import static berth.engine.sys.Posix.S_IFBLK;
import static berth.engine.sys.Posix.S_IFCHR;
import static berth.engine.sys.Posix.S_IFDIR;
import static berth.engine.sys.Posix.S_IFIFO;
import static berth.engine.sys.Posix.S_IFLNK;
import static berth.engine.sys.Posix.S_IFMT;
import static berth.engine.sys.Posix.S_IFREG;
import static berth.engine.sys.Posix.S_IFSOCK;

import berth.engine.sys.Posix;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a diff directory as a PAX tar the way moby's {@code pkg/archive} does for a layer:
 * sorted, mtimes truncated to seconds, no atime/ctime, overlay whiteouts as {@code .wh.} files.
 * It writes headers itself because commons-compress stores PAX values as UTF-8 text, which would
 * corrupt binary xattrs such as {@code security.capability}. Does not close the stream.
 */
final class TarWriter {
  private static final int BLOCK = 512;

  private final Path root;
  private final OutputStream out;
  private final Map<String, String> inodes = new HashMap<>();
  private final byte[] buf = new byte[TarUnpacker.BUFFER];

  /** Leaves out entries (named "/path", as in the container) that {@code skip} picks, and what is under them. */
  private final java.util.function.BiPredicate<String, Path> skip;

  TarWriter(Path root, OutputStream out) {
    this(root, out, null);
  }

  TarWriter(Path root, OutputStream out, java.util.function.BiPredicate<String, Path> skip) {
    this.root = root;
    this.out = out;
    this.skip = skip;
  }

  void write() throws IOException {
    walk(root, "");
    out.write(new byte[2 * BLOCK]);
    out.flush();
  }

  private void walk(Path dir, String prefix) throws IOException {
    List<Path> children = new ArrayList<>();
    try (var ds = Files.newDirectoryStream(dir)) {
      ds.forEach(children::add);
    }
    children.sort((a, b) -> Arrays.compare(
        a.getFileName().toString().getBytes(StandardCharsets.UTF_8),
        b.getFileName().toString().getBytes(StandardCharsets.UTF_8)));
    for (Path p : children) {
      String name = prefix + p.getFileName();
      if (skip != null && skip.test("/" + name, p)) {
        continue;
      }
      Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
      int mode = (Integer) a.get("mode");
      long uid = ((Number) a.get("uid")).longValue();
      long gid = ((Number) a.get("gid")).longValue();
      long mtime = ((FileTime) a.get("lastModifiedTime")).toInstant().getEpochSecond();
      int perm = mode & 07777;
      switch (mode & S_IFMT) {
        case S_IFDIR -> {
          emit(name + "/", '5', perm, uid, gid, mtime, 0, "", 0, 0, xattrs(p));
          byte[] opaque = Posix.lgetxattr(p, "trusted.overlay.opaque");
          if (opaque != null && Arrays.equals(opaque, new byte[] {'y'})) {
            emit(name + "/" + ".wh..wh..opq", '0', perm, uid, gid, mtime, 0, "", 0, 0, Map.of());
          }
          walk(p, name + "/");
        }
        case S_IFREG -> {
          long nlink = ((Number) a.get("nlink")).longValue();
          if (nlink > 1) {
            String key = a.get("dev") + ":" + a.get("ino");
            String first = inodes.putIfAbsent(key, name);
            if (first != null) {
              emit(name, '1', perm, uid, gid, mtime, 0, first, 0, 0, xattrs(p));
              continue;
            }
          }
          long size = (Long) a.get("size");
          emit(name, '0', perm, uid, gid, mtime, size, "", 0, 0, xattrs(p));
          copy(p, size);
        }
        case S_IFLNK -> emit(name, '2', perm, uid, gid, mtime, 0,
            Files.readSymbolicLink(p).toString(), 0, 0, xattrs(p));
        case S_IFCHR, S_IFBLK -> {
          long rdev = ((Number) a.get("rdev")).longValue();
          if ((mode & S_IFMT) == S_IFCHR && rdev == 0) {
            // An overlayfs whiteout goes back to AUFS form (moby's overlayWhiteoutConverter).
            String base = p.getFileName().toString();
            emit(prefix + ".wh." + base, '0', perm, uid, gid, mtime, 0, "", 0, 0, Map.of());
          } else {
            char type = (mode & S_IFMT) == S_IFCHR ? '3' : '4';
            emit(name, type, perm, uid, gid, mtime, 0, "", Posix.major(rdev), Posix.minor(rdev), xattrs(p));
          }
        }
        case S_IFIFO -> emit(name, '6', perm, uid, gid, mtime, 0, "", 0, 0, xattrs(p));
        default -> {
          // sockets cannot be archived; moby skips them too
        }
      }
    }
  }

  private Map<String, byte[]> xattrs(Path p) throws IOException {
    List<String> names = Posix.llistxattr(p);
    if (names.isEmpty()) {
      return Map.of();
    }
    Map<String, byte[]> out = new TreeMap<>();
    for (String n : names) {
      if (n.startsWith("trusted.overlay.")) {
        continue;
      }
      byte[] v = Posix.lgetxattr(p, n);
      if (v != null) {
        out.put(n, v);
      }
    }
    return out;
  }

  private void copy(Path p, long size) throws IOException {
    long left = size;
    try (InputStream in = Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS)) {
      while (left > 0) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, left));
        if (n < 0) {
          throw new IOException("file shrank while archiving: " + p);
        }
        out.write(buf, 0, n);
        left -= n;
      }
    }
    pad(size);
  }

  private void pad(long size) throws IOException {
    int rem = (int) (size % BLOCK);
    if (rem != 0) {
      out.write(new byte[BLOCK - rem]);
    }
  }

  private void emit(String name, char type, int mode, long uid, long gid, long mtime, long size,
      String link, int major, int minor, Map<String, byte[]> xattrs) throws IOException {
    ByteArrayOutputStream pax = new ByteArrayOutputStream();
    byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
    byte[] linkBytes = link.getBytes(StandardCharsets.UTF_8);
    if (nameBytes.length > 100 || !isAscii(nameBytes)) {
      record(pax, "path", nameBytes);
    }
    if (linkBytes.length > 100 || !isAscii(linkBytes)) {
      record(pax, "linkpath", linkBytes);
    }
    if (uid > 07777777 || uid < 0) {
      record(pax, "uid", Long.toString(uid).getBytes(StandardCharsets.US_ASCII));
    }
    if (gid > 07777777 || gid < 0) {
      record(pax, "gid", Long.toString(gid).getBytes(StandardCharsets.US_ASCII));
    }
    if (size > 077777777777L) {
      record(pax, "size", Long.toString(size).getBytes(StandardCharsets.US_ASCII));
    }
    if (mtime > 077777777777L || mtime < 0) {
      record(pax, "mtime", Long.toString(mtime).getBytes(StandardCharsets.US_ASCII));
    }
    for (Map.Entry<String, byte[]> x : xattrs.entrySet()) {
      record(pax, "SCHILY.xattr." + x.getKey(), x.getValue());
    }
    if (pax.size() > 0) {
      byte[] data = pax.toByteArray();
      out.write(header(asciiName("PaxHeaders.0/" + name), 'x', 0644, 0, 0, mtime, data.length, "", 0, 0));
      out.write(data);
      pad(data.length);
    }
    out.write(header(asciiName(name), type, mode, uid, gid, mtime, size, asciiName(link), major, minor));
  }

  /** A ustar-safe stand-in for a name the PAX header carries in full. */
  private static String asciiName(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && b.length() < 100; i++) {
      char c = s.charAt(i);
      b.append(c < 0x80 ? c : '_');
    }
    return b.toString();
  }

  private static byte[] header(String name, char type, int mode, long uid, long gid, long mtime,
      long size, String link, int major, int minor) {
    byte[] h = new byte[BLOCK];
    put(h, 0, 100, name.getBytes(StandardCharsets.US_ASCII));
    octal(h, 100, 8, mode);
    octal(h, 108, 8, Math.min(Math.max(uid, 0), 07777777));
    octal(h, 116, 8, Math.min(Math.max(gid, 0), 07777777));
    octal(h, 124, 12, Math.min(size, 077777777777L));
    octal(h, 136, 12, Math.min(Math.max(mtime, 0), 077777777777L));
    h[156] = (byte) type;
    put(h, 157, 100, link.getBytes(StandardCharsets.US_ASCII));
    put(h, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
    put(h, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
    if (type == '3' || type == '4') {
      octal(h, 329, 8, major);
      octal(h, 337, 8, minor);
    }
    Arrays.fill(h, 148, 156, (byte) ' ');
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    byte[] chk = String.format("%06o", sum).getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(chk, 0, h, 148, 6);
    h[154] = 0;
    h[155] = ' ';
    return h;
  }

  private static void put(byte[] h, int off, int len, byte[] v) {
    System.arraycopy(v, 0, h, off, Math.min(len, v.length));
  }

  private static void octal(byte[] h, int off, int len, long v) {
    String s = Long.toOctalString(v);
    String padded = "0".repeat(Math.max(0, len - 1 - s.length())) + s;
    put(h, off, len - 1, padded.getBytes(StandardCharsets.US_ASCII));
  }

  /** One "len key=value\n" record, where len counts its own digits. */
  private static void record(ByteArrayOutputStream pax, String key, byte[] value) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    int rest = 1 + k.length + 1 + value.length + 1; // ' ' key '=' value '\n'
    int len = rest + 1;
    while (Integer.toString(len).length() + rest != len) {
      len = Integer.toString(len).length() + rest;
    }
    pax.writeBytes(Integer.toString(len).getBytes(StandardCharsets.US_ASCII));
    pax.write(' ');
    pax.writeBytes(k);
    pax.write('=');
    pax.writeBytes(value);
    pax.write('\n');
  }

  private static boolean isAscii(byte[] b) {
    for (byte x : b) {
      if (x < 0x20 || x >= 0x7f) {
        return false;
      }
    }
    return true;
  }
}
