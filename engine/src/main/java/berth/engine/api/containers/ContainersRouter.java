package berth.engine.api.containers;

import berth.engine.api.http.ApiRequest;
import berth.engine.api.http.ApiResponse;
import berth.engine.api.http.Route;
import berth.engine.api.http.Router;
import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.http.Stdcopy;
import berth.engine.api.types.Filters;
import berth.engine.api.types.HostConfig;
import berth.engine.api.types.Timestamps;
import berth.engine.logs.ReadOptions;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.concurrent.CompletableFuture;
import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/** The container and exec endpoints: lifecycle, attach, wait, logs, top, stats, update, exec. */
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
        Route.post("/containers/{name}/start", (req, res) -> {
          backend.start(req.pathParam("name"));
          res.empty(204);
        }),
        Route.post("/containers/{name}/stop", (req, res) -> {
          backend.stop(req.pathParam("name"), timeout(req), req.query("signal"));
          res.empty(204);
        }),
        Route.post("/containers/{name}/restart", (req, res) -> {
          backend.restart(req.pathParam("name"), timeout(req), req.query("signal"));
          res.empty(204);
        }),
        Route.post("/containers/{name}/kill", (req, res) -> {
          backend.kill(req.pathParam("name"), req.query("signal"));
          res.empty(204);
        }),
        Route.post("/containers/{name}/pause", (req, res) -> {
          backend.pause(req.pathParam("name"));
          res.empty(204);
        }),
        Route.post("/containers/{name}/unpause", (req, res) -> {
          backend.unpause(req.pathParam("name"));
          res.empty(204);
        }),
        Route.post("/containers/{name}/wait", this::postContainersWait),
        Route.post("/containers/{name}/attach", this::postContainersAttach),
        Route.get("/containers/{name}/logs", this::getContainersLogs),
        Route.post("/containers/{name}/resize", (req, res) -> {
          backend.resize(req.pathParam("name"), dimension(req, "h"), dimension(req, "w"));
          res.empty(200);
        }),
        Route.get("/containers/{name}/top", (req, res) -> res.json(200,
            backend.top(req.pathParam("name"), req.query("ps_args")))),
        Route.get("/containers/{name}/stats", this::getContainersStats),
        Route.post("/containers/{name}/update", (req, res) -> {
          HostConfig changes = req.readJson(HostConfig.class);
          res.json(200, Map.of("Warnings", backend.update(req.pathParam("name"),
              changes == null ? HostConfig.empty() : changes)));
        }),
        Route.head("/containers/{name}/archive", this::headContainersArchive),
        Route.get("/containers/{name}/archive", this::getContainersArchive),
        Route.put("/containers/{name}/archive", this::putContainersArchive),
        Route.get("/containers/{name}/changes", (req, res) -> res.json(200, backend.changes(req.pathParam("name")))),
        Route.get("/containers/{name}/export", this::getContainersExport),
        Route.post("/commit", this::postCommit),
        Route.post("/containers/{name}/exec", this::postContainersExec),
        Route.post("/exec/{id}/start", this::postExecStart),
        Route.post("/exec/{id}/resize", (req, res) -> {
          backend.execResize(req.pathParam("id"), dimension(req, "h"), dimension(req, "w"));
          res.empty(200);
        }),
        Route.get("/exec/{id}/json", (req, res) -> res.json(200, backend.execInspect(req.pathParam("id")))));
  }

  private static Integer timeout(ApiRequest req) {
    String t = req.query("t");
    if (t == null || t.isEmpty()) {
      return null;
    }
    try {
      return Integer.parseInt(t);
    } catch (NumberFormatException e) {
      throw EngineException.invalid("invalid value for t: %s", t);
    }
  }

  private static int dimension(ApiRequest req, String name) {
    String v = req.query(name);
    try {
      int n = Integer.parseInt(v == null ? "" : v);
      if (n < 0 || n > 65535) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw EngineException.invalid("invalid resize %s: %s", name.equals("h") ? "height" : "width", v);
    }
  }

  private void postContainersWait(ApiRequest req, ApiResponse res) throws IOException {
    String condition = req.query("condition");
    if (condition == null || condition.isEmpty()) {
      condition = "not-running";
    }
    if (!List.of("not-running", "next-exit", "removed").contains(condition)) {
      throw EngineException.invalid("invalid condition: \"%s\"", condition);
    }
    CompletableFuture<Integer> f = backend.waitFor(req.pathParam("name"), condition);
    // Headers go out now: the client's wait call returns once the wait is registered (dockerd does this).
    ApiResponse.ResponseStream out = res.stream(200, "application/json");
    out.flush();
    CompletableFuture<?> gone = res.clientGone();
    CompletableFuture.anyOf(f, gone).join();
    if (!f.isDone()) {
      out.abort();
      return;
    }
    Map<String, Object> body = new LinkedHashMap<>();
    if (f.isCompletedExceptionally()) { // e.g. an --rm container whose removal failed: dockerd's Error
      String msg;
      try {
        f.join();
        msg = "";
      } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
        msg = e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
      }
      body.put("StatusCode", -1);
      body.put("Error", Map.of("Message", msg == null ? "" : msg));
    } else {
      body.put("StatusCode", f.join());
      body.put("Error", null);
    }
    out.writeJson(body);
    out.close();
  }

  private void postContainersAttach(ApiRequest req, ApiResponse res) throws IOException {
    ContainersBackend.AttachOptions o = new ContainersBackend.AttachOptions(req.boolQuery("stream"),
        req.boolQuery("logs"), req.boolQuery("stdin"), req.boolQuery("stdout"), req.boolQuery("stderr"),
        req.query("detachKeys"));
    boolean tty = backend.attachTty(req.pathParam("name"), o);
    backend.attach(req.pathParam("name"), o, () -> res.hijack(tty));
  }

  private void getContainersLogs(ApiRequest req, ApiResponse res) throws IOException {
    boolean out = req.boolQuery("stdout");
    boolean err = req.boolQuery("stderr");
    if (!out && !err) {
      throw EngineException.invalid("Bad parameters: you must choose at least one stream");
    }
    String name = req.pathParam("name");
    boolean tty = backend.logsTty(name);
    String tail = req.query("tail");
    int n = -1;
    if (tail != null && !tail.isEmpty() && !tail.equals("all")) {
      try {
        n = Integer.parseInt(tail);
      } catch (NumberFormatException e) {
        n = -1; // dockerd treats an unparsable tail as "all"
      }
    }
    ReadOptions o = new ReadOptions(out, err, logTime(req.query("since")), logTime(req.query("until")), n,
        req.boolQuery("follow"));
    boolean timestamps = req.boolQuery("timestamps");
    ApiResponse.ResponseStream body = res.stream(200,
        tty ? ApiResponse.RAW_STREAM : ApiResponse.MULTIPLEXED_STREAM);
    // Consecutive entries of one stream share a frame: the CLI pays per frame, not per byte, so one frame
    // per line would cap `docker logs` at a few MB/s. A frame ends at a stream switch, at 32 KiB, or
    // whenever the reader pauses (each `cancelled` poll), so a follower sees lines at once.
    Coalescer frames = new Coalescer(body, tty);
    CompletableFuture<?> gone = res.clientGone();
    try {
      backend.logs(name, o, e -> {
        try {
          int stream = e.isStderr() ? Stdcopy.STDERR : Stdcopy.STDOUT;
          if (timestamps) {
            frames.add(stream, (Timestamps.rfc3339Nano(e.timeNanos()) + " ").getBytes(StandardCharsets.UTF_8));
          }
          frames.add(stream, e.line());
        } catch (IOException x) {
          throw new java.io.UncheckedIOException(x);
        }
      }, () -> {
        try {
          frames.flush();
        } catch (IOException x) {
          return true;
        }
        return gone.isDone();
      });
      frames.flush();
      body.close();
    } catch (java.io.UncheckedIOException | IOException e) {
      body.abort();
    }
  }

  /** Joins consecutive same-stream payloads into one stdcopy frame (or raw bytes for a tty). */
  static final class Coalescer {
    private static final int MAX = 32 * 1024;
    private final java.io.OutputStream out;
    private final boolean raw;
    private final byte[] buf = new byte[8 + MAX];
    private int len;
    private int stream = -1;

    Coalescer(java.io.OutputStream out, boolean raw) {
      this.out = out;
      this.raw = raw;
    }

    void add(int s, byte[] b) throws IOException {
      if (s != stream && len > 0) {
        emit();
      }
      stream = s;
      int off = 0;
      while (off < b.length) {
        int n = Math.min(MAX - len, b.length - off);
        System.arraycopy(b, off, buf, 8 + len, n);
        len += n;
        off += n;
        if (len == MAX) {
          emit();
        }
      }
    }

    private void emit() throws IOException {
      if (len == 0) {
        return;
      }
      if (raw) {
        out.write(buf, 8, len);
      } else {
        buf[0] = (byte) stream;
        buf[1] = 0;
        buf[2] = 0;
        buf[3] = 0;
        buf[4] = (byte) (len >>> 24);
        buf[5] = (byte) (len >>> 16);
        buf[6] = (byte) (len >>> 8);
        buf[7] = (byte) len;
        out.write(buf, 0, 8 + len);
      }
      len = 0;
    }

    void flush() throws IOException {
      emit();
      out.flush();
    }
  }

  /** since/until: Unix seconds with an optional fraction ("1700000000.5"), as the CLI sends them; 0 = none. */
  static long logTime(String v) {
    if (v == null || v.isEmpty() || v.equals("0")) {
      return 0;
    }
    try {
      return new java.math.BigDecimal(v).movePointRight(9).longValueExact();
    } catch (NumberFormatException | ArithmeticException e) {
      throw EngineException.invalid("invalid value for since/until: %s", v);
    }
  }

  private void getContainersStats(ApiRequest req, ApiResponse res) throws IOException {
    String s = req.query("stream");
    boolean stream = s == null || s.isEmpty() || req.boolQuery("stream");
    boolean oneShot = req.boolQuery("one-shot");
    if (oneShot && stream) {
      throw EngineException.invalid("cannot have stream=true and one-shot=true");
    }
    String name = req.pathParam("name");
    ApiResponse.ResponseStream[] out = new ApiResponse.ResponseStream[1];
    CompletableFuture<?> gone = res.clientGone();
    try {
      backend.stats(name, stream, oneShot, sample -> {
        try {
          if (out[0] == null) {
            out[0] = res.stream(200, "application/json");
          }
          out[0].writeJson(sample);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }, () -> !gone.isDone());
      if (out[0] != null) {
        out[0].close();
      }
    } catch (java.io.UncheckedIOException e) {
      if (out[0] != null) {
        out[0].abort();
      }
    }
  }

  private void postContainersExec(ApiRequest req, ApiResponse res) throws IOException {
    @SuppressWarnings("unchecked")
    Map<String, Object> body = req.readJson(Map.class);
    if (body == null) {
      throw EngineException.invalid("No exec command specified");
    }
    res.json(201, Map.of("Id", backend.execCreate(req.pathParam("name"), body)));
  }

  private void postExecStart(ApiRequest req, ApiResponse res) throws IOException {
    @SuppressWarnings("unchecked")
    Map<String, Object> body = req.readJson(Map.class);
    boolean detach = body != null && Boolean.TRUE.equals(body.get("Detach"));
    boolean tty = body != null && Boolean.TRUE.equals(body.get("Tty"));
    String id = req.pathParam("id");
    boolean hasTty = backend.execTty(id, tty);
    if (detach) {
      backend.execStart(id, hasTty, null);
      res.empty(200);
      return;
    }
    backend.execStart(id, hasTty, res.hijack(hasTty));
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

  /** The CLI decodes the stat header with standard base64 ({@code client/container_copy.go}). */
  static String statHeader(ContainersBackend.PathStat stat) throws IOException {
    return java.util.Base64.getEncoder().encodeToString(berth.engine.api.http.ApiJson.MAPPER.writeValueAsBytes(stat));
  }

  private static String pathQuery(ApiRequest req) {
    String path = req.query("path");
    if (path == null || path.isEmpty()) {
      throw EngineException.invalid("you must specify path parameter"); // moby's archiveFormValues
    }
    return path;
  }

  private void headContainersArchive(ApiRequest req, ApiResponse res) throws IOException {
    ContainersBackend.PathStat stat = backend.statPath(req.pathParam("name"), pathQuery(req));
    res.header("X-Docker-Container-Path-Stat", statHeader(stat));
    res.empty(200);
  }

  private void getContainersArchive(ApiRequest req, ApiResponse res) throws IOException {
    String path = pathQuery(req);
    sendTar(res, open -> backend.archivePath(req.pathParam("name"), path, stat -> {
      res.header("X-Docker-Container-Path-Stat", statHeader(stat));
      return open.get();
    }));
  }

  /** Sends what {@code producer} writes as an {@code application/x-tar} reply, through one buffer. */
  private static void sendTar(ApiResponse res, TarProducer producer) throws IOException {
    ApiResponse.ResponseStream[] out = new ApiResponse.ResponseStream[1];
    // one HTTP chunk per 256 KiB instead of one per tar record: `docker cp` out of 10,000 small files was a
    // chunk (and a socket write) per 10 KiB
    java.io.BufferedOutputStream[] buf = new java.io.BufferedOutputStream[1];
    try {
      producer.produce(() -> {
        out[0] = res.stream(200, "application/x-tar");
        buf[0] = new java.io.BufferedOutputStream(out[0], 256 * 1024);
        return buf[0];
      });
      if (buf[0] != null) {
        buf[0].flush();
      }
    } catch (IOException | RuntimeException e) {
      if (out[0] == null) {
        throw e; // nothing sent yet: the client gets the error
      }
      out[0].abort(); // the tar is under way: a broken stream, never a short archive
      return;
    }
    out[0].close();
  }

  /** Writes a tar into the stream {@code open} gives, opening it once it knows the request succeeds. */
  private interface TarProducer {
    void produce(StreamOpener open) throws IOException;
  }

  private interface StreamOpener {
    java.io.OutputStream get() throws IOException;
  }

  private void putContainersArchive(ApiRequest req, ApiResponse res) throws IOException {
    backend.extractToDir(req.pathParam("name"), pathQuery(req), req.boolQuery("noOverwriteDirNonDir"),
        req.boolQuery("copyUIDGID"), req.body());
    res.empty(200);
  }

  private void getContainersExport(ApiRequest req, ApiResponse res) throws IOException {
    sendTar(res, open -> backend.export(req.pathParam("name"), stat -> open.get()));
  }

  private void postCommit(ApiRequest req, ApiResponse res) throws IOException {
    String container = req.query("container");
    if (container == null || container.isEmpty()) {
      throw EngineException.invalid("No such container: ");
    }
    berth.engine.api.types.ContainerConfig config = req.readJson(berth.engine.api.types.ContainerConfig.class);
    // pause defaults to true since API 1.13 (moby's postCommit)
    String p = req.query("pause");
    boolean pause = p == null || p.isEmpty() || req.boolQuery("pause");
    String id = backend.commit(new ContainersBackend.CommitOptions(container, req.query("repo"), req.query("tag"),
        req.query("comment"), req.query("author"), pause, req.queryAll("changes"), config));
    res.json(201, Map.of("Id", id));
  }

  private void postContainersPrune(ApiRequest req, ApiResponse res) throws IOException {
    res.json(200, backend.prune(Filters.parse(req.query("filters"))));
  }

}
