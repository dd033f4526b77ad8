package berth.engine.layer;

import berth.engine.sys.Threads;

import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.store.Trees;
import berth.engine.errdefs.ErrorKind;
import berth.engine.sys.Posix;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarUtils;

/**
 * Unpacks one layer tar stream into an empty directory, hashing the uncompressed stream as it
 * goes. It follows moby's {@code pkg/archive} and containerd's {@code archive/tar.go}: names are
 * cleaned and may not leave the root, nothing is created through a symlink, hard links must
 * name an earlier entry, and AUFS-style whiteouts become overlayfs ones. One instance per layer;
 * not thread-safe.
 */
final class TarUnpacker {
  static final int BUFFER = 256 * 1024;
  /** Like Go's archive/tar, refuse PAX and GNU long-name records over 1 MiB rather than buffer them. */
  private static final long MAX_SPECIAL_RECORD = 1 << 20;
  private static final String WHITEOUT = ".wh.";
  private static final String WHITEOUT_META = ".wh..wh.";
  private static final String WHITEOUT_OPAQUE = ".wh..wh..opq";
  private static final String XATTR_PAX = "SCHILY.xattr.";

  private enum Kind { DIR, FILE, SYMLINK, OTHER }

  /** What an unpack produced. */
  record Result(Digest diffId, long size) {}

  private record DirTime(Path path, FileTime atime, FileTime mtime) {}

  private final Path root;
  private final boolean privileged = Posix.euid() == 0;
  /** Every path this unpack created, relative to root; the invariant is that a DIR's ancestors are all real directories. */
  private final Map<String, Kind> created = new HashMap<>();
  private final List<DirTime> dirTimes = new ArrayList<>();
  private final byte[] buf = new byte[BUFFER];
  private long size;

  private SourceStream source;
  private LayerTarStream tar;

  TarUnpacker(Path root) {
    this.root = root;
    created.put("", Kind.DIR);
  }

  /** Reads {@code blob} to its end and unpacks it under the root; the caller removes the root on failure. */
  Result unpack(InputStream blob) throws IOException {
    source = new SourceStream(blob);
    BufferedInputStream raw = new BufferedInputStream(source, BUFFER);
    raw.mark(Compression.MAGIC_LENGTH);
    byte[] head = raw.readNBytes(Compression.MAGIC_LENGTH);
    raw.reset();
    if (head.length == 0) {
      throw EngineException.invalid("invalid layer: empty");
    }
    Compression compression = Compression.detect(head, head.length);
    ReadAhead readAhead = null;
    try {
      HashingStream hashed;
      try {
        InputStream plain = compression.decompress(raw);
        if (compression != Compression.NONE) {
          // Inflating is the slowest stage; give it its own core while this one hashes and writes.
          plain = readAhead = new ReadAhead(plain);
        }
        hashed = new HashingStream(plain);
      } catch (IOException | RuntimeException e) {
        throw malformed(e);
      }
      tar = new LayerTarStream(new BufferedInputStream(hashed, BUFFER));
      TarArchiveEntry entry;
      while ((entry = next()) != null) {
        apply(entry);
      }
      // Hash what follows the end-of-archive blocks too: the diffID covers the whole uncompressed stream.
      try {
        while (hashed.read(buf, 0, buf.length) >= 0) {
          // draining
        }
      } catch (IOException | RuntimeException e) {
        throw malformed(e);
      }
      for (int i = dirTimes.size() - 1; i >= 0; i--) {
        DirTime t = dirTimes.get(i);
        setTimes(t.path, t.atime, t.mtime);
      }
      return new Result(Digest.fromBytes(hashed.sha.digest()), size);
    } finally {
      if (readAhead != null) {
        readAhead.close();
      }
    }
  }

  private TarArchiveEntry next() throws IOException {
    try {
      TarArchiveEntry e = tar.getNextEntry();
      if (e != null && !e.isCheckSumOK()) {
        throw EngineException.invalid("invalid layer: invalid tar header checksum for %s", e.getName());
      }
      return e;
    } catch (IOException | RuntimeException e) {
      throw malformed(e);
    }
  }

  /**
   * An exception from parsing or decompressing: I/O failures of the blob itself stay IOExceptions;
   * anything else means the archive is malformed (INVALID_PARAMETER).
   */
  private IOException malformed(Exception e) {
    if (source.failure != null) {
      return source.failure;
    }
    if (e instanceof EngineException ee) {
      throw ee;
    }
    String msg = e.getMessage() != null ? e.getMessage()
        : e instanceof java.io.EOFException ? "unexpected end of data (the layer is truncated)"
        : "unreadable data (" + e.getClass().getSimpleName() + ")";
    throw new EngineException(ErrorKind.INVALID_PARAMETER, "invalid layer: " + msg, e);
  }

  private void apply(TarArchiveEntry e) throws IOException {
    String rel = clean(e.getName());
    String base = rel.substring(rel.lastIndexOf('/') + 1);
    if (base.startsWith(WHITEOUT)) {
      whiteout(rel, base, e);
      return;
    }
    if (rel.isEmpty()) {
      if (!e.isDirectory()) {
        throw EngineException.invalid("invalid layer: entry for the layer root is not a directory: %s", e.getName());
      }
      applyMetadata(root, e, Kind.DIR);
      return;
    }
    ensureParent(rel, e.getName());
    Path path = root.resolve(rel);
    Kind existing = created.get(rel);
    if (existing != null) {
      if (existing == Kind.DIR && e.isDirectory()) {
        applyMetadata(path, e, Kind.DIR);
        return;
      }
      remove(rel, existing);
    }
    Kind kind;
    if (e.isDirectory()) {
      Files.createDirectory(path);
      kind = Kind.DIR;
    } else if (e.isSymbolicLink()) {
      // Created verbatim and never followed: absolute targets are normal in images.
      Posix.symlink(e.getLinkName(), path);
      kind = Kind.SYMLINK;
    } else if (e.isLink()) {
      hardLink(rel, path, e);
      return;
    } else if (e.isCharacterDevice()) {
      Posix.mknod(path, Posix.S_IFCHR | (e.getMode() & 07777), e.getDevMajor(), e.getDevMinor());
      kind = Kind.OTHER;
    } else if (e.isBlockDevice()) {
      Posix.mknod(path, Posix.S_IFBLK | (e.getMode() & 07777), e.getDevMajor(), e.getDevMinor());
      kind = Kind.OTHER;
    } else if (e.isFIFO()) {
      Posix.mknod(path, Posix.S_IFIFO | (e.getMode() & 07777), 0, 0);
      kind = Kind.OTHER;
    } else if (e.isFile()) {
      writeFile(path, e);
      kind = Kind.FILE;
    } else {
      throw EngineException.invalid(
          "invalid layer: unsupported tar entry type '%s' for %s", typeFlag(e), e.getName());
    }
    created.put(rel, kind);
    applyMetadata(path, e, kind);
  }

  private void writeFile(Path path, TarArchiveEntry e) throws IOException {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ByteBuffer bb = ByteBuffer.wrap(buf);
      int n;
      while ((n = readEntry()) > 0) {
        bb.clear().limit(n);
        while (bb.hasRemaining()) {
          ch.write(bb);
        }
        size += n;
      }
    }
  }

  private int readEntry() throws IOException {
    try {
      return tar.read(buf, 0, buf.length);
    } catch (IOException | RuntimeException e) {
      throw malformed(e);
    }
  }

  private void hardLink(String rel, Path path, TarArchiveEntry e) throws IOException {
    String target;
    try {
      target = clean(e.getLinkName());
    } catch (EngineException ex) {
      throw EngineException.invalid(
          "invalid layer: hard link target escapes layer root: %s -> %s", e.getName(), e.getLinkName());
    }
    // A path in `created` was reached through real directories only, so linking to it cannot
    // leave the root; link(2) does not follow a symlink in the last component either.
    Kind kind = created.get(target);
    if (kind == null) {
      throw EngineException.invalid(
          "invalid layer: hard link target is not an earlier entry of the layer: %s -> %s", e.getName(), e.getLinkName());
    }
    if (kind == Kind.DIR) {
      throw EngineException.invalid(
          "invalid layer: hard link to a directory: %s -> %s", e.getName(), e.getLinkName());
    }
    Files.createLink(path, root.resolve(target));
    created.put(rel, kind);
  }

  private void whiteout(String rel, String base, TarArchiveEntry e) throws IOException {
    ensureParent(rel, e.getName());
    int slash = rel.lastIndexOf('/');
    String parent = slash < 0 ? "" : rel.substring(0, slash);
    if (base.equals(WHITEOUT_OPAQUE)) {
      // overlayfs hides everything below an opaque directory in lower layers.
      setXattr(root.resolve(parent), "trusted.overlay.opaque", new byte[] {'y'}, true);
      return;
    }
    if (base.startsWith(WHITEOUT_META)) {
      return; // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
    }
    String name = base.substring(WHITEOUT.length());
    if (name.isEmpty() || name.equals(".") || name.equals("..")) {
      throw EngineException.invalid("invalid layer: invalid whiteout name: %s", e.getName());
    }
    String target = parent.isEmpty() ? name : parent + "/" + name;
    Kind existing = created.get(target);
    if (existing != null) {
      remove(target, existing);
    }
    Path path = root.resolve(target);
    // An overlayfs whiteout is a 0:0 character device (containerd's overlay whiteout converter).
    Posix.mknod(path, Posix.S_IFCHR, 0, 0);
    created.put(target, Kind.OTHER);
    if (privileged) {
      Posix.lchown(path, e.getLongUserId(), e.getLongGroupId());
    }
  }

  /** Makes sure every ancestor of {@code rel} is a real directory, creating missing ones (0755, as moby's MkdirAll). */
  private void ensureParent(String rel, String name) throws IOException {
    int slash = rel.lastIndexOf('/');
    if (slash < 0) {
      return;
    }
    String parent = rel.substring(0, slash);
    Kind kind = created.get(parent);
    if (kind == Kind.DIR) {
      return;
    }
    if (kind == Kind.SYMLINK) {
      throw EngineException.invalid("invalid layer: path traverses a symlink: %s", name);
    }
    if (kind != null) {
      throw EngineException.invalid("invalid layer: parent is not a directory: %s", name);
    }
    ensureParent(parent, name);
    Files.createDirectory(root.resolve(parent));
    created.put(parent, Kind.DIR);
  }

  /** Removes an earlier entry that a later one replaces (moby removes unless both are directories). */
  private void remove(String rel, Kind kind) throws IOException {
    Path path = root.resolve(rel);
    if (kind == Kind.DIR) {
      Trees.delete(path);
      String prefix = rel + "/";
      for (Iterator<String> it = created.keySet().iterator(); it.hasNext(); ) {
        if (it.next().startsWith(prefix)) {
          it.remove();
        }
      }
      dirTimes.removeIf(t -> t.path.startsWith(path));
    } else {
      Files.delete(path);
    }
    created.remove(rel);
  }

  /** Owner, xattrs, mode, then times, in moby's order: chown clears setuid and file capabilities. */
  private void applyMetadata(Path path, TarArchiveEntry e, Kind kind) throws IOException {
    if (privileged) {
      Posix.lchown(path, e.getLongUserId(), e.getLongGroupId());
    }
    for (Map.Entry<String, byte[]> x : tar.xattrs.entrySet()) {
      setXattr(path, x.getKey(), x.getValue(), false);
    }
    if (kind != Kind.SYMLINK) {
      Posix.chmod(path, e.getMode() & 07777);
    }
    FileTime mtime = e.getLastModifiedTime();
    FileTime atime = e.getLastAccessTime();
    if (kind == Kind.DIR) {
      dirTimes.add(new DirTime(path, atime, mtime));
    } else {
      setTimes(path, atime, mtime);
    }
  }

  private static void setTimes(Path path, FileTime atime, FileTime mtime) throws IOException {
    if (mtime == null) {
      return;
    }
    Instant m = mtime.toInstant();
    Instant a = atime == null ? m : atime.toInstant();
    Posix.lutimens(path, a.getEpochSecond(), a.getNano(), m.getEpochSecond(), m.getNano());
  }

  private void setXattr(Path path, String name, byte[] value, boolean required) throws IOException {
    try {
      Posix.lsetxattr(path, name, value);
    } catch (Posix.ErrnoException ex) {
      // A filesystem without xattr support refuses with EOPNOTSUPP; moby skips those too.
      if (ex.errno() == Posix.EOPNOTSUPP && !required) {
        return;
      }
      throw ex;
    }
  }

  /**
   * Cleans a tar name to a relative path ("" for the root): leading "/" and "./" go, "a//b" and
   * "a/./b" collapse, and a ".." that would climb above the root rejects the layer.
   */
  static String clean(String name) {
    if (name.indexOf('\0') >= 0) {
      throw EngineException.invalid("invalid layer: NUL in entry name: %s", name);
    }
    String clean = TarPaths.normalize(name);
    if (clean == null) {
      throw EngineException.invalid("invalid layer: path escapes layer root: %s", name);
    }
    return clean;
  }


  private static String typeFlag(TarArchiveEntry e) {
    if (e.isGNUSparse() || e.isSparse()) {
      return "sparse";
    }
    return e.isGlobalPaxHeader() ? "g" : "?";
  }

  /** The blob as read from the caller; remembers its own I/O failure so it is not mistaken for a bad archive. */
  private static final class SourceStream extends FilterInputStream {
    volatile IOException failure;

    SourceStream(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      try {
        return super.read();
      } catch (IOException e) {
        failure = e;
        throw e;
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        return in.read(b, off, len);
      } catch (IOException e) {
        failure = e;
        throw e;
      }
    }

    @Override
    public long skip(long n) throws IOException {
      try {
        return in.skip(n);
      } catch (IOException e) {
        failure = e;
        throw e;
      }
    }
  }

  /**
   * Reads a stream to its end on a background thread, 256 KiB at a time, a few chunks ahead of
   * the reader. Errors reach the reader unchanged. {@link #close} stops and joins the thread but
   * does not close the underlying stream, which belongs to the caller of unpack.
   */
  private static final class ReadAhead extends InputStream {
    private static final int DEPTH = 4;

    private record Chunk(byte[] buf, int len, Throwable error) {}

    private final BlockingQueue<Chunk> full = new ArrayBlockingQueue<>(DEPTH);
    private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(DEPTH + 2);
    private final Thread thread;
    private volatile boolean stopped;
    private Chunk cur;
    private int pos;

    ReadAhead(InputStream in) {
      thread = new Thread(() -> produce(in), "berth-layer-read-ahead");
      thread.setDaemon(true);
      thread.start();
    }

    private void produce(InputStream in) {
      try {
        while (!stopped) {
          byte[] b = free.poll();
          if (b == null) {
            b = new byte[BUFFER];
          }
          int n = in.readNBytes(b, 0, b.length);
          if (!offer(new Chunk(b, n, null)) || n < b.length) {
            break;
          }
        }
        offer(new Chunk(null, -1, null));
      } catch (Throwable t) {
        offer(new Chunk(null, -1, t));
      }
    }

    private boolean offer(Chunk c) {
      try {
        while (!full.offer(c, 100, TimeUnit.MILLISECONDS)) {
          if (stopped) {
            return false;
          }
        }
        return true;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }

    private boolean fill() throws IOException {
      while (cur == null || (cur.len >= 0 && pos >= cur.len)) {
        if (cur != null && cur.buf != null) {
          free.offer(cur.buf);
        }
        try {
          cur = full.take();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("interrupted while unpacking a layer");
        }
        pos = 0;
        if (cur.error instanceof IOException e) {
          throw e;
        } else if (cur.error instanceof RuntimeException e) {
          throw e;
        } else if (cur.error instanceof Error e) {
          throw e;
        }
      }
      return cur.len > 0;
    }

    @Override
    public int read() throws IOException {
      return fill() ? cur.buf[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      if (!fill()) {
        return -1;
      }
      int n = Math.min(len, cur.len - pos);
      System.arraycopy(cur.buf, pos, b, off, n);
      pos += n;
      return n;
    }

    @Override
    public void close() {
      stopped = true;
      full.clear();
      Threads.joinUninterruptibly(thread);
    }
  }

  /** Hashes and counts every byte of the uncompressed stream. */
  private static final class HashingStream extends FilterInputStream {
    final MessageDigest sha = Digest.newSha256();

    HashingStream(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        sha.update((byte) b);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) {
        sha.update(b, off, n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      // Skipped bytes must be hashed as well, so read them.
      byte[] tmp = new byte[(int) Math.min(n, 8192)];
      long done = 0;
      while (done < n) {
        int r = read(tmp, 0, (int) Math.min(tmp.length, n - done));
        if (r < 0) {
          break;
        }
        done += r;
      }
      return done;
    }

    @Override
    public boolean markSupported() {
      return false;
    }
  }

  /**
   * commons-compress's tar reader made strict where Go's archive/tar is: a header cut short is an
   * error rather than a silent end, special records are size-limited, and the raw bytes of each
   * PAX header are kept so binary xattr values ({@code security.capability}) survive, since the
   * library decodes PAX values as UTF-8.
   */
  private static final class LayerTarStream extends TarArchiveInputStream {
    private final ByteArrayOutputStream pax = new ByteArrayOutputStream();
    /** The SCHILY.xattr.* records of the entry last returned, with raw values. */
    Map<String, byte[]> xattrs = Map.of();

    LayerTarStream(InputStream in) {
      super(in, StandardCharsets.UTF_8.name());
    }

    private int depth;

    @Override
    public TarArchiveEntry getNextEntry() throws IOException {
      // The library recurses into getNextEntry after a PAX header; collect across the whole call.
      if (depth++ == 0) {
        pax.reset();
      }
      try {
        TarArchiveEntry e = super.getNextEntry();
        if (depth == 1) {
          xattrs = pax.size() == 0 ? Map.of() : parseXattrs(pax.toByteArray());
        }
        return e;
      } finally {
        depth--;
      }
    }

    @Override
    protected byte[] readRecord() throws IOException {
      long before = getBytesRead();
      byte[] record = super.readRecord();
      if (record == null && getBytesRead() != before) {
        throw new java.io.EOFException("unexpected end of tar stream (truncated header)");
      }
      if (record == null || isEOFRecord(record)) {
        return record;
      }
      TarArchiveEntry cur = getCurrentEntry();
      boolean sparseExtension = cur != null && cur.isOldGNUSparse() && cur.isExtended();
      if (!sparseExtension && !TarUtils.verifyCheckSum(record)) {
        throw new IOException("invalid tar header checksum");
      }
      if (!sparseExtension) {
        byte type = record[156];
        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
          long len = TarUtils.parseOctalOrBinary(record, 124, 12);
          if (len > MAX_SPECIAL_RECORD || len < 0) {
            throw new IOException("tar special header of " + len + " bytes is too large");
          }
        }
      }
      return record;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      TarArchiveEntry cur = getCurrentEntry();
      if (n > 0 && cur != null && cur.isPaxHeader() && !cur.isGlobalPaxHeader()) {
        pax.write(b, off, n);
      }
      return n;
    }

    /** Parses "len key=value\n" records (POSIX pax format) for SCHILY.xattr.* keys. */
    private static Map<String, byte[]> parseXattrs(byte[] data) throws IOException {
      Map<String, byte[]> out = new LinkedHashMap<>();
      int pos = 0;
      while (pos < data.length) {
        int sp = pos;
        long len = 0;
        while (sp < data.length && data[sp] >= '0' && data[sp] <= '9' && sp - pos < 10) {
          len = len * 10 + (data[sp] - '0');
          sp++;
        }
        if (sp >= data.length || data[sp] != ' ' || len <= sp - pos + 1 || pos + len > data.length) {
          if (data[pos] == 0) {
            break; // NUL padding
          }
          throw new IOException("malformed PAX header");
        }
        int end = (int) (pos + len);
        int eq = sp + 1;
        while (eq < end && data[eq] != '=') {
          eq++;
        }
        if (eq >= end || data[end - 1] != '\n') {
          throw new IOException("malformed PAX header");
        }
        String key = new String(data, sp + 1, eq - sp - 1, StandardCharsets.UTF_8);
        if (key.startsWith(XATTR_PAX)) {
          byte[] value = java.util.Arrays.copyOfRange(data, eq + 1, end - 1);
          out.put(key.substring(XATTR_PAX.length()), value);
        }
        pos = end;
      }
      return out;
    }
  }
}
