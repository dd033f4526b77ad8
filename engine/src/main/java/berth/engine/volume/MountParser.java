package berth.engine.volume;

import berth.engine.api.types.Mount;
import berth.engine.errdefs.EngineException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * Parses the ways a container asks for mounts — {@code -v} specs ({@code HostConfig.Binds}), {@code --mount}
 * ({@code HostConfig.Mounts}) and {@code --volumes-from} — with dockerd's Linux rules and messages, and checks
 * volume names. Pure: it reads nothing but, for {@code --mount type=bind}, whether the source exists.
 */
public final class MountParser {
  /** Docker's restricted name characters, as its messages quote them. */
  static final String NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]";
  private static final Pattern NAME = Pattern.compile("^" + NAME_CHARS + "+$");
  private static final Set<String> PROPAGATIONS = Set.of("private", "rprivate", "slave", "rslave", "shared",
      "rshared");
  private static final Set<String> RW_MODES = Set.of("rw", "ro");
  private static final Set<String> LABEL_MODES = Set.of("z", "Z");
  private static final Set<String> CONSISTENCY_MODES = Set.of("consistent", "cached", "delegated");

  private MountParser() {}

  /**
   * Checks a local volume's name (dockerd's {@code validateName}).
   *
   * @throws EngineException INVALID_PARAMETER with dockerd's message, prefixed with {@code "create NAME: "}
   */
  public static void validateName(String name) {
    if (name.length() == 1) {
      throw EngineException.invalid("create %s: volume name is too short, names should be at least two alphanumeric "
          + "characters", name);
    }
    if (!NAME.matcher(name).matches()) {
      throw EngineException.invalid("create %s: %s includes invalid characters for a local volume name, only %s are "
          + "allowed. If you intended to pass a host directory, use absolute path", name, goQuote(name),
          goQuote(NAME_CHARS));
    }
  }

  /**
   * One {@code -v} spec: {@code /host:/ctr[:mode]} (a bind), {@code name:/ctr[:mode]} (a named volume) or
   * {@code /ctr} (an anonymous volume). Modes: rw/ro, z/Z, a propagation, nocopy, a consistency; one of each.
   *
   * @throws EngineException INVALID_PARAMETER with dockerd's message
   */
  public static MountPoint parseBind(String raw) {
    String[] arr = raw.split(":", 4);
    if (arr[0].isEmpty()) {
      throw invalidSpec(raw);
    }
    String source = "";
    String target;
    String mode = "";
    switch (arr.length) {
      case 1 -> target = arr[0];
      case 2 -> {
        if (validMode(arr[1])) {
          throw invalidSpec(raw); // "/foo:rw" names no source
        }
        source = arr[0];
        target = arr[1];
      }
      case 3 -> {
        source = arr[0];
        target = arr[1];
        mode = arr[2];
      }
      default -> throw invalidSpec(raw);
    }
    if (!validMode(mode)) {
      throw EngineException.invalid("invalid mode: %s", mode);
    }
    boolean bind = source.startsWith("/");
    String type = bind ? MountPoint.BIND : MountPoint.VOLUME;
    String err = checkTarget(target);
    if (err != null) {
      throw EngineException.invalid("invalid volume specification: '%s': invalid mount config for type \"%s\": %s",
          raw, type, err);
    }
    String dest = clean(target);
    boolean rw = !List.of(mode.split(",")).contains("ro");
    String propagation = propagationOf(mode);
    if (bind) {
      return new MountPoint(type, null, clean(source), dest, null, mode, rw,
          propagation == null ? "rprivate" : propagation, null, null, null, Boolean.TRUE, null);
    }
    boolean copy = !List.of(mode.split(",")).contains("nocopy");
    return new MountPoint(type, source.isEmpty() ? null : source, null, dest, null, mode, rw,
        propagation == null ? "" : propagation, null, null, copy ? Boolean.TRUE : null, null, null);
  }

  /**
   * One {@code --mount} ({@code HostConfig.Mounts} entry) of type bind, volume or tmpfs.
   *
   * @param exists whether a host path exists (a bind's source must, unless CreateMountpoint is set)
   * @throws EngineException INVALID_PARAMETER with dockerd's {@code invalid mount config for type ...} message
   */
  public static MountPoint parseMount(Mount m, Predicate<String> exists) {
    String type = m.type() == null ? "" : m.type();
    String err = checkMount(m, type, exists);
    if (err != null) {
      throw EngineException.invalid("invalid mount config for type \"%s\": %s", type, err);
    }
    String dest = clean(m.target());
    boolean rw = !Boolean.TRUE.equals(m.readOnly());
    return switch (type) {
      case MountPoint.BIND -> new MountPoint(type, null, clean(m.source()), dest, null, "", rw,
          m.bindOptions() != null && notEmpty(m.bindOptions().propagation()) ? m.bindOptions().propagation()
              : "rprivate", null, null, null,
          m.bindOptions() != null && Boolean.TRUE.equals(m.bindOptions().createMountpoint()) ? Boolean.TRUE : null,
          null);
      case MountPoint.VOLUME -> {
        Mount.VolumeOptions vo = m.volumeOptions();
        Map<String, String> opts = vo == null || vo.driverConfig() == null ? null : vo.driverConfig().options();
        String driver = vo == null || vo.driverConfig() == null ? null : vo.driverConfig().name();
        boolean copy = vo == null || !Boolean.TRUE.equals(vo.noCopy());
        yield new MountPoint(type, notEmpty(m.source()) ? m.source() : null, null, dest,
            notEmpty(driver) ? driver : null, "", rw, "", opts, vo == null ? null : vo.labels(),
            copy ? Boolean.TRUE : null, null, null);
      }
      default -> new MountPoint(type, null, "", dest, null, "", rw, "", null, null, null, null,
          tmpfsOptions(m.tmpfsOptions(), !rw));
    };
  }

  private static String checkMount(Mount m, String type, Predicate<String> exists) {
    if (!type.equals(MountPoint.BIND) && m.bindOptions() != null) {
      return "field BindOptions must not be specified";
    }
    if (!type.equals(MountPoint.VOLUME) && m.volumeOptions() != null) {
      return "field VolumeOptions must not be specified";
    }
    if (!type.equals("image") && m.imageOptions() != null) {
      return "field ImageOptions must not be specified";
    }
    if (!type.equals(MountPoint.TMPFS) && m.tmpfsOptions() != null) {
      return "field TmpfsOptions must not be specified";
    }
    if (!notEmpty(m.target())) {
      return "field Target must not be empty";
    }
    String err = checkTarget(m.target());
    if (err != null) {
      return err;
    }
    switch (type) {
      case MountPoint.BIND -> {
        if (!notEmpty(m.source())) {
          return "field Source must not be empty";
        }
        String p = m.bindOptions() == null ? null : m.bindOptions().propagation();
        if (notEmpty(p) && !PROPAGATIONS.contains(p)) {
          return "invalid propagation mode: " + p;
        }
        if (!m.source().startsWith("/")) {
          return "invalid mount path: '" + m.source() + "' mount path must be absolute";
        }
        boolean create = m.bindOptions() != null && Boolean.TRUE.equals(m.bindOptions().createMountpoint());
        if (!create && !exists.test(m.source())) {
          return "bind source path does not exist: " + m.source();
        }
      }
      case MountPoint.VOLUME -> {
        if (m.volumeOptions() != null && notEmpty(m.volumeOptions().subpath())) {
          // dockerd mounts a subdirectory of the volume; Berth does not yet, and says so rather than ignore it
          return notEmpty(m.source()) ? "volume subpaths are not supported"
              : "must not set Subpath when using anonymous volumes";
        }
      }
      case MountPoint.TMPFS -> {
        if (notEmpty(m.source())) {
          return "field Source must not be specified";
        }
        try {
          tmpfsOptions(m.tmpfsOptions(), false);
        } catch (IllegalArgumentException e) {
          return e.getMessage();
        }
      }
      case "image" -> {
        return "image mounts are not supported";
      }
      default -> {
        return "mount type unknown";
      }
    }
    return null;
  }

  /**
   * {@code --volumes-from c[:ro|rw]}: the container and the mode ("rw" if none).
   *
   * @throws EngineException INVALID_PARAMETER for an empty spec or a mode other than rw/ro (and z/Z)
   */
  public static String[] parseVolumesFrom(String spec) {
    if (spec == null || spec.isEmpty()) {
      throw EngineException.invalid("volumes-from specification cannot be an empty string");
    }
    int colon = spec.indexOf(':');
    String id = colon < 0 ? spec : spec.substring(0, colon);
    String mode = colon < 0 ? "" : spec.substring(colon + 1);
    if (mode.isEmpty()) {
      return new String[] {id, "rw"};
    }
    if (!validMode(mode) || propagationOf(mode) != null || List.of(mode.split(",")).contains("nocopy")) {
      throw EngineException.invalid("invalid mode: %s", mode);
    }
    return new String[] {id, mode};
  }

  /** True if a mode string says read-write (it is valid and has no "ro"). */
  public static boolean readWrite(String mode) {
    return validMode(mode) && !List.of(mode.split(",")).contains("ro");
  }

  /**
   * A {@code --mount type=tmpfs}'s options as {@code --tmpfs} takes them: ro, mode (octal), size (with the
   * largest unit that divides it), then exec/noexec.
   *
   * @throws IllegalArgumentException for any other option
   */
  public static String tmpfsOptions(Mount.TmpfsOptions o, boolean readOnly) {
    List<String> out = new ArrayList<>();
    if (readOnly) {
      out.add("ro");
    }
    if (o != null && o.mode() != null && o.mode() != 0) {
      out.add("mode=" + Integer.toOctalString(o.mode()));
    }
    if (o != null && o.sizeBytes() != null && o.sizeBytes() != 0) {
      long size = o.sizeBytes();
      String suffix = "";
      for (Object[] u : new Object[][] {{"g", 1L << 30}, {"m", 1L << 20}, {"k", 1L << 10}}) {
        if (size % (long) u[1] == 0) {
          size /= (long) u[1];
          suffix = (String) u[0];
          break;
        }
      }
      out.add("size=" + size + suffix);
    }
    if (o != null && o.options() != null) {
      for (List<String> opt : o.options()) {
        if (opt == null || opt.isEmpty() || opt.size() > 2) {
          throw new IllegalArgumentException("invalid option array length");
        }
        if (!Set.of("exec", "noexec").contains(opt.get(0))) {
          throw new IllegalArgumentException("invalid option: " + opt.get(0));
        }
        out.add(opt.size() == 1 ? opt.get(0) : opt.get(0) + "=" + opt.get(1));
      }
    }
    return String.join(",", out);
  }

  /** The destination's problem (dockerd's wording), or null. */
  private static String checkTarget(String target) {
    if (clean(target.replace('\\', '/')).equals("/")) {
      return "invalid specification: destination can't be '/'";
    }
    if (!target.startsWith("/")) {
      return "invalid mount path: '" + target + "' mount path must be absolute";
    }
    return null;
  }

  private static boolean validMode(String mode) {
    if (mode.isEmpty()) {
      return true;
    }
    int rw = 0;
    int label = 0;
    int prop = 0;
    int copy = 0;
    int consistency = 0;
    for (String o : mode.split(",", -1)) {
      if (RW_MODES.contains(o)) {
        rw++;
      } else if (LABEL_MODES.contains(o)) {
        label++;
      } else if (PROPAGATIONS.contains(o)) {
        prop++;
      } else if (o.equals("nocopy")) {
        copy++;
      } else if (CONSISTENCY_MODES.contains(o)) {
        consistency++;
      } else {
        return false;
      }
    }
    return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && consistency <= 1;
  }

  private static String propagationOf(String mode) {
    for (String o : mode.split(",")) {
      if (PROPAGATIONS.contains(o)) {
        return o;
      }
    }
    return null;
  }

  private static EngineException invalidSpec(String raw) {
    return EngineException.invalid("invalid volume specification: '%s'", raw);
  }

  /** Go's path.Clean for absolute and relative paths. */
  static String clean(String p) {
    if (p.isEmpty()) {
      return ".";
    }
    String c = Path.of(p).normalize().toString();
    if (p.startsWith("/")) {
      // Path.normalize keeps a leading ".." under "/"; path.Clean drops it
      while (c.startsWith("/..")) {
        c = c.length() == 3 ? "/" : c.substring(3);
      }
    }
    return c.isEmpty() ? "." : c;
  }

  private static boolean notEmpty(String s) {
    return s != null && !s.isEmpty();
  }

  /** Go's %q for the printable ASCII names it is used on: quotes and backslashes escaped. */
  static String goQuote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      switch (ch) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\t' -> b.append("\\t");
        default -> {
          if (ch < 0x20 || ch == 0x7f) {
            b.append(String.format("\\x%02x", (int) ch));
          } else {
            b.append(ch);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
