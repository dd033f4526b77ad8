package berth.engine.api.containers;

import berth.engine.api.http.ApiRequest;
import berth.engine.api.http.ApiResponse;
import berth.engine.api.http.Route;
import berth.engine.api.http.Router;
import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.types.Filters;
import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The container endpoints Berth serves so far: create, list, inspect, rename, remove, prune. Running
 * containers (start, attach, wait, logs, exec …) answers 501 until the runtime monitor exists.
 */
public final class ContainersRouter implements Router {
  private final ContainersBackend backend;

  public ContainersRouter(ContainersBackend backend) {
    this.backend = backend;
  }

  @Override
  public List<Route> routes() {
    return List.of(
        Route.post("/containers/create", this::postContainersCreate),
        Route.get("/containers/json", this::getContainersJson),
        Route.post("/containers/prune", this::postContainersPrune).minApiVersion("1.25"),
        Route.get("/containers/{name}/json", this::getContainersInspect),
        Route.post("/containers/{name}/rename", this::postContainersRename),
        Route.delete("/containers/{name}", this::deleteContainers),
        Route.post("/containers/{name}/start", ContainersRouter::notYet),
        Route.post("/containers/{name}/attach", ContainersRouter::notYet),
        Route.post("/containers/{name}/wait", ContainersRouter::notYet),
        Route.get("/containers/{name}/logs", ContainersRouter::notYet),
        Route.post("/containers/{name}/exec", ContainersRouter::notYet));
  }

  private void postContainersCreate(ApiRequest req, ApiResponse res) throws IOException {
    ContainerCreateRequest body = req.readJson(ContainerCreateRequest.class);
    if (body == null) {
      throw EngineException.invalid("config cannot be empty in order to create a container");
    }
    String id = backend.create(req.query("name"), body);
    res.json(201, Map.of("Id", id, "Warnings", List.of()));
  }

  private void getContainersJson(ApiRequest req, ApiResponse res) throws IOException {
    res.json(200, backend.list(req.boolQuery("all"), (int) req.longQuery("limit", -1), req.boolQuery("size"),
        Filters.parse(req.query("filters"))));
  }

  private void getContainersInspect(ApiRequest req, ApiResponse res) throws IOException {
    res.json(200, backend.inspect(req.pathParam("name"), req.boolQuery("size")));
  }

  private void postContainersRename(ApiRequest req, ApiResponse res) {
    String name = req.query("name");
    if (name == null || name.isEmpty()) {
      throw EngineException.invalid("Neither old nor new names may be empty");
    }
    backend.rename(req.pathParam("name"), name);
    res.empty(204);
  }

  private void deleteContainers(ApiRequest req, ApiResponse res) {
    backend.remove(req.pathParam("name"), req.boolQuery("force"), req.boolQuery("v"));
    res.empty(204);
  }

  private void postContainersPrune(ApiRequest req, ApiResponse res) throws IOException {
    res.json(200, backend.prune(Filters.parse(req.query("filters"))));
  }

  private static void notYet(ApiRequest req, ApiResponse res) {
    throw EngineException.notImplemented("running containers is not supported by this engine yet: containers can be "
        + "created, listed, inspected, renamed and removed");
  }
}
