package berth.engine.runtime.cgroup;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.util.Arrays;

/** rmdir(2) with its errno: the JDK reports EBUSY only as localised text. */
final class Rmdir {
  static final int ENOENT = 2;
  static final int EBUSY = 16;

  private static final Charset PATH_CHARSET = pathCharset();

  static {
    Native.register("c");
  }

  private Rmdir() {}

  private static native int rmdir(byte[] path) throws LastErrorException;

  private static native String strerror(int errnum);

  /** 0 on success, otherwise the errno. */
  static int call(Path dir) {
    byte[] b = dir.toString().getBytes(PATH_CHARSET);
    try {
      rmdir(Arrays.copyOf(b, b.length + 1));
      return 0;
    } catch (LastErrorException e) {
      return e.getErrorCode();
    }
  }

  static String describe(int errno) {
    return strerror(errno);
  }

  // The JDK encodes paths with sun.jnu.encoding; use the same so both name the same directory.
  private static Charset pathCharset() {
    String name = System.getProperty("sun.jnu.encoding");
    try {
      return name == null ? Charset.defaultCharset() : Charset.forName(name);
    } catch (IllegalArgumentException e) {
      return Charset.defaultCharset();
    }
  }
}
