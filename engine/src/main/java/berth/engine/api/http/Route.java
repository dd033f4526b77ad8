package berth.engine.api.http;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One endpoint: an HTTP method, a path template such as {@code /images/{name:.*}/json} and its handler.
 * {@code {x}} matches one path segment; {@code {x:.*}} matches the rest, slashes included (image names).
 */
public final class Route {
  private static final Pattern PARAM = Pattern.compile("\\{(\\w+)(:\\.\\*)?}");

  private final String method;
  private final String template;
  private final Handler handler;
  private final Pattern pattern;
  private final List<String> names;
  private final ApiVersion minVersion;

  private Route(String method, String template, Handler handler, ApiVersion minVersion) {
    this.method = method;
    this.template = template;
    this.handler = handler;
    this.minVersion = minVersion;
    List<String> n = new ArrayList<>();
    StringBuilder re = new StringBuilder();
    Matcher m = PARAM.matcher(template);
    int last = 0;
    while (m.find()) {
      re.append(Pattern.quote(template.substring(last, m.start())));
      re.append(m.group(2) != null ? "(.+)" : "([^/]+)");
      n.add(m.group(1));
      last = m.end();
    }
    re.append(Pattern.quote(template.substring(last)));
    this.pattern = Pattern.compile(re.toString());
    this.names = List.copyOf(n);
  }

  public static Route get(String template, Handler h) {
    return new Route("GET", template, h, null);
  }

  public static Route head(String template, Handler h) {
    return new Route("HEAD", template, h, null);
  }

  public static Route post(String template, Handler h) {
    return new Route("POST", template, h, null);
  }

  public static Route put(String template, Handler h) {
    return new Route("PUT", template, h, null);
  }

  public static Route delete(String template, Handler h) {
    return new Route("DELETE", template, h, null);
  }

  /** The same route, answered only from the given API version on (404 below it, as dockerd). */
  public Route minApiVersion(String version) {
    return new Route(method, template, handler, ApiVersion.parse(version));
  }

  public String method() {
    return method;
  }

  public String template() {
    return template;
  }

  Handler handler() {
    return handler;
  }

  ApiVersion minVersion() {
    return minVersion;
  }

  /** The path parameters (not yet percent-decoded) if the path matches, else null. */
  Map<String, String> match(String path) {
    Matcher m = pattern.matcher(path);
    if (!m.matches()) {
      return null;
    }
    Map<String, String> params = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      params.put(names.get(i), m.group(i + 1));
    }
    return params;
  }

  /** A request handler: parses, calls one backend method, writes the reply; throws on failure. */
  @FunctionalInterface
  public interface Handler {
    void handle(ApiRequest request, ApiResponse response) throws Exception;
  }
}
