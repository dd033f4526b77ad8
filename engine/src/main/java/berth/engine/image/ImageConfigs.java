package berth.engine.image;

import berth.engine.api.types.Timestamps;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the fields Berth needs from an image config (Docker or OCI); tolerant of missing fields. */
final class ImageConfigs {
  private ImageConfigs() {}

  static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? "" : v.asText();
  }

  /** The creation time in nanoseconds since the epoch; 0 when absent or malformed. */
  static long createdNano(JsonNode config) {
    return Timestamps.parseRfc3339(text(config, "created"));
  }


  static List<String> diffIds(JsonNode config) {
    List<String> out = new ArrayList<>();
    JsonNode ids = config.path("rootfs").path("diff_ids");
    ids.forEach(x -> out.add(x.asText()));
    return out;
  }

  static Map<String, String> labels(JsonNode config) {
    Map<String, String> out = new LinkedHashMap<>();
    JsonNode l = config.path("config").path("Labels");
    if (l.isObject()) {
      l.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
    }
    return out;
  }
}
