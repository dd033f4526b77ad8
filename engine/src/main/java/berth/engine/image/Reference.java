package berth.engine.image;

import berth.engine.errdefs.EngineException;
import java.util.regex.Pattern;

/**
 * A normalised image reference: domain, path, and a tag and/or digest. {@code busybox} is
 * {@code docker.io/library/busybox:latest}; familiar forms drop {@code docker.io/} and {@code library/}
 * as the docker CLI shows them. Immutable.
 */
public record Reference(String domain, String path, String tag, String digest) {
  public static final String DEFAULT_DOMAIN = "docker.io";
  private static final String LEGACY_DOMAIN = "index.docker.io";
  private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*");
  private static final Pattern DOMAIN = Pattern.compile(
      "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
          + "(?::[0-9]+)?|\\[[a-fA-F0-9:]+\\](?::[0-9]+)?");
  private static final Pattern TAG = Pattern.compile("[\\w][\\w.-]{0,127}");
  private static final Pattern DIGEST = Pattern.compile("sha256:[a-f0-9]{64}");
  private static final Pattern HEX64 = Pattern.compile("[a-f0-9]{64}");

  /** Parses and normalises; a missing tag stays null (see {@link #withDefaultTag()}). INVALID_PARAMETER if malformed. */
  public static Reference parse(String s) {
    if (s == null || s.isEmpty()) {
      throw EngineException.invalid("invalid reference format");
    }
    String rest = s;
    String digest = null;
    int at = rest.indexOf('@');
    if (at >= 0) {
      digest = rest.substring(at + 1);
      rest = rest.substring(0, at);
      if (!DIGEST.matcher(digest).matches()) {
        throw EngineException.invalid("invalid reference format");
      }
    }
    String tag = null;
    int slash = rest.lastIndexOf('/');
    int colon = rest.lastIndexOf(':');
    if (colon > slash) {
      tag = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
      if (!TAG.matcher(tag).matches()) {
        throw EngineException.invalid("invalid reference format");
      }
    }
    String domain;
    String path;
    int first = rest.indexOf('/');
    String head = first < 0 ? null : rest.substring(0, first);
    if (head != null && (head.contains(".") || head.contains(":") || head.equals("localhost")
        || !head.equals(head.toLowerCase()))) {
      domain = head;
      path = rest.substring(first + 1);
      if (!DOMAIN.matcher(domain).matches()) {
        throw EngineException.invalid("invalid reference format");
      }
    } else {
      domain = DEFAULT_DOMAIN;
      path = rest;
    }
    if (domain.equals(LEGACY_DOMAIN)) {
      domain = DEFAULT_DOMAIN;
    }
    if (domain.equals(DEFAULT_DOMAIN) && !path.contains("/")) {
      path = "library/" + path;
    }
    if (!path.equals(path.toLowerCase())) {
      throw EngineException.invalid("invalid reference format: repository name (%s) must be lowercase", path);
    }
    for (String c : path.split("/", -1)) {
      if (!COMPONENT.matcher(c).matches()) {
        throw EngineException.invalid("invalid reference format");
      }
    }
    if (domain.length() + 1 + path.length() > 255) {
      throw EngineException.invalid("invalid reference format: repository name must not be more than 255 characters");
    }
    if (HEX64.matcher(rest).matches()) {
      throw EngineException.invalid("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", rest);
    }
    return new Reference(domain, path, tag, digest);
  }

  /** True when the string is a full or partial image ID rather than a name (hex, optionally "sha256:"). */
  public static boolean looksLikeId(String s) {
    String h = s.startsWith("sha256:") ? s.substring(7) : s;
    return !h.isEmpty() && h.length() <= 64 && h.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }

  /** The same reference with tag "latest" when it has neither tag nor digest. */
  public Reference withDefaultTag() {
    return tag == null && digest == null ? new Reference(domain, path, "latest", null) : this;
  }

  public Reference withTag(String t) {
    return new Reference(domain, path, t, null);
  }

  public Reference withDigest(String d) {
    return new Reference(domain, path, null, d);
  }

  /** The repository name, e.g. docker.io/library/busybox. */
  public String name() {
    return domain + "/" + path;
  }

  /** The repository as the CLI shows it, e.g. busybox or localhost:5000/x. */
  public String familiarName() {
    if (domain.equals(DEFAULT_DOMAIN)) {
      return path.startsWith("library/") && path.indexOf('/', 8) < 0 ? path.substring(8) : path;
    }
    return name();
  }

  /** The reference as the CLI shows it, e.g. busybox:latest or busybox@sha256:…. */
  public String familiar() {
    return familiarName() + suffix();
  }

  private String suffix() {
    return (tag != null ? ":" + tag : "") + (digest != null ? "@" + digest : "");
  }

  @Override
  public String toString() {
    return name() + suffix();
  }
}
