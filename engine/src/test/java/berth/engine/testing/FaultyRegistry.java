package berth.engine.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A registry that misbehaves on demand, for the failures a real one cannot be made to show: it serves
 * manifests and blobs copied from a real registry over plain HTTP on 127.0.0.1, and one {@link Fault} at a
 * time on one chosen blob or on every manifest. With {@link Fault#NONE} it serves everything faithfully.
 */
public final class FaultyRegistry implements AutoCloseable {
  /** What goes wrong. */
  public enum Fault {
    NONE,
    /** The blob's bytes differ from its digest (same length). */
    WRONG_DIGEST,
    /** The blob is sent complete as HTTP, but shorter than the manifest says. */
    TRUNCATED,
    /** The connection drops after half of the blob, with the full length announced. */
    STOP_MIDWAY,
    /** The manifest is not JSON. */
    MALFORMED_MANIFEST,
    /** The manifest is served as schema 1 (a media type the engine does not read). */
    UNSUPPORTED_MEDIA_TYPE
  }

  private final HttpServer server;
  private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
  private final Map<String, byte[]> manifests = new ConcurrentHashMap<>();
  private final Map<String, String> manifestTypes = new ConcurrentHashMap<>();
  private volatile Fault fault = Fault.NONE;
  private volatile String faultyBlob;
  private volatile boolean redirect;
  private volatile String basic;
  /** Authorization headers that reached the storage path (a redirect must not carry the registry's token). */
  public final java.util.List<String> storageAuthorizations = new java.util.concurrent.CopyOnWriteArrayList<>();

  private FaultyRegistry(HttpServer server) {
    this.server = server;
  }

  public static FaultyRegistry start() throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    FaultyRegistry r = new FaultyRegistry(s);
    s.createContext("/v2/", r::handle);
    s.createContext("/storage/", r::storage);
    s.start();
    return r;
  }

  public String address() {
    return "127.0.0.1:" + server.getAddress().getPort();
  }

  /** Serves a manifest under repo:reference (a tag or digest). */
  public void putManifest(String repo, String reference, byte[] data, String mediaType) {
    manifests.put(repo + ":" + reference, data);
    manifestTypes.put(repo + ":" + reference, mediaType);
  }

  public void putBlob(String digest, byte[] data) {
    blobs.put(digest, data);
  }

  /** Requires these Basic credentials on /v2/ (null: anonymous access). */
  public void requireBasic(String user, String password) {
    basic = user == null ? null : "Basic " + java.util.Base64.getEncoder()
        .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /** Serves blobs by a 307 to {@code http://localhost:<port>/storage/<digest>}, as registries on object storage do. */
  public void redirectBlobs(boolean on) {
    redirect = on;
  }

  private void storage(HttpExchange ex) throws IOException {
    try (ex) {
      String auth = ex.getRequestHeaders().getFirst("Authorization");
      if (auth != null) {
        storageAuthorizations.add(auth);
      }
      byte[] data = blobs.get(ex.getRequestURI().getPath().substring("/storage/".length()));
      if (data == null) {
        send(ex, 404, new byte[0], "text/plain", -1);
        return;
      }
      send(ex, 200, data, "application/octet-stream", data.length);
    }
  }

  /** Sets the fault (for blob faults, on the given blob digest). */
  public void fault(Fault f, String blobDigest) {
    fault = f;
    faultyBlob = blobDigest;
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String path = ex.getRequestURI().getPath();
      String want = basic;
      if (want != null && !want.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
        ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"faulty\"");
        send(ex, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}"
            .getBytes(StandardCharsets.UTF_8), "application/json", -1);
        return;
      }
      if (path.equals("/v2/")) {
        send(ex, 200, "{}".getBytes(StandardCharsets.UTF_8), "application/json", -1);
        return;
      }
      int m = path.indexOf("/manifests/");
      int b = path.indexOf("/blobs/");
      if (m > 0) {
        String key = path.substring(4, m) + ":" + path.substring(m + 11);
        byte[] data = manifests.get(key);
        if (data == null) {
          send(ex, 404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"
              .getBytes(StandardCharsets.UTF_8), "application/json", -1);
          return;
        }
        String type = manifestTypes.get(key);
        if (fault == Fault.MALFORMED_MANIFEST) {
          data = "{\"schemaVersion\": 2, \"mediaType\": ".getBytes(StandardCharsets.UTF_8);
        } else if (fault == Fault.UNSUPPORTED_MEDIA_TYPE) {
          type = "application/vnd.docker.distribution.manifest.v1+prettyjws";
          data = ("{\"schemaVersion\": 2, \"mediaType\": \"" + type + "\", \"name\": \"x\", \"tag\": \"v1\"}")
              .getBytes(StandardCharsets.UTF_8);
        }
        send(ex, 200, ex.getRequestMethod().equals("HEAD") ? null : data, type, data.length);
        return;
      }
      if (b > 0) {
        String digest = path.substring(b + 7);
        byte[] data = blobs.get(digest);
        if (data == null) {
          send(ex, 404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown to registry\"}]}"
              .getBytes(StandardCharsets.UTF_8), "application/json", -1);
          return;
        }
        if (redirect) {
          ex.getResponseHeaders().set("Location", "http://localhost:" + server.getAddress().getPort() + "/storage/" + digest);
          ex.sendResponseHeaders(307, -1);
          return;
        }
        if (digest.equals(faultyBlob)) {
          switch (fault) {
            case WRONG_DIGEST -> {
              data = data.clone();
              data[data.length / 2] ^= 0x5a;
            }
            case TRUNCATED -> data = java.util.Arrays.copyOf(data, data.length / 2);
            case STOP_MIDWAY -> {
              ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
              ex.sendResponseHeaders(200, data.length);
              OutputStream os = ex.getResponseBody();
              os.write(data, 0, data.length / 2);
              os.flush();
              // Drop the connection with half the promised bytes sent, as a registry that dies would.
              throw new IOException("stopping mid-download on purpose");
            }
            default -> {
            }
          }
        }
        send(ex, 200, data, "application/octet-stream", data.length);
        return;
      }
      send(ex, 404, new byte[0], "text/plain", -1);
    }
  }

  private static void send(HttpExchange ex, int status, byte[] body, String type, long length) throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    if (body == null) {
      ex.sendResponseHeaders(status, -1);
      return;
    }
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
