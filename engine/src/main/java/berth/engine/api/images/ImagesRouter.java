package berth.engine.api.images;

import berth.engine.api.http.ApiRequest;
import berth.engine.api.http.ApiResponse;
import berth.engine.api.http.LazyJsonStream;
import berth.engine.api.http.ErrorResponder;
import berth.engine.api.http.Route;
import berth.engine.api.http.Router;
import berth.engine.api.types.Filters;
import berth.engine.api.types.JsonStream;
import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The image endpoints: list, inspect, history, load, save, import, pull, push, tag, delete, prune; and /auth. */
public final class ImagesRouter implements Router {
  private final ImagesBackend backend;

  public ImagesRouter(ImagesBackend backend) {
    this.backend = backend;
  }

  @Override
  public List<Route> routes() {
    return List.of(
        Route.get("/images/json", this::getImagesJson),
        Route.post("/images/load", this::postImagesLoad),
        Route.get("/images/get", this::getImagesGet),
        Route.post("/images/create", this::postImagesCreate),
        Route.post("/images/prune", this::postImagesPrune).minApiVersion("1.25"),
        Route.get("/images/search", this::getImagesSearch),
        Route.get("/images/{name:.*}/json", this::getImagesByName),
        Route.get("/images/{name:.*}/history", this::getImagesHistory),
        Route.get("/images/{name:.*}/get", this::getImagesGetOne),
        Route.post("/images/{name:.*}/tag", this::postImagesTag),
        Route.post("/images/{name:.*}/push", this::postImagesPush),
        Route.delete("/images/{name:.*}", this::deleteImages),
        Route.post("/auth", this::postAuth));
  }

  private void getImagesJson(ApiRequest req, ApiResponse res) throws IOException {
    Filters f = Filters.parse(req.query("filters"));
    String legacyFilter = req.query("filter"); // API < 1.41: a reference pattern
    if (legacyFilter != null && !legacyFilter.isEmpty() && req.version().lessThan("1.41")) {
      f = Filters.parse("{\"reference\":[\"" + legacyFilter.replace("\"", "") + "\"]}");
    }
    res.json(200, backend.list(req.boolQuery("all"), f, req.boolQuery("shared-size")));
  }

  private void getImagesByName(ApiRequest req, ApiResponse res) throws IOException {
    res.json(200, backend.inspect(req.pathParam("name")));
  }

  private void getImagesHistory(ApiRequest req, ApiResponse res) throws IOException {
    res.json(200, backend.history(req.pathParam("name")));
  }

  private void postImagesLoad(ApiRequest req, ApiResponse res) throws IOException {
    var out = res.stream(200, "application/json");
    try {
      backend.load(req.body(), req.boolQuery("quiet"), out::writeJson);
    } catch (Exception e) {
      sendError(out::writeJson, e);
    }
    out.close();
  }

  private void getImagesGet(ApiRequest req, ApiResponse res) throws IOException {
    save(req.queryAll("names"), res);
  }

  private void getImagesGetOne(ApiRequest req, ApiResponse res) throws IOException {
    save(List.of(req.pathParam("name")), res);
  }

  private void save(List<String> names, ApiResponse res) throws IOException {
    if (names.isEmpty()) {
      throw EngineException.invalid("no image names given");
    }
    backend.resolveForSave(names);
    var out = res.stream(200, "application/x-tar");
    try {
      backend.save(names, out);
    } catch (IOException | RuntimeException e) {
      out.abort(); // the tar is already under way: the client must see a broken stream, not a short archive
      return;
    }
    out.close();
  }

  private void postImagesCreate(ApiRequest req, ApiResponse res) throws IOException {
    String fromSrc = req.query("fromSrc");
    String fromImage = req.query("fromImage");
    if (fromSrc == null && fromImage == null) {
      throw EngineException.invalid("either fromSrc or fromImage must be given");
    }
    if (fromSrc == null) {
      pull(req, res, fromImage);
      return;
    }
    String repo = req.query("repo");
    String tag = req.query("tag");
    List<String> changes = new ArrayList<>(req.queryAll("changes"));
    // As dockerd: a failure before anything was sent gets its own status; after, it goes in-band.
    LazyJsonStream out = new LazyJsonStream(res);
    try (InputStream body = fromSrc.equals("-") ? req.body() : download(fromSrc)) {
      String id = backend.importImage(body, repo, tag, req.query("message"), changes, req.query("platform"), out);
      out.send(Map.of("status", id));
    } catch (Exception e) {
      if (!res.committed()) {
        throw e;
      }
      sendError(out, e);
    }
    out.close();
  }

  private void pull(ApiRequest req, ApiResponse res, String fromImage) throws IOException {
    LazyJsonStream out = new LazyJsonStream(res);
    try {
      backend.pull(fromImage, req.query("tag"), req.query("platform"), req.header("X-Registry-Auth"), out);
    } catch (Exception e) {
      if (!res.committed()) {
        throw e;
      }
      sendError(out, e);
    }
    out.close();
  }

  private void postImagesPush(ApiRequest req, ApiResponse res) throws IOException {
    LazyJsonStream out = new LazyJsonStream(res);
    try {
      backend.push(req.pathParam("name"), req.query("tag"), req.header("X-Registry-Auth"), out);
    } catch (Exception e) {
      if (!res.committed()) {
        throw e;
      }
      sendError(out, e);
    }
    out.close();
  }

  private void postAuth(ApiRequest req, ApiResponse res) throws IOException {
    backend.login(req.body().readAllBytes());
    res.json(200, Map.of("Status", "Login Succeeded", "IdentityToken", ""));
  }


  private static InputStream download(String url) throws IOException {
    URI uri;
    try {
      uri = URI.create(url);
    } catch (IllegalArgumentException e) {
      throw EngineException.invalid("invalid fromSrc URL: %s", url);
    }
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
      throw EngineException.invalid("fromSrc must be \"-\" or an http(s) URL, got %s", url);
    }
    try {
      HttpResponse<InputStream> r = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).build()
          .send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
      if (r.statusCode() != 200) {
        r.body().close();
        throw EngineException.invalid("Get %s: unexpected status %d", url, r.statusCode());
      }
      return r.body();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
  }

  private void postImagesTag(ApiRequest req, ApiResponse res) {
    String repo = req.query("repo");
    if (repo == null || repo.isEmpty()) {
      throw EngineException.invalid("repository name must have at least one component");
    }
    backend.tag(req.pathParam("name"), repo, req.query("tag"));
    res.empty(201);
  }

  private void getImagesSearch(ApiRequest req, ApiResponse res) {
    throw EngineException.notImplemented("searching registries is not supported by this engine yet");
  }

  private void deleteImages(ApiRequest req, ApiResponse res) throws IOException {
    res.json(200, backend.delete(req.pathParam("name"), req.boolQuery("force"), req.boolQuery("noprune")));
  }

  private void postImagesPrune(ApiRequest req, ApiResponse res) throws IOException {
    res.json(200, backend.prune(Filters.parse(req.query("filters"))));
  }

  /** Reports a failure inside an already-started JSON stream; a client that left gets nothing. */
  private static void sendError(JsonStream out, Exception e) {
    try {
      out.send(ErrorResponder.inBand("image operation", e));
    } catch (IOException gone) {
      // the client left; nothing to tell it
    }
  }

}
