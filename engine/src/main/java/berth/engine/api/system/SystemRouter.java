package berth.engine.api.system;

import berth.engine.api.http.ApiRequest;
import berth.engine.api.http.ApiResponse;
import berth.engine.api.http.Route;
import berth.engine.api.http.Router;
import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code /_ping}, {@code /version}, {@code /info}, {@code /system/df}, and the swarm and plugin
 * endpoints answered as a dockerd that is not a swarm manager and has no plugins answers them.
 */
public final class SystemRouter implements Router {
  static final String NOT_A_MANAGER = "This node is not a swarm manager. Use \"docker swarm init\" or "
      + "\"docker swarm join\" to connect this node to swarm and try again.";
  private final SystemBackend backend;

  public SystemRouter(SystemBackend backend) {
    this.backend = backend;
  }

  @Override
  public List<Route> routes() {
    return List.of(
        Route.get("/_ping", this::getPing),
        Route.head("/_ping", this::getPing),
        Route.get("/version", (req, res) -> res.json(200, backend.version())),
        Route.get("/info", (req, res) -> res.json(200, backend.info())),
        Route.get("/system/df", this::getSystemDf),
        Route.get("/swarm", SystemRouter::notAManager),
        Route.get("/swarm/unlockkey", SystemRouter::notAManager),
        Route.post("/swarm/init", SystemRouter::swarmUnsupported),
        Route.post("/swarm/join", SystemRouter::swarmUnsupported),
        Route.post("/swarm/leave", (req, res) -> {
          throw EngineException.unavailable("This node is not part of a swarm");
        }),
        Route.post("/swarm/update", SystemRouter::notAManager),
        Route.post("/swarm/unlock", SystemRouter::notAManager),
        Route.get("/services", SystemRouter::notAManager),
        Route.post("/services/create", SystemRouter::notAManager),
        Route.get("/services/{id}", SystemRouter::notAManager),
        Route.delete("/services/{id}", SystemRouter::notAManager),
        Route.post("/services/{id}/update", SystemRouter::notAManager),
        Route.get("/services/{id}/logs", SystemRouter::notAManager),
        Route.get("/tasks", SystemRouter::notAManager),
        Route.get("/tasks/{id}", SystemRouter::notAManager),
        Route.get("/tasks/{id}/logs", SystemRouter::notAManager),
        Route.get("/nodes", SystemRouter::notAManager),
        Route.get("/nodes/{id}", SystemRouter::notAManager),
        Route.delete("/nodes/{id}", SystemRouter::notAManager),
        Route.post("/nodes/{id}/update", SystemRouter::notAManager),
        Route.get("/secrets", SystemRouter::notAManager),
        Route.post("/secrets/create", SystemRouter::notAManager),
        Route.get("/secrets/{id}", SystemRouter::notAManager),
        Route.delete("/secrets/{id}", SystemRouter::notAManager),
        Route.get("/configs", SystemRouter::notAManager),
        Route.post("/configs/create", SystemRouter::notAManager),
        Route.get("/configs/{id}", SystemRouter::notAManager),
        Route.delete("/configs/{id}", SystemRouter::notAManager),
        Route.get("/plugins", (req, res) -> res.json(200, List.of())),
        Route.get("/plugins/privileges", SystemRouter::pluginsUnsupported),
        Route.post("/plugins/pull", SystemRouter::pluginsUnsupported),
        Route.post("/plugins/create", SystemRouter::pluginsUnsupported),
        Route.get("/plugins/{name:.*}/json", (req, res) -> {
          throw EngineException.notFound("plugin \"%s\" not found", req.pathParam("name"));
        }));
  }

  private void getPing(ApiRequest req, ApiResponse res) {
    res.header("Builder-Version", "1");
    res.header("Swarm", "inactive");
    res.header("Cache-Control", "no-cache, no-store, must-revalidate");
    res.header("Pragma", "no-cache");
    // dockerd answers HEAD /_ping with an empty body and Content-Length 0 (api/server/router/system)
    byte[] body = req.method().equals("HEAD") ? new byte[0] : "OK".getBytes(StandardCharsets.UTF_8);
    res.bytes(200, "text/plain; charset=utf-8", body);
  }

  private void getSystemDf(ApiRequest req, ApiResponse res) throws IOException {
    Set<String> types = new HashSet<>(req.queryAll("type"));
    for (String t : types) {
      if (!Set.of("container", "image", "volume", "build-cache").contains(t)) {
        throw EngineException.invalid("unknown object type: %s", t);
      }
    }
    res.json(200, backend.diskUsage(types));
  }

  private static void notAManager(ApiRequest req, ApiResponse res) {
    throw EngineException.unavailable(NOT_A_MANAGER);
  }

  private static void swarmUnsupported(ApiRequest req, ApiResponse res) {
    throw EngineException.notImplemented("Berth does not support swarm mode");
  }

  private static void pluginsUnsupported(ApiRequest req, ApiResponse res) {
    throw EngineException.notImplemented("Berth does not support managed plugins");
  }
}
