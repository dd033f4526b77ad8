package berth.engine.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The few libc calls the JDK lacks (device nodes, owners and times of symlinks, xattrs, mounts,
 * raw file descriptors and network namespaces),
 * bound with JNA direct mapping. Every call throws {@link ErrnoException}, an {@link IOException}
 * carrying errno and its strerror text, on failure. Paths are encoded as the JDK encodes them.
 */
public final class Posix {
  /** The file-type bits of a mode ({@code st_mode & S_IFMT}) and their values, as in stat(2). */
  public static final int S_IFMT = 0170000;
  public static final int S_IFIFO = 0010000;
  public static final int S_IFCHR = 0020000;
  public static final int S_IFDIR = 0040000;
  public static final int S_IFBLK = 0060000;
  public static final int S_IFREG = 0100000;
  public static final int S_IFLNK = 0120000;
  public static final int S_IFSOCK = 0140000;
  public static final int EPERM = 1;
  public static final int ENOENT = 2;
  public static final int EBUSY = 16;
  public static final int ENODATA = 61;
  public static final int ENOSPC = 28;
  public static final int ERANGE = 34;
  public static final int EOPNOTSUPP = 95;
  public static final int MNT_DETACH = 2;
  public static final int O_RDONLY = 0;
  public static final int O_CLOEXEC = 02000000;
  public static final int CLONE_NEWNET = 0x40000000;
  public static final long MS_RDONLY = 1;
  public static final long MS_NOSUID = 2;
  public static final long MS_NODEV = 4;
  public static final long MS_NOEXEC = 8;
  public static final long MS_SYNCHRONOUS = 16;
  public static final long MS_REMOUNT = 32;
  public static final long MS_NOATIME = 1024;
  public static final long MS_BIND = 4096;
  public static final long MS_REC = 16384;
  public static final long MS_PRIVATE = 1L << 18;

  private static final int AT_FDCWD = -100;
  private static final int AT_SYMLINK_NOFOLLOW = 0x100;
  private static final long UTIME_OMIT = (1L << 30) - 2;
  // Java maps path strings to bytes with sun.jnu.encoding; use the same so both agree on names.
  private static final Charset PATH_CHARSET = pathCharset();

  static {
    Native.register("c");
  }

  private Posix() {}

  /** An errno from a failed libc call, with strerror's text as the message. */
  public static final class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    ErrnoException(String op, Path path, int errno) {
      this(op + " " + path, errno);
    }

    ErrnoException(String what, int errno) {
      super(what + ": " + strerror(errno));
      this.errno = errno;
    }

    /** The errno value, e.g. {@link Posix#EOPNOTSUPP}. */
    public int errno() {
      return errno;
    }
  }

  private static native int mknod(byte[] path, int mode, long dev) throws LastErrorException;

  private static native int lchown(byte[] path, int uid, int gid) throws LastErrorException;

  private static native int chmod(byte[] path, int mode) throws LastErrorException;

  private static native int symlink(byte[] target, byte[] linkpath) throws LastErrorException;

  private static native int lsetxattr(byte[] path, byte[] name, byte[] value, long size, int flags)
      throws LastErrorException;

  private static native long lgetxattr(byte[] path, byte[] name, byte[] value, long size)
      throws LastErrorException;

  private static native long llistxattr(byte[] path, byte[] list, long size) throws LastErrorException;

  private static native int utimensat(int dirfd, byte[] path, long[] times, int flags)
      throws LastErrorException;

  private static native int mount(byte[] source, byte[] target, byte[] fstype, long flags, byte[] data)
      throws LastErrorException;

  private static native int umount2(byte[] target, int flags) throws LastErrorException;

  private static native int rmdir(byte[] path) throws LastErrorException;

  // open(2) is variadic; the mode argument is only read with O_CREAT, which this binding never passes.
  private static native int open(byte[] path, int flags) throws LastErrorException;

  private static native int close(int fd) throws LastErrorException;

  private static native int setns(int fd, int nstype) throws LastErrorException;

  private static native String strerror(int errnum);

  private static native int geteuid();

  /** The effective user ID of this process. */
  public static int euid() {
    return geteuid();
  }

  /** Creates a device node or FIFO; {@code mode} holds the file type ({@link #S_IFCHR} ...) and permissions. */
  public static void mknod(Path path, int mode, int major, int minor) throws IOException {
    try {
      mknod(bytes(path), mode, makedev(major, minor));
    } catch (LastErrorException e) {
      throw new ErrnoException("mknod", path, e.getErrorCode());
    }
  }

  /** Changes the owner of {@code path} without following a symlink there. */
  public static void lchown(Path path, long uid, long gid) throws IOException {
    try {
      lchown(bytes(path), (int) uid, (int) gid);
    } catch (LastErrorException e) {
      throw new ErrnoException("lchown", path, e.getErrorCode());
    }
  }

  /** Sets all twelve mode bits (setuid, setgid and sticky included), which the JDK cannot. Follows symlinks. */
  public static void chmod(Path path, int mode) throws IOException {
    try {
      chmod(bytes(path), mode & 07777);
    } catch (LastErrorException e) {
      throw new ErrnoException("chmod", path, e.getErrorCode());
    }
  }

  /** Creates a symlink whose target is stored byte for byte as given (the JDK normalises it). */
  public static void symlink(String target, Path link) throws IOException {
    try {
      symlink(cstring(target), bytes(link));
    } catch (LastErrorException e) {
      throw new ErrnoException("symlink", link, e.getErrorCode());
    }
  }

  /** Sets an extended attribute without following a symlink. */
  public static void lsetxattr(Path path, String name, byte[] value) throws IOException {
    try {
      lsetxattr(bytes(path), cstring(name), value, value.length, 0);
    } catch (LastErrorException e) {
      throw new ErrnoException("lsetxattr " + name, path, e.getErrorCode());
    }
  }

  /** Reads an extended attribute without following a symlink; null if it is not set. */
  public static byte[] lgetxattr(Path path, String name) throws IOException {
    byte[] p = bytes(path);
    byte[] n = cstring(name);
    for (int size = 256; ; size *= 4) {
      byte[] buf = new byte[size];
      try {
        long len = lgetxattr(p, n, buf, buf.length);
        return java.util.Arrays.copyOf(buf, (int) len);
      } catch (LastErrorException e) {
        if (e.getErrorCode() == ENODATA) {
          return null;
        }
        if (e.getErrorCode() != ERANGE || size > (1 << 24)) {
          throw new ErrnoException("lgetxattr " + name, path, e.getErrorCode());
        }
      }
    }
  }

  /** The names of the extended attributes of {@code path}, not following a symlink. */
  public static List<String> llistxattr(Path path) throws IOException {
    byte[] p = bytes(path);
    for (int size = 1024; ; size *= 4) {
      byte[] buf = new byte[size];
      long len;
      try {
        len = llistxattr(p, buf, buf.length);
      } catch (LastErrorException e) {
        if (e.getErrorCode() == EOPNOTSUPP) {
          return List.of();
        }
        if (e.getErrorCode() != ERANGE || size > (1 << 24)) {
          throw new ErrnoException("llistxattr", path, e.getErrorCode());
        }
        continue;
      }
      List<String> names = new ArrayList<>();
      int start = 0;
      for (int i = 0; i < len; i++) {
        if (buf[i] == 0) {
          if (i > start) {
            names.add(new String(buf, start, i - start, StandardCharsets.UTF_8));
          }
          start = i + 1;
        }
      }
      return names;
    }
  }

  /**
   * Sets access and modification times with nanoseconds, not following a symlink; a negative
   * {@code atimeSec} leaves the access time alone.
   */
  public static void lutimens(Path path, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec)
      throws IOException {
    long[] times = atimeSec < 0
        ? new long[] {0, UTIME_OMIT, mtimeSec, mtimeNsec}
        : new long[] {atimeSec, atimeNsec, mtimeSec, mtimeNsec};
    try {
      utimensat(AT_FDCWD, bytes(path), times, AT_SYMLINK_NOFOLLOW);
    } catch (LastErrorException e) {
      throw new ErrnoException("utimensat", path, e.getErrorCode());
    }
  }

  /** mount(2); {@code data} may be null. */
  public static void mount(String source, Path target, String fstype, long flags, String data)
      throws IOException {
    try {
      mount(cstring(source), bytes(target), cstring(fstype), flags, data == null ? null : cstring(data));
    } catch (LastErrorException e) {
      throw new ErrnoException("mount " + fstype, target, e.getErrorCode());
    }
  }

  /** umount2(2), e.g. with {@link #MNT_DETACH}. */
  public static void umount2(Path target, int flags) throws IOException {
    try {
      umount2(bytes(target), flags);
    } catch (LastErrorException e) {
      throw new ErrnoException("umount", target, e.getErrorCode());
    }
  }

  /** rmdir(2); unlike the JDK's delete, the failure keeps its errno (EBUSY for a cgroup with tasks). */
  public static void rmdir(Path dir) throws IOException {
    try {
      rmdir(bytes(dir));
    } catch (LastErrorException e) {
      throw new ErrnoException("rmdir", dir, e.getErrorCode());
    }
  }

  /** open(2) without O_CREAT: a raw file descriptor (e.g. of a namespace file), to be closed with {@link #closeFd}. */
  public static int open(Path path, int flags) throws IOException {
    try {
      return open(bytes(path), flags);
    } catch (LastErrorException e) {
      throw new ErrnoException("open", path, e.getErrorCode());
    }
  }

  /** close(2) of a descriptor from {@link #open}. */
  public static void closeFd(int fd) throws IOException {
    try {
      close(fd);
    } catch (LastErrorException e) {
      throw new ErrnoException("close fd " + fd, e.getErrorCode());
    }
  }

  /**
   * setns(2): moves the calling thread (only it) into the namespace that {@code fd} refers to,
   * e.g. {@link #CLONE_NEWNET} for a network namespace; {@code file} names it in the error.
   */
  public static void setns(int fd, int nstype, Path file) throws IOException {
    try {
      setns(fd, nstype);
    } catch (LastErrorException e) {
      throw new ErrnoException("setns", file, e.getErrorCode());
    }
  }

  /** glibc's makedev: the dev_t for a major and minor number. */
  public static long makedev(long major, long minor) {
    return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8)
        | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
  }

  /** glibc's major() of a dev_t. */
  public static int major(long dev) {
    return (int) (((dev >>> 32) & 0xfffff000L) | ((dev >>> 8) & 0xfffL));
  }

  /** glibc's minor() of a dev_t. */
  public static int minor(long dev) {
    return (int) (((dev >>> 12) & 0xffffff00L) | (dev & 0xffL));
  }

  private static byte[] bytes(Path p) {
    return cstring(p.toString());
  }

  private static byte[] cstring(String s) {
    byte[] b = s.getBytes(PATH_CHARSET);
    byte[] out = new byte[b.length + 1];
    System.arraycopy(b, 0, out, 0, b.length);
    return out;
  }

  private static Charset pathCharset() {
    String name = System.getProperty("sun.jnu.encoding");
    try {
      return name == null ? Charset.defaultCharset() : Charset.forName(name);
    } catch (IllegalArgumentException e) {
      return Charset.defaultCharset();
    }
  }
}
