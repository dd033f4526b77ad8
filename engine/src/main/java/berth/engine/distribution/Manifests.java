package berth.engine.distribution;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** The manifest media types the engine pulls and pushes, and the parsing of manifests and indexes. */
public final class Manifests {
  public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  public static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
  public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
  /** What a manifest GET accepts, in the order of preference. */
  public static final String ACCEPT = String.join(", ", OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST);
  /** The largest manifest or config read into memory. */
  public static final int MAX_SIZE = 4 << 20;

  static final Set<String> LAYER_TYPES = Set.of(
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.diff.tar",
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip");
  private static final ObjectMapper JSON = new ObjectMapper();

  private Manifests() {}

  /** A content descriptor: media type, digest, size. */
  public record Descriptor(String mediaType, String digest, long size) {}

  /** An image manifest: its config and layers, bottom first. */
  public record Image(String mediaType, Descriptor config, List<Descriptor> layers) {}

  /** Whether the media type is an index (OCI) or a manifest list (Docker). */
  public static boolean isIndex(String mediaType) {
    return OCI_INDEX.equals(mediaType) || DOCKER_LIST.equals(mediaType);
  }

  /** Whether the media type is an image manifest this engine reads. */
  public static boolean isImage(String mediaType) {
    return OCI_MANIFEST.equals(mediaType) || DOCKER_MANIFEST.equals(mediaType);
  }

  /**
   * The media type of a fetched manifest: the {@code mediaType} field when it has one, else the server's
   * Content-Type (OCI manifests may omit the field). INVALID_PARAMETER with Docker's words for anything that
   * is neither an image manifest nor an index, schema 1 included.
   */
  public static String mediaType(JsonNode m, String contentType) {
    String t = m.path("mediaType").asText("");
    if (t.isEmpty() && contentType != null) {
      t = contentType.split(";")[0].trim();
    }
    if (t.isEmpty() || t.equals("application/json") || t.equals("application/octet-stream")) {
      t = m.has("manifests") ? OCI_INDEX : m.has("config") ? OCI_MANIFEST : t;
    }
    if (!isIndex(t) && !isImage(t)) {
      throw EngineException.invalid("unsupported manifest media type and no default available: %s", t);
    }
    return t;
  }

  /** Parses manifest bytes as JSON; INVALID_PARAMETER "error parsing manifest" when they are not a JSON object. */
  public static JsonNode parse(byte[] data, String what) {
    try {
      JsonNode n = JSON.readTree(data);
      if (n == null || !n.isObject()) {
        throw EngineException.invalid("error parsing %s: not a JSON object", what);
      }
      if (n.path("schemaVersion").asInt(0) != 2) {
        throw EngineException.invalid("unsupported manifest schema version %s in %s",
            n.path("schemaVersion").asText("(none)"), what);
      }
      return n;
    } catch (IOException e) {
      throw EngineException.invalid("error parsing %s: %s", what,
          e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage());
    }
  }

  /** Reads an image manifest's config and layers; INVALID_PARAMETER for missing fields or unknown layer types. */
  public static Image image(JsonNode m, String mediaType) {
    Descriptor config = descriptor(m.path("config"), "config");
    if (!config.mediaType().isEmpty() && !config.mediaType().equals(DOCKER_CONFIG)
        && !config.mediaType().equals(OCI_CONFIG)) {
      throw EngineException.invalid("unsupported image config media type: %s", config.mediaType());
    }
    if (!m.path("layers").isArray()) {
      throw EngineException.invalid("error parsing manifest: no layers");
    }
    List<Descriptor> layers = new ArrayList<>();
    for (JsonNode l : m.path("layers")) {
      Descriptor d = descriptor(l, "layer");
      if (!LAYER_TYPES.contains(d.mediaType())) {
        throw EngineException.invalid("unsupported layer media type: %s", d.mediaType());
      }
      layers.add(d);
    }
    return new Image(mediaType, config, layers);
  }

  private static Descriptor descriptor(JsonNode d, String what) {
    String digest = d.path("digest").asText("");
    if (!digest.matches("sha256:[a-f0-9]{64}")) {
      throw EngineException.invalid("error parsing manifest: invalid %s digest \"%s\"", what, digest);
    }
    long size = d.path("size").asLong(-1);
    if (size < 0) {
      throw EngineException.invalid("error parsing manifest: %s %s has no size", what, digest);
    }
    return new Descriptor(d.path("mediaType").asText(""), digest, size);
  }
}
