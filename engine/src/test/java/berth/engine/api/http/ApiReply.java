package berth.engine.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One HTTP reply as a client read it off the wire: status, headers (names lower-cased), the body with
 * any chunked framing removed, and whether the reply ended cleanly (false when the connection dropped
 * before the last chunk or before Content-Length bytes arrived).
 */
public record ApiReply(int status, Map<String, String> headers, byte[] body, boolean chunked, boolean complete) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A header value by case-insensitive name, or null. */
  public String header(String name) {
    return headers.get(name.toLowerCase(Locale.ROOT));
  }

  public String text() {
    return new String(body, StandardCharsets.UTF_8);
  }

  /** The body as one JSON document. */
  public JsonNode json() {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException("reply body is not JSON: " + text(), e);
    }
  }

  /** The body as a JSON-lines stream (the shape of /images/load, /events ...). */
  public List<JsonNode> jsonLines() {
    List<JsonNode> out = new ArrayList<>();
    for (String line : text().split("\n")) {
      if (line.isEmpty()) {
        continue;
      }
      try {
        out.add(JSON.readTree(line));
      } catch (IOException e) {
        throw new UncheckedIOException("line is not JSON: " + line, e);
      }
    }
    return out;
  }

  /** The {"message": ...} of an error reply. */
  public String message() {
    JsonNode m = json().get("message");
    return m == null ? null : m.asText();
  }

  @Override
  public String toString() {
    return status + " " + headers + " " + text();
  }
}
