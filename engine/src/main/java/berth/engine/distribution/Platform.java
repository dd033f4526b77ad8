package berth.engine.distribution;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/** An image platform (os/architecture[/variant]) and the choice of one manifest from an index. Immutable. */
public record Platform(String os, String architecture, String variant) {
  /** The engine's own platform. */
  public static final Platform DEFAULT = new Platform("linux", "amd64", null);

  /**
   * Parses {@code os[/arch[/variant]]} as the {@code platform} query parameter gives it; empty or null is
   * {@link #DEFAULT}; INVALID_PARAMETER when malformed. Architecture aliases are normalised (x86_64 → amd64,
   * aarch64 → arm64).
   */
  public static Platform parse(String s) {
    if (s == null || s.isBlank()) {
      return DEFAULT;
    }
    String[] p = s.trim().toLowerCase(Locale.ROOT).split("/", -1);
    if (p.length > 3 || p[0].isEmpty() || (p.length > 1 && p[1].isEmpty())) {
      throw EngineException.invalid("\"%s\": unknown operating system or architecture: invalid argument", s);
    }
    String arch = p.length > 1 ? normaliseArch(p[1]) : "amd64";
    String variant = p.length > 2 && !p[2].isEmpty() ? p[2] : null;
    if (arch.equals("arm64") && "v8".equals(variant)) {
      variant = null;
    }
    return new Platform(p[0], arch, variant);
  }

  private static String normaliseArch(String a) {
    return switch (a) {
      case "x86_64", "x86-64" -> "amd64";
      case "aarch64" -> "arm64";
      case "i386", "i686" -> "386";
      default -> a;
    };
  }

  /** Whether an index entry's {@code platform} object describes this platform (a missing variant matches any). */
  public boolean matches(JsonNode platform) {
    if (platform == null || !platform.isObject()) {
      return false;
    }
    String o = platform.path("os").asText("").toLowerCase(Locale.ROOT);
    String a = normaliseArch(platform.path("architecture").asText("").toLowerCase(Locale.ROOT));
    String v = platform.path("variant").asText("");
    if (a.equals("arm64") && v.equals("v8")) {
      v = "";
    }
    return o.equals(os) && a.equals(architecture) && (variant == null || variant.equals(v));
  }

  /**
   * The entry of an index's {@code manifests} for this platform: the first exact match, else (for an index
   * that names no platforms at all) its only entry; null when there is none. Attestation manifests
   * ({@code unknown/unknown}) never match.
   */
  public JsonNode choose(JsonNode manifests) {
    JsonNode only = null;
    int unnamed = 0;
    for (JsonNode d : manifests) {
      if (matches(d.path("platform"))) {
        return d;
      }
      if (d.path("platform").isMissingNode()) {
        only = d;
        unnamed++;
      }
    }
    return unnamed == 1 && unnamed == manifests.size() ? only : null;
  }

  @Override
  public String toString() {
    return os + "/" + architecture + (variant != null ? "/" + variant : "");
  }
}
