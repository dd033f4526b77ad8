package berth.engine.distribution;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The engine's registry client: endpoints from {@link RegistryHosts}, sessions per repository, a cache of
 * Bearer tokens shared by all sessions (per realm, service, scope and user, until they expire), and login.
 * Thread-safe.
 */
public final class Registry {
  static final ObjectMapper JSON = new ObjectMapper();
  private final RegistryHosts hosts;
  private final Map<String, Token> tokens = new ConcurrentHashMap<>();
  private final Map<String, Object> locks = new ConcurrentHashMap<>();
  /** The endpoint base that last answered, per registry domain (host:port). */
  private final Map<String, java.net.URI> working = new ConcurrentHashMap<>();

  record Token(String value, long expiresAtNanos) {}

  /** A client reaching registries as the given settings say. */
  public Registry(RegistryHosts hosts) {
    this.hosts = hosts;
  }

  /**
   * The endpoints for a domain, in the order to try them; for an insecure registry, the scheme that answered
   * last time comes first, so that a plain-HTTP registry does not cost a failed TLS handshake on every pull.
   */
  public List<RegistryHosts.Endpoint> endpoints(String domain) {
    List<RegistryHosts.Endpoint> eps = new java.util.ArrayList<>(hosts.endpoints(domain));
    java.net.URI good = working.get(domain);
    if (good != null) {
      for (int i = 1; i < eps.size(); i++) {
        if (eps.get(i).base().equals(good) && !eps.get(i).mirror()) {
          eps.add(0, eps.remove(i));
          break;
        }
      }
    }
    return eps;
  }

  /**
   * Opens a session on one endpoint for one repository path (e.g. {@code library/busybox}) with pull or
   * pull+push scope. It pings {@code /v2/} first, which fails with an IOException when the endpoint cannot be
   * reached (so the caller may try the next one).
   */
  public RegistrySession open(RegistryHosts.Endpoint endpoint, String repo, AuthConfig auth, boolean push)
      throws IOException {
    RegistrySession s = new RegistrySession(this, endpoint, repo, auth, push);
    s.ping();
    if (!endpoint.mirror()) {
      working.put(endpoint.authority(), endpoint.base());
    }
    return s;
  }

  /**
   * Checks credentials against a registry as {@code docker login} does: anonymous access or accepted
   * credentials succeed; UNAUTHORIZED "login attempt to … failed with status: 401 Unauthorized" otherwise;
   * UNAVAILABLE when no endpoint answers.
   */
  public void login(AuthConfig auth) {
    String domain = loginDomain(auth.serverAddress());
    IOException last = null;
    for (RegistryHosts.Endpoint e : endpoints(domain)) {
      if (e.mirror()) {
        continue;
      }
      try {
        RegistrySession s = new RegistrySession(this, e, null, auth, false);
        s.login();
        working.put(e.authority(), e.base());
        return;
      } catch (IOException ex) {
        last = ex;
      }
    }
    throw EngineException.unavailable("Get \"%s\": %s", "https://" + domain + "/v2/", describe(last));
  }

  /** The registry domain of a login server address: Docker Hub's legacy URL and scheme prefixes are understood. */
  static String loginDomain(String serverAddress) {
    if (serverAddress == null || serverAddress.isBlank()) {
      return "docker.io";
    }
    String s = serverAddress.trim();
    if (s.contains("://")) {
      s = URI.create(s).getRawAuthority();
    } else if (s.contains("/")) {
      s = s.substring(0, s.indexOf('/'));
    }
    if (s.equals("index.docker.io") || s.equals("registry-1.docker.io") || s.equals("docker.io")) {
      return "docker.io";
    }
    return s;
  }

  static String describe(Throwable t) {
    if (t == null) {
      return "no endpoint to try";
    }
    String m = t.getMessage();
    if (t instanceof java.net.ConnectException) {
      return "dial tcp: connect: connection refused";
    }
    if (t instanceof java.net.http.HttpTimeoutException) {
      return "timeout: " + m;
    }
    return m == null || m.isEmpty() ? t.getClass().getSimpleName() : m;
  }

  // ---- Bearer tokens ---------------------------------------------------------------------------

  /**
   * A token for a Bearer challenge and scopes, from the cache or the challenge's realm (with Basic credentials
   * when there are any). UNAUTHORIZED when the token server refuses the credentials.
   */
  String token(RegistrySession s, Challenge c, List<String> scopes, AuthConfig auth) throws IOException {
    if (auth.registryToken() != null && !auth.registryToken().isEmpty()) {
      return auth.registryToken();
    }
    String realm = c.param("realm");
    if (realm == null || realm.isEmpty()) {
      throw EngineException.invalid("invalid Bearer challenge from %s: no realm", s.endpoint().base());
    }
    String service = c.param("service");
    String user = auth.hasPassword() ? auth.username() : "";
    String key = realm + "\n" + service + "\n" + String.join(" ", scopes) + "\n" + user;
    // One fetch per key at a time: parallel layer transfers that all find the cache empty share one token.
    synchronized (locks.computeIfAbsent(key, k -> new Object())) {
      Token cached = tokens.get(key);
      if (cached != null && cached.expiresAtNanos() - System.nanoTime() > 0) {
        return cached.value();
      }
      return fetchToken(s, c, scopes, auth, key, realm, service);
    }
  }

  private String fetchToken(RegistrySession s, Challenge c, List<String> scopes, AuthConfig auth, String key,
      String realm, String service) throws IOException {
    StringBuilder q = new StringBuilder();
    if (service != null) {
      q.append("service=").append(enc(service));
    }
    for (String scope : scopes) {
      q.append(q.length() > 0 ? "&" : "").append("scope=").append(enc(scope));
    }
    if (auth.hasPassword()) {
      q.append(q.length() > 0 ? "&" : "").append("account=").append(enc(auth.username()));
    }
    URI uri = URI.create(realm + (q.length() == 0 ? "" : (realm.contains("?") ? "&" : "?") + q));
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).GET().timeout(java.time.Duration.ofSeconds(30));
    if (auth.hasPassword()) {
      b.header("Authorization", auth.basic());
    }
    HttpResponse<byte[]> r = RegistrySession.send(s.endpoint().client(), b.build(), HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() == 401 || r.statusCode() == 403) {
      throw new EngineException(ErrorKind.SYSTEM, // as dockerd: a pull refused by the token server is a 500
          "Get \"" + realm + "\": " + RegistrySession.errorText(r.statusCode(), r.body(), "unauthorized: incorrect username or password"));
    }
    if (r.statusCode() != 200) {
      throw EngineException.unavailable("Get \"%s\": token server answered %d", realm, r.statusCode());
    }
    JsonNode j;
    try {
      j = JSON.readTree(r.body());
    } catch (IOException e) {
      throw EngineException.invalid("Get \"%s\": malformed token response", realm);
    }
    String token = j.path("token").asText(j.path("access_token").asText(""));
    if (token.isEmpty()) {
      throw EngineException.invalid("Get \"%s\": the token server sent no token", realm);
    }
    long ttl = Math.max(j.path("expires_in").asLong(60), 10);
    // A token is reused until shortly before it expires; a registry that refuses it earlier gets a new one.
    tokens.put(key, new Token(token, System.nanoTime() + (ttl - 5) * 1_000_000_000L));
    return token;
  }

  /** Forgets a cached token the registry refused. */
  void forget(String token) {
    tokens.values().removeIf(t -> t.value().equals(token));
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
