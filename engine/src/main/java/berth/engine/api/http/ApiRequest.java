package berth.engine.api.http;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A parsed API request: path parameters, query parameters, headers, the negotiated version and the
 * body as a stream. Query accessors classify bad values as INVALID_PARAMETER, with dockerd's wording.
 */
public final class ApiRequest {
  private final String method;
  private final String path;
  private final Map<String, String> pathParams;
  private final Map<String, List<String>> query;
  private final Map<String, String> headers;
  private final ApiVersion version;
  private final InputStream body;

  public ApiRequest(String method, String path, Map<String, String> pathParams, Map<String, List<String>> query,
      Map<String, String> headers, ApiVersion version, InputStream body) {
    this.method = method;
    this.path = path;
    this.pathParams = pathParams;
    this.query = query;
    this.headers = headers;
    this.version = version;
    this.body = body;
  }

  public String method() {
    return method;
  }

  public String path() {
    return path;
  }

  public ApiVersion version() {
    return version;
  }

  public InputStream body() {
    return body;
  }

  /** A path parameter, percent-decoded. */
  public String pathParam(String name) {
    String v = pathParams.get(name);
    if (v == null) {
      throw new IllegalArgumentException("no path parameter " + name);
    }
    return v;
  }

  /** A header value (case-insensitive name), or null. */
  public String header(String name) {
    return headers.get(name.toLowerCase(Locale.ROOT));
  }

  /** The first value of a query parameter, or null when absent. */
  public String query(String name) {
    List<String> v = query.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  /** Every value of a repeated query parameter (empty when absent). */
  public List<String> queryAll(String name) {
    return query.getOrDefault(name, List.of());
  }

  /**
   * A boolean query parameter as dockerd's httputils.BoolValue reads it: absent, "", "0", "no",
   * "false" and "none" are false; anything else is true.
   */
  public boolean boolQuery(String name) {
    String v = query(name);
    if (v == null) {
      return false;
    }
    String s = v.trim().toLowerCase(Locale.ROOT);
    return !(s.isEmpty() || s.equals("0") || s.equals("no") || s.equals("false") || s.equals("none"));
  }

  /** An integer query parameter; INVALID_PARAMETER when it is not a number. */
  public long longQuery(String name, long dflt) {
    String v = query(name);
    if (v == null || v.isEmpty()) {
      return dflt;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw EngineException.invalid("invalid value for %s: strconv.ParseInt: parsing \"%s\": invalid syntax", name, v);
    }
  }

  /** Reads the whole body as JSON into a record; an empty body gives null. INVALID_PARAMETER on bad JSON. */
  public <T> T readJson(Class<T> type) {
    try {
      byte[] bytes = body.readAllBytes();
      if (bytes.length == 0) {
        return null;
      }
      return ApiJson.MAPPER.readValue(bytes, type);
    } catch (JsonProcessingException e) {
      throw EngineException.invalid("invalid JSON: %s", e.getOriginalMessage());
    } catch (IOException e) {
      throw EngineException.invalid("could not read request body: %s", e.getMessage());
    }
  }
}
