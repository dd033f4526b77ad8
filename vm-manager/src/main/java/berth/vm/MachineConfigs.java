package berth.vm;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Filling and validating {@link MachineConfig}s.
 *
 * <p>Merge rule ({@link #fill}): a field set in the upper config wins, otherwise the lower one's value is
 * taken. Lists are replaced whole, never appended: a machine that sets {@code shares} gets exactly those
 * shares. A share without a target gets its source as target. Layers, lowest first: {@link #BUILTIN} <
 * user defaults < the machine's file < command-line overrides.
 */
public final class MachineConfigs {
  private MachineConfigs() {}

  /** The least memory the guest runs in: the kernel, a JRE with the agent and the engine, and a container. */
  public static final long MIN_MEMORY = 512L << 20;
  public static final long MIN_DISK = 1L << 30;
  /** Machine names: used in directory names and libvirt domain names, so kept to a safe alphabet. */
  public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_.-]{0,39}");
  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([KMGT])(?:i?B)?", Pattern.CASE_INSENSITIVE);
  // The guest's init reads berth.share=<tag>:<path> from the kernel command line, split at blanks and the
  // first colon, so the guest path can hold neither.
  private static final Pattern GUEST_PATH = Pattern.compile("/[^\\s:\"'\\\\]*");
  private static final Set<String> ACCELS = Set.of("auto", "tcg", "kvm", "hvf");

  /** The defaults every machine starts from. */
  public static final MachineConfig BUILTIN =
      new MachineConfig(2, "2GiB", "64GiB", List.of(), "libvirt", "auto", List.of());

  /**
   * The guest's own directories a share must not cover: the system's, the engine's data disk, the JRE's disk and
   * the agent's run directory (a share there would hide them, or hand the host's directory to the guest's engine).
   */
  private static final List<String> GUEST_SYSTEM = List.of("/bin", "/sbin", "/lib", "/lib64", "/usr", "/etc", "/dev",
      "/proc", "/sys", "/run", "/boot", "/var/lib/berth", "/opt/berth", "/root");

  /** The guest system directory {@code target} equals, lies in or contains, if any. */
  static java.util.Optional<String> guestSystemPath(String target) {
    Path t = Path.of(target).normalize();
    for (String sys : GUEST_SYSTEM) {
      Path s = Path.of(sys);
      if (t.startsWith(s) || s.startsWith(t)) {
        return java.util.Optional.of(sys);
      }
    }
    return java.util.Optional.empty();
  }

  /** What this host has, against which a config is checked. */
  public record Host(int cpus, long memoryBytes) {
    /** The host this JVM runs on. */
    public static Host current() {
      long mem = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
          .getTotalMemorySize();
      return new Host(Runtime.getRuntime().availableProcessors(), mem);
    }
  }

  /** {@code upper} over {@code lower}, field by field (see the class comment); neither is changed. */
  public static MachineConfig fill(MachineConfig upper, MachineConfig lower) {
    List<MachineConfig.Share> shares = pick(upper.shares(), lower.shares());
    if (shares != null) {
      shares = shares.stream()
          .map(s -> s.target() == null ? new MachineConfig.Share(s.source(), s.source()) : s).toList();
    }
    return new MachineConfig(pick(upper.cpus(), lower.cpus()), pick(upper.memory(), lower.memory()),
        pick(upper.disk(), lower.disk()), shares, pick(upper.driver(), lower.driver()),
        pick(upper.accel(), lower.accel()), pick(upper.kernelArgs(), lower.kernelArgs()));
  }

  private static <T> T pick(T upper, T lower) {
    return upper != null ? upper : lower;
  }

  /**
   * Every problem with a machine name and a filled config, as sentences naming the field and its value;
   * empty when both are fine. Checks shares against the host's file system.
   */
  public static List<String> problems(String name, MachineConfig c, Host host) {
    List<String> p = new ArrayList<>();
    if (name == null || !NAME.matcher(name).matches()) {
      p.add("name " + quote(name) + " is not a valid machine name (lower-case letters, digits, '_', '.', '-'; "
          + "starting with a letter or digit; at most 40 characters)");
    }
    if (c.cpus() == null || c.cpus() < 1) {
      p.add("cpus " + c.cpus() + " is not valid: at least 1");
    } else if (c.cpus() > host.cpus()) {
      p.add("cpus " + c.cpus() + " is more than this host has (" + host.cpus() + ")");
    }
    Long mem = sizeOrProblem("memory", c.memory(), p);
    if (mem != null && mem < MIN_MEMORY) {
      p.add("memory " + c.memory() + " is too little: the guest needs at least 512MiB");
    } else if (mem != null && host.memoryBytes() > 0 && mem > host.memoryBytes()) {
      p.add("memory " + c.memory() + " is more than this host has (" + (host.memoryBytes() >> 20) + "MiB)");
    }
    Long disk = sizeOrProblem("disk", c.disk(), p);
    if (disk != null && disk < MIN_DISK) {
      p.add("disk " + c.disk() + " is too small: at least 1GiB");
    }
    if (c.accel() == null || !ACCELS.contains(c.accel())) {
      p.add("accel " + quote(c.accel()) + " is not one of auto, tcg, kvm, hvf");
    }
    if (c.driver() == null || c.driver().isBlank()) {
      p.add("driver is not set");
    }
    Set<String> targets = new HashSet<>();
    for (MachineConfig.Share s : c.shares() == null ? List.<MachineConfig.Share>of() : c.shares()) {
      if (s == null || s.source() == null) {
        p.add("a share has no source directory");
        continue;
      }
      Path src = Path.of(s.source());
      if (!src.isAbsolute()) {
        p.add("share source " + quote(s.source()) + " is not an absolute path");
      } else if (!Files.isDirectory(src)) {
        p.add("share source " + quote(s.source()) + (Files.exists(src) ? " is not a directory" : " does not exist"));
      }
      String target = s.target() == null ? s.source() : s.target();
      if (!GUEST_PATH.matcher(target).matches()) {
        p.add("share target " + quote(target) + " is not an absolute guest path without blanks, quotes or ':'");
      } else if (target.equals("/") || !targets.add(target)) {
        p.add("share target " + quote(target) + (target.equals("/") ? " would hide the guest's root"
            : " is used by two shares"));
      } else {
        guestSystemPath(target).ifPresent(sys -> p.add("share target " + quote(target) + " would hide the guest's "
            + sys + ": choose another guest path (DIR:GUEST_DIR)"));
      }
    }
    for (String a : c.kernelArgs() == null ? List.<String>of() : c.kernelArgs()) {
      if (a == null || a.isBlank() || a.chars().anyMatch(Character::isWhitespace)) {
        p.add("kernel argument " + quote(a) + " is empty or holds blanks");
      } else if (a.startsWith("berth.key=") || a.startsWith("berth.data=") || a.startsWith("berth.share")
          || a.startsWith("console=")) {
        p.add("kernel argument " + quote(a) + " is set by Berth itself");
      }
    }
    return p;
  }

  /** Throws one {@link MachineException.Kind#INVALID} exception listing every problem, if there is any. */
  public static void validate(String name, MachineConfig c, Host host) {
    List<String> p = problems(name, c, host);
    if (!p.isEmpty()) {
      throw MachineException.of(MachineException.Kind.INVALID, "machine " + quote(name) + " is not valid", p);
    }
  }

  /** A size such as "2GiB", "512M" or "1T" in bytes (binary units); throws IllegalArgumentException. */
  public static long bytes(String size) {
    if (size == null) {
      throw new IllegalArgumentException("no size given");
    }
    Matcher m = SIZE.matcher(size.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("size " + quote(size) + " is not a number with a unit, e.g. 2GiB or 512MiB");
    }
    int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
      case "K" -> 10;
      case "M" -> 20;
      case "G" -> 30;
      default -> 40;
    };
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("size " + quote(size) + " is too large");
    }
    if (n > (Long.MAX_VALUE >> shift)) {
      throw new IllegalArgumentException("size " + quote(size) + " is too large");
    }
    return n << shift;
  }

  private static Long sizeOrProblem(String field, String value, List<String> problems) {
    if (value == null) {
      problems.add(field + " is not set");
      return null;
    }
    try {
      return bytes(value);
    } catch (IllegalArgumentException e) {
      problems.add(field + ": " + e.getMessage());
      return null;
    }
  }

  static String quote(String s) {
    return s == null ? "(unset)" : "\"" + s + "\"";
  }
}
