package berth.engine.container;

import berth.engine.api.types.HostConfig;
import berth.engine.errdefs.EngineException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A container's log driver and its rotation options. {@code json-file} is Docker's on-disk format in
 * {@code <id>-json.log}; {@code local} is kept in the same line format under {@code local-logs/container.log}
 * with the local driver's defaults (20 MB × 5 files), since Docker documents that format as internal and
 * only {@code docker logs} reads it; {@code none} keeps nothing.
 */
record LogSettings(String driver, long maxSize, int maxFile) {
  static final Set<String> DRIVERS = Set.of("json-file", "local", "none");
  private static final Set<String> OPTS = Set.of("max-size", "max-file", "compress", "mode", "max-buffer-size",
      "labels", "labels-regex", "env", "env-regex", "tag");

  /** The engine's default driver and options ({@code log-driver}, {@code log-opts}). */
  record Defaults(String driver, Map<String, String> opts) {}

  /**
   * The container's settings over the engine's defaults, as dockerd merges them: the container's driver
   * (else the default), its options, and the default options too when the driver is the default one.
   * INVALID_PARAMETER for bad values (dockerd's words).
   */
  static LogSettings of(HostConfig.LogConfig lc, Defaults d) {
    String type = lc == null || lc.type() == null || lc.type().isEmpty() ? d.driver() : lc.type();
    Map<String, String> opts = new java.util.HashMap<>();
    if (type.equals(d.driver())) {
      opts.putAll(d.opts());
    }
    if (lc != null && lc.config() != null) {
      opts.putAll(lc.config());
    }
    return parse(type, opts);
  }

  static LogSettings parse(String type, Map<String, String> opts) {
    if (!DRIVERS.contains(type)) {
      throw EngineException.invalid("failed to create task for container: logger: no log driver named '%s' is "
          + "registered", type);
    }
    for (String k : opts.keySet()) {
      if (!OPTS.contains(k) || type.equals("none")) {
        throw EngineException.invalid("unknown log opt '%s' for %s log driver", k, type);
      }
    }
    long size = type.equals("local") ? 20L << 20 : 0;
    int files = type.equals("local") ? 5 : 1;
    String ms = opts.get("max-size");
    if (ms != null && !ms.isEmpty() && !ms.equals("-1")) {
      size = parseSize(ms);
    }
    String mf = opts.get("max-file");
    if (mf != null && !mf.isEmpty()) {
      try {
        files = Integer.parseInt(mf);
      } catch (NumberFormatException e) {
        throw EngineException.invalid("invalid value for max-file: %s", mf);
      }
      if (files < 1) {
        throw EngineException.invalid("max-file cannot be less than 1");
      }
      if (files > 1 && size == 0) {
        throw EngineException.invalid("max-file can only be used with max-size");
      }
    }
    return new LogSettings(type, size, files);
  }

  /** Docker's RAMInBytes: "10m", "1k", "2g", "100" (bytes); binary multiples. */
  static long parseSize(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    int i = 0;
    while (i < t.length() && (Character.isDigit(t.charAt(i)) || t.charAt(i) == '.')) {
      i++;
    }
    String unit = t.substring(i).trim();
    if (unit.endsWith("ib")) {
      unit = unit.substring(0, unit.length() - 2);
    } else if (unit.endsWith("b")) {
      unit = unit.substring(0, unit.length() - 1);
    }
    long mult = switch (unit) {
      case "" -> 1;
      case "k" -> 1L << 10;
      case "m" -> 1L << 20;
      case "g" -> 1L << 30;
      case "t" -> 1L << 40;
      default -> -1;
    };
    try {
      double v = Double.parseDouble(t.substring(0, i));
      if (mult < 0 || i == 0 || v <= 0) {
        throw new NumberFormatException();
      }
      return (long) (v * mult);
    } catch (NumberFormatException e) {
      throw EngineException.invalid("invalid size: '%s'", s);
    }
  }

  /** Where the monitor writes; null for "none". */
  Path path(Path containerDir, String id) {
    return switch (driver) {
      case "json-file" -> containerDir.resolve(id + "-json.log");
      case "local" -> containerDir.resolve("local-logs").resolve("container.log");
      default -> null;
    };
  }
}
