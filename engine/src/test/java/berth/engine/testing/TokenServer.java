package berth.engine.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A token server for a registry's {@code auth.token} scheme, as Docker Hub's auth service behaves: GET
 * {@code /token?service=&scope=…} with optional Basic credentials answers a JWT (RS256, signed with a key and
 * self-signed certificate made here by openssl, the certificate in the token's x5c header). Anonymous callers
 * get pull on {@code public/*} repositories only; a known user gets pull and push everywhere; wrong credentials
 * get 401. Records every request so that tests can check tokens are cached.
 */
public final class TokenServer implements AutoCloseable {
  public static final String SERVICE = "berth-test-registry";
  public static final String ISSUER = "berth-test-token-issuer";
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpServer server;
  private final Map<String, String> users;
  private final PrivateKey key;
  private final X509Certificate cert;
  private final Path certFile;
  /** Every request: "user|scope scope…" (user empty when anonymous). */
  public final List<String> requests = new CopyOnWriteArrayList<>();

  private TokenServer(HttpServer server, Map<String, String> users, PrivateKey key, X509Certificate cert, Path certFile) {
    this.server = server;
    this.users = users;
    this.key = key;
    this.cert = cert;
    this.certFile = certFile;
  }

  /** Makes a signing key and certificate in dir (openssl) and listens on a free port of 127.0.0.1. */
  public static TokenServer start(Path dir, Map<String, String> users) throws Exception {
    Path keyFile = dir.resolve("token.key");
    Path certFile = dir.resolve("token.crt");
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile.toString(),
        "-out", certFile.toString(), "-days", "2", "-subj", "/CN=berth-test-token").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IOException("openssl failed: " + out);
    }
    String pem = Files.readString(keyFile).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
    X509Certificate cert;
    try (InputStream in = Files.newInputStream(certFile)) {
      cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    TokenServer t = new TokenServer(server, Map.copyOf(users), key, cert, certFile);
    server.createContext("/token", t::handle);
    server.start();
    return t;
  }

  /** The registry's view of this server. */
  public LocalRegistry.Token registryConfig() {
    return new LocalRegistry.Token(realm(), SERVICE, ISSUER, certFile);
  }

  public String realm() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String user = "";
      String auth = ex.getRequestHeaders().getFirst("Authorization");
      if (auth != null && auth.startsWith("Basic ")) {
        String up = new String(Base64.getDecoder().decode(auth.substring(6)), StandardCharsets.UTF_8);
        int colon = up.indexOf(':');
        String u = up.substring(0, colon);
        if (!up.substring(colon + 1).equals(users.get(u))) {
          requests.add("!" + u);
          send(ex, 401, Map.of("details", "incorrect username or password"));
          return;
        }
        user = u;
      }
      List<String> scopes = new ArrayList<>();
      String service = "";
      String q = ex.getRequestURI().getRawQuery();
      for (String kv : q == null ? new String[0] : q.split("&")) {
        int eq = kv.indexOf('=');
        String k = eq < 0 ? kv : kv.substring(0, eq);
        String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
        if (k.equals("scope")) {
          scopes.add(v);
        } else if (k.equals("service")) {
          service = v;
        }
      }
      requests.add(user + "|" + String.join(" ", scopes));
      List<Map<String, Object>> access = new ArrayList<>();
      for (String s : scopes) {
        String[] parts = s.split(":");
        if (parts.length != 3 || !parts[0].equals("repository")) {
          continue;
        }
        List<String> granted = new ArrayList<>();
        for (String action : parts[2].split(",")) {
          if (!user.isEmpty() || action.equals("pull") && parts[1].startsWith("public/")) {
            granted.add(action);
          }
        }
        access.add(Map.of("type", "repository", "name", parts[1], "actions", granted));
      }
      long now = System.currentTimeMillis() / 1000;
      Map<String, Object> claims = new LinkedHashMap<>();
      claims.put("iss", ISSUER);
      claims.put("sub", user);
      claims.put("aud", service);
      claims.put("exp", now + 300);
      claims.put("nbf", now - 10);
      claims.put("iat", now);
      claims.put("jti", UUID.randomUUID().toString());
      claims.put("access", access);
      String token = jwt(claims);
      send(ex, 200, Map.of("token", token, "access_token", token, "expires_in", 300));
    } catch (Exception e) {
      throw new IOException(e);
    }
  }

  private String jwt(Map<String, Object> claims) throws Exception {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    Map<String, Object> header = Map.of("typ", "JWT", "alg", "RS256",
        "x5c", List.of(Base64.getEncoder().encodeToString(cert.getEncoded())));
    String signingInput = b64.encodeToString(JSON.writeValueAsBytes(header)) + "." + b64.encodeToString(JSON.writeValueAsBytes(claims));
    Signature sig = Signature.getInstance("SHA256withRSA");
    sig.initSign(key);
    sig.update(signingInput.getBytes(StandardCharsets.US_ASCII));
    return signingInput + "." + b64.encodeToString(sig.sign());
  }

  private static void send(HttpExchange ex, int status, Object body) throws IOException {
    byte[] b = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, b.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(b);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
