package berth.engine.distribution;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.LongConsumer;
import java.util.function.Supplier;

/**
 * Talks to one repository on one registry endpoint, authenticating as the registry asks: nothing, Basic with
 * the given credentials, or a Bearer token for the repository's scope (fetched once and cached). Errors carry
 * Docker's wording: "manifest unknown", "unauthorized: …", "blob unknown". Thread-safe.
 */
public final class RegistrySession {
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
  static final Duration PING_TIMEOUT = Duration.ofSeconds(10);
  private final Registry registry;
  private final RegistryHosts.Endpoint endpoint;
  private final String repo;
  private final AuthConfig auth;
  private final boolean push;
  private volatile Challenge challenge;
  private volatile String bearer;

  RegistrySession(Registry registry, RegistryHosts.Endpoint endpoint, String repo, AuthConfig auth, boolean push) {
    this.registry = registry;
    this.endpoint = endpoint;
    this.repo = repo;
    this.auth = auth == null ? AuthConfig.ANONYMOUS : auth;
    this.push = push;
  }

  /** The endpoint this session talks to. */
  public RegistryHosts.Endpoint endpoint() {
    return endpoint;
  }

  /** A manifest as fetched: its bytes, the server's Content-Type and the digest of the bytes. */
  public record Fetched(byte[] data, String contentType, String digest) {}

  /** A blob being read: its stream (the caller closes it) and its length (-1 when not sent). */
  public record Blob(InputStream stream, long length) {}

  // ---- ping and login --------------------------------------------------------------------------

  /** GET /v2/: learns how the registry authenticates; IOException when it cannot be reached. */
  void ping() throws IOException {
    // A short limit, as Go's TLS handshake timeout: HTTPS to a plain-HTTP server may just hang before the fallback.
    HttpResponse<byte[]> r = send(endpoint.client(), get(url("/v2/")).timeout(PING_TIMEOUT).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() == 401) {
      challenge = pick(Challenge.parse(r.headers().firstValue("WWW-Authenticate").orElse(null)));
      return;
    }
    if (r.statusCode() / 100 != 2) {
      // Not a registry (or a broken one): the next endpoint may do better.
      throw new IOException("GET " + url("/v2/") + ": unexpected status " + r.statusCode());
    }
  }

  /** docker login: checks the credentials with the registry's own scheme. */
  void login() throws IOException {
    ping();
    if (challenge == null) {
      return; // the registry lets everyone in, as dockerd accepts
    }
    String failed = "login attempt to " + url("/v2/") + " failed with status: 401 Unauthorized";
    if (challenge.isBearer()) {
      if (!auth.hasPassword() && auth.registryToken() == null) {
        throw new EngineException(ErrorKind.UNAUTHORIZED, failed);
      }
      try {
        registry.token(this, challenge, List.of(), auth);
      } catch (EngineException e) {
        throw new EngineException(ErrorKind.UNAUTHORIZED, e.getMessage());
      }
      return;
    }
    if (!auth.hasPassword()) {
      throw new EngineException(ErrorKind.UNAUTHORIZED, failed);
    }
    HttpResponse<byte[]> r = send(endpoint.client(), get(url("/v2/")).header("Authorization", auth.basic()).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() / 100 != 2) {
      throw new EngineException(ErrorKind.UNAUTHORIZED, failed);
    }
  }

  private static Challenge pick(List<Challenge> cs) {
    for (Challenge c : cs) {
      if (c.isBearer()) {
        return c;
      }
    }
    for (Challenge c : cs) {
      if (c.isBasic()) {
        return c;
      }
    }
    return null;
  }

  // ---- pull ------------------------------------------------------------------------------------

  /**
   * GET a manifest by tag or digest. NOT_FOUND "manifest unknown" for 404, UNAUTHORIZED for 401/403, a digest
   * reference is verified against the bytes.
   */
  public Fetched manifest(String reference) throws IOException {
    URI u = url("/v2/" + repo + "/manifests/" + reference);
    HttpResponse<InputStream> r = sendAuthed(() -> get(u).header("Accept", Manifests.ACCEPT), List.of(),
        HttpResponse.BodyHandlers.ofInputStream());
    byte[] data;
    try (InputStream in = r.body()) {
      data = in.readNBytes(Manifests.MAX_SIZE + 1);
    }
    if (r.statusCode() != 200) {
      throw failure(r.statusCode(), data, "GET", u);
    }
    if (data.length > Manifests.MAX_SIZE) {
      throw EngineException.invalid("manifest %s is larger than %d bytes", reference, Manifests.MAX_SIZE);
    }
    String digest = berth.engine.content.Digest.of(data).toString();
    if (reference.startsWith("sha256:") && !reference.equals(digest)) {
      throw EngineException.invalid("manifest verification failed for digest %s", reference);
    }
    return new Fetched(data, r.headers().firstValue("Content-Type").orElse(null), digest);
  }

  /** GET the repository's tags (sorted as the registry lists them); NOT_FOUND "name unknown" for no repository. */
  public List<String> tags() throws IOException {
    URI u = url("/v2/" + repo + "/tags/list");
    HttpResponse<byte[]> r = sendAuthed(() -> get(u), List.of(), HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() != 200) {
      throw failure(r.statusCode(), r.body(), "GET", u);
    }
    List<String> out = new ArrayList<>();
    try {
      Registry.JSON.readTree(r.body()).path("tags").forEach(t -> out.add(t.asText()));
    } catch (IOException e) {
      throw EngineException.invalid("GET %s: malformed tag list", u);
    }
    return out;
  }

  /** GET a blob; NOT_FOUND "blob unknown" when absent. Redirects (to storage) are followed. */
  public Blob blob(String digest) throws IOException {
    URI u = url("/v2/" + repo + "/blobs/" + digest);
    HttpResponse<InputStream> r = sendAuthed(() -> HttpRequest.newBuilder(u).GET(), List.of(),
        HttpResponse.BodyHandlers.ofInputStream());
    if (r.statusCode() != 200) {
      byte[] body;
      try (InputStream in = r.body()) {
        body = in.readNBytes(64 << 10);
      }
      throw failure(r.statusCode(), body, "GET", u);
    }
    long len = r.headers().firstValueAsLong("Content-Length").orElse(-1);
    return new Blob(r.body(), len);
  }

  // ---- push ------------------------------------------------------------------------------------

  /** HEAD a blob: whether the repository already has it. */
  public boolean blobExists(String digest) throws IOException {
    URI u = url("/v2/" + repo + "/blobs/" + digest);
    HttpResponse<Void> r = sendAuthed(() -> HttpRequest.newBuilder(u).method("HEAD", HttpRequest.BodyPublishers.noBody()),
        List.of(), HttpResponse.BodyHandlers.discarding());
    if (r.statusCode() == 200) {
      return true;
    }
    if (r.statusCode() == 404) {
      return false;
    }
    throw failure(r.statusCode(), new byte[0], "HEAD", u);
  }

  /**
   * Starts an upload, asking to mount the blob from another repository of the same registry when {@code from}
   * is given. Returns null when the registry mounted it, else the upload's location.
   */
  public URI startUpload(String digest, String from) throws IOException {
    String q = from == null ? "" : "?mount=" + digest + "&from=" + from;
    URI u = url("/v2/" + repo + "/blobs/uploads/" + q);
    List<String> extra = from == null ? List.of() : List.of("repository:" + from + ":pull");
    HttpResponse<byte[]> r = sendAuthed(() -> HttpRequest.newBuilder(u).POST(HttpRequest.BodyPublishers.noBody()),
        extra, HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() == 201 && from != null) {
      return null;
    }
    if (r.statusCode() != 202) {
      throw failure(r.statusCode(), r.body(), "POST", u);
    }
    String loc = r.headers().firstValue("Location").orElseThrow(() -> EngineException.invalid(
        "POST %s: the registry sent no upload location", u));
    return u.resolve(loc);
  }

  /** Uploads a whole blob in one PUT (monolithic upload), reporting bytes sent; the registry checks the digest. */
  public void putBlob(URI location, String digest, Path file, LongConsumer progress) throws IOException {
    String sep = location.getRawQuery() == null ? "?" : "&";
    URI u = URI.create(location + sep + "digest=" + digest);
    long size = Files.size(file);
    HttpResponse<byte[]> r = sendAuthed(() -> HttpRequest.newBuilder(u)
            .header("Content-Type", "application/octet-stream")
            .PUT(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(
                () -> counting(file, progress)), size)),
        List.of(), HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() != 201) {
      throw failure(r.statusCode(), r.body(), "PUT", location);
    }
  }

  private static InputStream counting(Path file, LongConsumer progress) {
    try {
      return new FilterInputStream(Files.newInputStream(file)) {
        long sent;

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
          int n = super.read(b, off, len);
          if (n > 0) {
            sent += n;
            progress.accept(sent);
          }
          return n;
        }
      };
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** PUT a manifest under a tag (or digest); returns the digest the registry reports (or that of the bytes). */
  public String putManifest(String reference, String mediaType, byte[] data) throws IOException {
    URI u = url("/v2/" + repo + "/manifests/" + reference);
    HttpResponse<byte[]> r = sendAuthed(() -> HttpRequest.newBuilder(u).header("Content-Type", mediaType)
        .PUT(HttpRequest.BodyPublishers.ofByteArray(data)), List.of(), HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() != 201) {
      throw failure(r.statusCode(), r.body(), "PUT", u);
    }
    return r.headers().firstValue("Docker-Content-Digest").orElse(berth.engine.content.Digest.of(data).toString());
  }

  // ---- requests --------------------------------------------------------------------------------

  private URI url(String path) {
    return URI.create(endpoint.base() + path);
  }

  private static HttpRequest.Builder get(URI u) {
    return HttpRequest.newBuilder(u).GET().timeout(REQUEST_TIMEOUT);
  }

  private List<String> scopes(List<String> extra) {
    List<String> s = new ArrayList<>();
    if (repo != null) {
      s.add("repository:" + repo + (push ? ":pull,push" : ":pull"));
    }
    s.addAll(extra);
    return s;
  }

  private String authorization(List<String> extra) throws IOException {
    Challenge c = challenge;
    if (c == null) {
      return null;
    }
    if (c.isBearer()) {
      String t = registry.token(this, c, scopes(extra), auth);
      bearer = t;
      return "Bearer " + t;
    }
    return auth.hasPassword() ? auth.basic() : null;
  }

  /**
   * Sends with the authorization the registry asked for; a 401 with a new challenge (or a refused cached
   * token) is answered once more with fresh credentials.
   */
  private <T> HttpResponse<T> sendAuthed(Supplier<HttpRequest.Builder> req, List<String> extra,
      HttpResponse.BodyHandler<T> handler) throws IOException {
    for (int attempt = 0; ; attempt++) {
      HttpRequest.Builder b = req.get();
      String a = authorization(extra);
      if (a != null) {
        b.header("Authorization", a);
      }
      HttpRequest sent = b.build();
      HttpResponse<T> r = follow(sent, send(endpoint.client(), sent, handler), handler);
      if (r.statusCode() != 401 || attempt > 0) {
        return r;
      }
      Challenge c = pick(Challenge.parse(r.headers().firstValue("WWW-Authenticate").orElse(null)));
      if (c == null || (c.isBasic() && (challenge != null && challenge.isBasic() || !auth.hasPassword()))) {
        return r; // nothing new to try
      }
      if (a != null && a.startsWith("Bearer ")) {
        registry.forget(a.substring(7));
      }
      close(r);
      challenge = c;
    }
  }

  /**
   * Follows a GET or HEAD redirect (blobs are often served from storage elsewhere) up to five hops. The
   * registry's Authorization goes along only to the registry's own host: a storage URL carries its own
   * signature, and a stray token would leak credentials or be refused.
   */
  private <T> HttpResponse<T> follow(HttpRequest req, HttpResponse<T> r, HttpResponse.BodyHandler<T> handler)
      throws IOException {
    for (int hops = 0; hops < 5; hops++) {
      int st = r.statusCode();
      boolean redirect = st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
      String method = req.method();
      if (!redirect || !(method.equals("GET") || method.equals("HEAD"))) {
        return r;
      }
      String loc = r.headers().firstValue("Location").orElse(null);
      if (loc == null) {
        return r;
      }
      close(r);
      URI next = req.uri().resolve(loc);
      if (!"https".equals(next.getScheme()) && !("http".equals(next.getScheme())
          && "http".equals(endpoint.base().getScheme()))) {
        throw EngineException.invalid("refusing to follow a redirect from %s to %s", req.uri(), next);
      }
      HttpRequest.Builder b = HttpRequest.newBuilder(next).method(method, HttpRequest.BodyPublishers.noBody())
          .timeout(REQUEST_TIMEOUT);
      req.headers().firstValue("Accept").ifPresent(v -> b.header("Accept", v));
      if (next.getRawAuthority().equals(endpoint.base().getRawAuthority())) {
        req.headers().firstValue("Authorization").ifPresent(v -> b.header("Authorization", v));
      }
      req = b.build();
      r = send(endpoint.client(), req, handler);
    }
    return r;
  }

  private static void close(HttpResponse<?> r) {
    if (r.body() instanceof InputStream in) {
      try {
        in.close();
      } catch (IOException ignored) {
        // discarding a refused response
      }
    }
  }

  static <T> HttpResponse<T> send(HttpClient client, HttpRequest req, HttpResponse.BodyHandler<T> handler)
      throws IOException {
    try {
      return client.send(req, handler);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
  }

  /** Docker's words for a registry's error reply: "manifest unknown: manifest unknown", "unauthorized: …". */
  private EngineException failure(int status, byte[] body, String method, URI u) {
    String text = errorText(status, body, null);
    if (status == 401 && challenge != null && challenge.isBasic() && !auth.hasPassword()) {
      text = "no basic auth credentials";
    }
    // dockerd answers a refused pull or push with 500, not 401: a 401 would make the CLI prompt for a login.
    ErrorKind kind = switch (status) {
      case 401 -> ErrorKind.SYSTEM;
      case 403 -> text.startsWith("denied") ? ErrorKind.NOT_FOUND : ErrorKind.SYSTEM;
      case 404 -> ErrorKind.NOT_FOUND;
      case 400, 405, 409, 413, 415 -> ErrorKind.INVALID_PARAMETER;
      default -> ErrorKind.UNAVAILABLE;
    };
    if (status == 401 || status == 403) {
      return new EngineException(kind, method.charAt(0) + method.substring(1).toLowerCase(Locale.ROOT) + " \"" + u
          + "\": " + text);
    }
    return new EngineException(kind, text);
  }

  /** The text of a registry error body ({"errors":[{"code","message"}]}), or a fallback naming the status. */
  static String errorText(int status, byte[] body, String fallback) {
    try {
      JsonNode j = Registry.JSON.readTree(body);
      if (j != null && j.path("errors").isArray() && j.path("errors").size() > 0) {
        List<String> parts = new ArrayList<>();
        for (JsonNode e : j.path("errors")) {
          String code = e.path("code").asText("").toLowerCase(Locale.ROOT).replace('_', ' ');
          String msg = e.path("message").asText("");
          parts.add(code.isEmpty() ? msg : code + ": " + msg);
        }
        return String.join(", ", parts);
      }
      if (j != null && j.has("details")) {
        return j.path("details").asText();
      }
    } catch (IOException notJson) {
      // fall through to the status
    }
    if (fallback != null) {
      return fallback;
    }
    String text = new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8).trim();
    return "unexpected status " + status + (text.isEmpty() || text.startsWith("<") ? "" : ": " + text);
  }
}
