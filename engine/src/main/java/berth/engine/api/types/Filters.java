package berth.engine.api.types;

import berth.engine.api.http.ApiJson;
import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code filters} query parameter: a JSON map from a key to its values, in the current form
 * ({"label":{"a=b":true}}) or the legacy one ({"label":["a=b"]}). Immutable.
 */
public final class Filters {
  private final Map<String, Set<String>> values;

  private Filters(Map<String, Set<String>> values) {
    this.values = values;
  }

  public static Filters none() {
    return new Filters(Map.of());
  }

  /** Parses the query value; INVALID_PARAMETER when it is not such a map. */
  public static Filters parse(String json) {
    if (json == null || json.isBlank()) {
      return none();
    }
    JsonNode tree;
    try {
      tree = ApiJson.MAPPER.readTree(json);
    } catch (IOException e) {
      throw EngineException.invalid("invalid filter: %s", json);
    }
    if (tree == null || !tree.isObject()) {
      throw EngineException.invalid("invalid filter: %s", json);
    }
    Map<String, Set<String>> m = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = tree.fields(); it.hasNext(); ) {
      var e = it.next();
      Set<String> vals = new LinkedHashSet<>();
      JsonNode v = e.getValue();
      if (v.isObject()) {
        v.fields().forEachRemaining(f -> {
          if (f.getValue().asBoolean()) {
            vals.add(f.getKey());
          }
        });
      } else if (v.isArray()) {
        v.forEach(x -> vals.add(x.asText()));
      } else {
        throw EngineException.invalid("invalid filter: %s", json);
      }
      m.put(e.getKey(), vals);
    }
    return new Filters(m);
  }

  public boolean has(String key) {
    return values.containsKey(key) && !values.get(key).isEmpty();
  }

  public Set<String> get(String key) {
    return values.getOrDefault(key, Set.of());
  }

  public Set<String> keys() {
    return values.keySet();
  }

  /** INVALID_PARAMETER "invalid filter 'x'" for any key outside the accepted set (dockerd's Validate). */
  public Filters validate(Set<String> accepted) {
    for (String k : values.keySet()) {
      if (!accepted.contains(k)) {
        throw EngineException.invalid("invalid filter '%s'", k);
      }
    }
    return this;
  }

  /** True if every "label" filter (key or key=value) is met by the labels (dockerd's MatchKVList). */
  public boolean matchLabels(String key, Map<String, String> labels) {
    for (String want : get(key)) {
      int eq = want.indexOf('=');
      String k = eq < 0 ? want : want.substring(0, eq);
      if (labels == null || !labels.containsKey(k)) {
        return false;
      }
      if (eq >= 0 && !want.substring(eq + 1).equals(labels.get(k))) {
        return false;
      }
    }
    return true;
  }

  /** True if the filter is unset or any of its values equals the given one. */
  public boolean matchAny(String key, String value) {
    return !has(key) || get(key).contains(value);
  }
  /** An until value: a unix timestamp, an RFC 3339 time, or a Go duration before now ("24h", "10m"). */
  public static long untilNano(String v) {
    long now = Timestamps.nowNanos();
    var m = Pattern.compile("^([0-9]+)(h|m|s)$").matcher(v);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      long unit = switch (m.group(2)) { case "h" -> 3600L; case "m" -> 60L; default -> 1L; };
      return now - n * unit * 1_000_000_000L;
    }
    try {
      return new java.math.BigDecimal(v).movePointRight(9).longValue();
    } catch (NumberFormatException e) {
      long t = Timestamps.parseRfc3339(v);
      if (t == 0) {
        throw EngineException.invalid("invalid value for until: %s", v);
      }
      return t;
    }
  }

}
