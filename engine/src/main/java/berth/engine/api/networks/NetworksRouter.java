package berth.engine.api.networks;

import berth.engine.api.http.ApiRequest;
import berth.engine.api.http.ApiResponse;
import berth.engine.api.http.Route;
import berth.engine.api.http.Router;
import berth.engine.api.types.Filters;
import berth.engine.api.types.NetworkCreateRequest;
import berth.engine.api.types.NetworkingConfig;
import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code /networks}: list, inspect, create, remove, connect, disconnect, prune. */
public final class NetworksRouter implements Router {
  private final NetworksBackend backend;

  public NetworksRouter(NetworksBackend backend) {
    this.backend = backend;
  }

  /** {@code POST /networks/{id}/connect}. */
  record ConnectRequest(String container, @JsonProperty("EndpointConfig") NetworkingConfig.EndpointSettings endpoint) {}

  /** {@code POST /networks/{id}/disconnect}. */
  record DisconnectRequest(String container, Boolean force) {}

  @Override
  public List<Route> routes() {
    return List.of(
        Route.get("/networks", (req, res) -> res.json(200, backend.list(Filters.parse(req.query("filters"))))),
        Route.post("/networks/create", this::create),
        Route.post("/networks/prune", (req, res) -> {
          Map<String, Object> body = new LinkedHashMap<>();
          body.put("NetworksDeleted", backend.prune(Filters.parse(req.query("filters"))));
          res.json(200, body);
        }),
        Route.get("/networks/{id}", (req, res) -> res.json(200, backend.inspect(req.pathParam("id"),
            req.boolQuery("verbose")))),
        Route.delete("/networks/{id}", (req, res) -> {
          backend.remove(req.pathParam("id"));
          res.empty(204);
        }),
        Route.post("/networks/{id}/connect", (req, res) -> {
          ConnectRequest c = req.readJson(ConnectRequest.class);
          if (c == null || c.container() == null || c.container().isEmpty()) {
            throw EngineException.invalid("no container specified");
          }
          backend.connect(req.pathParam("id"), c.container(), c.endpoint());
          res.empty(200);
        }),
        Route.post("/networks/{id}/disconnect", (req, res) -> {
          DisconnectRequest d = req.readJson(DisconnectRequest.class);
          if (d == null || d.container() == null || d.container().isEmpty()) {
            throw EngineException.invalid("no container specified");
          }
          backend.disconnect(req.pathParam("id"), d.container(), Boolean.TRUE.equals(d.force()));
          res.empty(200);
        }));
  }

  private void create(ApiRequest req, ApiResponse res) throws java.io.IOException {
    NetworkCreateRequest r = req.readJson(NetworkCreateRequest.class);
    if (r == null) {
      throw EngineException.invalid("missing network create request");
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("Id", backend.create(r));
    body.put("Warning", "");
    res.json(201, body);
  }
}
