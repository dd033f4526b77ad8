package berth.engine.runtime;

import berth.engine.layer.MountSpec;
import berth.engine.sys.Posix;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Performs and undoes the mounts that stores describe (needs CAP_SYS_ADMIN). Thread-safe. */
public final class Mounts {
  private static final int EINVAL = 22;

  private Mounts() {}

  /** Mounts the spec on the target directory, creating the directory if needed. */
  public static void mount(MountSpec spec, Path target) throws IOException {
    Files.createDirectories(target);
    Posix.mount(spec.source(), target, spec.type(), 0, spec.data());
  }

  /** Unmounts the target; a target that is not mounted is not an error. Lazy (MNT_DETACH) if busy. */
  public static void unmount(Path target) throws IOException {
    if (!isMountPoint(target)) {
      return;
    }
    try {
      Posix.umount2(target, 0);
    } catch (Posix.ErrnoException e) {
      if (e.errno() == EINVAL) {
        return; // raced with another unmount
      }
      Posix.umount2(target, Posix.MNT_DETACH);
    }
  }

  /** True if something is mounted exactly at the path (per /proc/self/mountinfo). */
  public static boolean isMountPoint(Path target) throws IOException {
    String want = target.toAbsolutePath().normalize().toString();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
      String[] f = line.split(" ");
      if (f.length > 4 && unescape(f[4]).equals(want)) {
        return true;
      }
    }
    return false;
  }

  /** Every mount point strictly under {@code dir}, deepest first (so they can be unmounted in order). */
  public static java.util.List<Path> mountsUnder(Path dir) throws IOException {
    String prefix = dir.toAbsolutePath().normalize() + "/";
    java.util.List<Path> out = new java.util.ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
      String[] f = line.split(" ");
      if (f.length > 4 && unescape(f[4]).startsWith(prefix)) {
        out.add(Path.of(unescape(f[4])));
      }
    }
    out.sort(java.util.Comparator.comparingInt(Path::getNameCount).reversed());
    return out;
  }

  /** mountinfo escapes space, tab, newline and backslash as octal. */
  private static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 3 < s.length()) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
