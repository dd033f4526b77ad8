package berth.engine.api.build;

import berth.engine.api.http.ApiRequest;
import berth.engine.api.http.ApiResponse;
import berth.engine.api.http.LazyJsonStream;
import berth.engine.api.http.ErrorResponder;
import berth.engine.api.http.Route;
import berth.engine.api.http.Router;
import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code POST /build} (the classic builder, answering with Docker's JSON message stream) and {@code POST /build/prune}. */
public final class BuildRouter implements Router {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final BuildBackend backend;

  /** The router over a build backend. */
  public BuildRouter(BuildBackend backend) {
    this.backend = backend;
  }

  @Override
  public List<Route> routes() {
    return List.of(Route.post("/build", this::postBuild),
        Route.post("/build/prune", this::postPrune).minApiVersion("1.31"));
  }

  private void postBuild(ApiRequest req, ApiResponse res) throws IOException {
    String version = req.query("version");
    if ("2".equals(version)) {
      throw EngineException.notImplemented("BuildKit is not supported by this engine: use the classic builder "
          + "(DOCKER_BUILDKIT=0)");
    }
    String remote = req.query("remote");
    if (remote != null && !remote.isEmpty()) {
      throw EngineException.notImplemented("building from a remote context (%s) is not supported by this engine yet",
          remote);
    }
    String platform = req.query("platform");
    if (platform != null && !platform.isEmpty() && !platform.startsWith("linux/amd64") && !platform.equals("linux")) {
      throw EngineException.invalid("unsupported platform %s: this engine builds linux/amd64 images", platform);
    }
    String dockerfile = req.query("dockerfile");
    String rm = req.query("rm");
    BuildBackend.Options o = new BuildBackend.Options(dockerfile == null || dockerfile.isEmpty() ? "Dockerfile"
        : dockerfile, req.queryAll("t"), map(req.query("buildargs"), "buildargs"), map(req.query("labels"), "labels"),
        req.boolQuery("q"), req.boolQuery("nocache"), rm == null || rm.isEmpty() || req.boolQuery("rm"),
        req.boolQuery("forcerm"), req.query("target"), runHostConfig(req), req.boolQuery("pull"),
        req.header("X-Registry-Config"));
    LazyJsonStream out = new LazyJsonStream(res);
    try {
      backend.build(req.body(), o, out);
    } catch (Exception e) {
      if (!res.committed()) {
        req.body().transferTo(OutputStream.nullOutputStream()); // the client is still sending the context
        throw e;
      }
      try {
        Map<String, Object> error = ErrorResponder.inBand("build", e);
        if (e instanceof BuildBackend.CommandFailed f) {
          // dockerd's JSONError carries the exit code; the CLI exits with it
          error.put("errorDetail", Map.of("code", f.code(), "message", f.getMessage()));
        }
        out.send(error);
      } catch (IOException gone) {
        // the client left
      }
    }
    out.close();
  }

  /**
   * {@code docker builder prune} and the build-cache step of {@code docker system prune}: {@code keep-storage}
   * (API ≤ 1.47) or {@code reserved-space} (1.48+) bound what is left.
   */
  private void postPrune(ApiRequest req, ApiResponse res) throws IOException {
    berth.engine.api.types.Filters f = berth.engine.api.types.Filters.parse(req.query("filters"));
    long keep = Math.max(req.longQuery("keep-storage", 0), req.longQuery("reserved-space", 0));
    if (keep < 0) {
      throw EngineException.invalid("keep-storage must not be negative");
    }
    res.json(200, backend.prune(f, req.boolQuery("all"), keep));
  }

  /** The query parameters that shape RUN containers, as HostConfig fields. */
  private static Map<String, Object> runHostConfig(ApiRequest req) {
    Map<String, Object> h = new LinkedHashMap<>();
    String net = req.query("networkmode");
    if (net != null && !net.isEmpty() && !net.equals("default")) {
      h.put("NetworkMode", net);
    }
    List<String> hosts = req.queryAll("extrahosts");
    if (!hosts.isEmpty()) {
      h.put("ExtraHosts", hosts);
    }
    for (String[] n : new String[][] {{"shmsize", "ShmSize"}, {"memory", "Memory"}, {"memswap", "MemorySwap"},
        {"cpushares", "CpuShares"}, {"cpuperiod", "CpuPeriod"}, {"cpuquota", "CpuQuota"}}) {
      long v = req.longQuery(n[0], 0);
      if (v != 0) {
        h.put(n[1], v);
      }
    }
    for (String[] n : new String[][] {{"cpusetcpus", "CpusetCpus"}, {"cpusetmems", "CpusetMems"}}) {
      String v = req.query(n[0]);
      if (v != null && !v.isEmpty()) {
        h.put(n[1], v);
      }
    }
    return h;
  }

  private static Map<String, String> map(String json, String what) {
    if (json == null || json.isEmpty()) {
      return Map.of();
    }
    try {
      Map<String, String> m = JSON.readValue(json, new TypeReference<LinkedHashMap<String, String>>() {});
      return m == null ? Map.of() : m;
    } catch (IOException e) {
      throw EngineException.invalid("invalid %s: %s", what, e.getMessage());
    }
  }

}
