package berth.engine.api.volumes;

import berth.engine.api.http.ApiRequest;
import berth.engine.api.http.ApiResponse;
import berth.engine.api.http.Route;
import berth.engine.api.http.Router;
import berth.engine.api.types.Filters;
import berth.engine.api.types.VolumeCreateRequest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code /volumes}: list, create, inspect, remove, prune. */
public final class VolumesRouter implements Router {
  private final VolumesBackend backend;

  public VolumesRouter(VolumesBackend backend) {
    this.backend = backend;
  }

  @Override
  public List<Route> routes() {
    return List.of(
        Route.get("/volumes", (req, res) -> {
          Map<String, Object> body = new LinkedHashMap<>();
          body.put("Volumes", backend.list(Filters.parse(req.query("filters"))));
          body.put("Warnings", null);
          res.json(200, body);
        }),
        Route.post("/volumes/create", this::create),
        Route.post("/volumes/prune", (req, res) -> {
          // API 1.42 made prune keep named volumes unless asked with all=true
          VolumesBackend.PruneReport r = backend.prune(Filters.parse(req.query("filters")),
              req.version().lessThan("1.42"));
          Map<String, Object> body = new LinkedHashMap<>();
          body.put("VolumesDeleted", r.volumesDeleted());
          body.put("SpaceReclaimed", r.spaceReclaimed());
          res.json(200, body);
        }),
        Route.get("/volumes/{name}", (req, res) -> res.json(200, backend.inspect(req.pathParam("name")))),
        Route.delete("/volumes/{name}", (req, res) -> {
          backend.remove(req.pathParam("name"), req.boolQuery("force"));
          res.empty(204);
        }));
  }

  private void create(ApiRequest req, ApiResponse res) throws java.io.IOException {
    VolumeCreateRequest r = req.readJson(VolumeCreateRequest.class);
    if (r == null) {
      r = new VolumeCreateRequest(null, null, null, null);
    }
    res.json(201, backend.create(r.name(), r.driver(), r.driverOpts(), r.labels()));
  }
}
