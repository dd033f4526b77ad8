package berth.engine.api.http;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** All routes of the engine, matched by path after the optional {@code /v1.NN} prefix. Immutable. */
public final class RouteTable {
  private static final Pattern VERSION_PREFIX = Pattern.compile("^/v([0-9]+\\.[0-9]+)(/.*)$");

  private final List<Route> routes;

  public RouteTable(List<Router> routers) {
    List<Route> all = new ArrayList<>();
    routers.forEach(r -> all.addAll(r.routes()));
    this.routes = List.copyOf(all);
  }

  /** A route with its path parameters, the API version and the unprefixed path. */
  record Match(Route route, Map<String, String> params, ApiVersion version, String path) {}

  /**
   * Finds the route for a request. Throws INVALID_PARAMETER for a version outside the supported range
   * (dockerd's wording), NOT_FOUND "page not found" and METHOD_NOT_ALLOWED as dockerd's mux does.
   */
  Match find(String method, String rawPath) {
    ApiVersion version = ApiVersion.CURRENT;
    String path = rawPath;
    Matcher vm = VERSION_PREFIX.matcher(rawPath);
    if (vm.matches()) {
      version = ApiVersion.parse(vm.group(1));
      path = vm.group(2);
      if (version.compareTo(ApiVersion.CURRENT) > 0) {
        throw EngineException.invalid("client version %s is too new. Maximum supported API version is %s",
            version, ApiVersion.CURRENT);
      }
      if (version.compareTo(ApiVersion.MIN) < 0) {
        throw EngineException.invalid("client version %s is too old. Minimum supported API version is %s, "
            + "please upgrade your client to a newer version", version, ApiVersion.MIN);
      }
    }
    if (path.length() > 1 && path.endsWith("/")) {
      path = path.substring(0, path.length() - 1);
    }
    boolean pathKnown = false;
    boolean belowMinVersion = false;
    for (Route r : routes) {
      Map<String, String> params = r.match(path);
      if (params == null) {
        continue;
      }
      if (r.minVersion() != null && version.compareTo(r.minVersion()) < 0) {
        // not a route at this version: 404, even when another route's pattern (DELETE /images/{name:.*})
        // also matches the path and would otherwise make it a 405
        belowMinVersion |= r.method().equals(method);
        continue;
      }
      pathKnown = true;
      if (r.method().equals(method) || (method.equals("HEAD") && r.method().equals("GET") && !hasHead(path))) {
        params.replaceAll((k, v) -> PathCodec.decode(v));
        return new Match(r, params, version, path);
      }
    }
    if (pathKnown && !belowMinVersion) {
      throw new EngineException(ErrorKind.METHOD_NOT_ALLOWED, "method " + method + " is not allowed on " + path);
    }
    throw EngineException.notFound("page not found");
  }

  private boolean hasHead(String path) {
    for (Route r : routes) {
      if (r.method().equals("HEAD") && r.match(path) != null) {
        return true;
      }
    }
    return false;
  }
}
