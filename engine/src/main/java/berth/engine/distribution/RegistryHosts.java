package berth.engine.distribution;

import berth.engine.config.Cidr;
import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Where a registry domain is reached, from the engine's settings: Docker Hub names ({@code docker.io}) go to
 * the configured mirrors first and then {@code registry-1.docker.io}; other registries over HTTPS, verified
 * against the JDK's trust store plus the CAs in {@code <certs.d>/<host:port>/*.crt}; plain HTTP only as a
 * fallback for insecure registries (the {@code insecure-registries} list, {@code localhost} and 127.0.0.0/8).
 * Thread-safe.
 */
public final class RegistryHosts {
  /** Docker Hub's API host, which the {@code docker.io} domain stands for. */
  public static final String DOCKER_HUB = "registry-1.docker.io";
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);

  private final List<String> insecure;
  private final List<String> mirrors;
  private final Path certsDir;
  /**
   * Made at first use: building an HttpClient sets up the JDK's TLS (trust store, SecureRandom), which took seconds
   * of an emulated machine's engine start.
   */
  private volatile HttpClient plain;
  private final Map<String, HttpClient> clients = new ConcurrentHashMap<>();
  private volatile HttpClient unverified;

  /** One way to reach a registry: its base URI (scheme and authority), the client to use, and whether it is a mirror. */
  public record Endpoint(URI base, HttpClient client, boolean mirror) {
    /** host:port as the endpoint is reached. */
    public String authority() {
      return base.getRawAuthority();
    }
  }

  /**
   * @param insecure {@code insecure-registries}: host[:port] or IPv4 CIDR entries
   * @param mirrors {@code registry-mirrors}: http(s) URLs of Docker Hub mirrors
   * @param certsDir the certs.d folder (may not exist)
   */
  public RegistryHosts(List<String> insecure, List<String> mirrors, Path certsDir) {
    this.insecure = insecure == null ? List.of() : List.copyOf(insecure);
    this.mirrors = mirrors == null ? List.of() : List.copyOf(mirrors);
    this.certsDir = certsDir;
  }

  /** The endpoints to try for a reference's domain, in order. */
  public List<Endpoint> endpoints(String domain) {
    List<Endpoint> out = new ArrayList<>();
    if (domain.equals("docker.io")) {
      for (String m : mirrors) {
        URI u = URI.create(m);
        String host = u.getRawAuthority();
        out.add(new Endpoint(URI.create(u.getScheme() + "://" + host), client(host), true));
      }
      out.add(new Endpoint(URI.create("https://" + DOCKER_HUB), client(DOCKER_HUB), false));
      return out;
    }
    if (isInsecure(domain)) {
      // As dockerd: TLS without verifying the certificate first, then plain HTTP.
      out.add(new Endpoint(URI.create("https://" + domain), unverified(), false));
      out.add(new Endpoint(URI.create("http://" + domain), plain(), false));
    } else {
      out.add(new Endpoint(URI.create("https://" + domain), client(domain), false));
    }
    return out;
  }

  /** Whether plain HTTP may be used for this host[:port]: listed as insecure, localhost, or a loopback address. */
  public boolean isInsecure(String domain) {
    String host = hostOf(domain);
    if (host.equals("localhost") || host.equals("::1") || host.equals("[::1]")) {
      return true;
    }
    long ip = Cidr.parseIp(host);
    if (ip >= 0 && (ip >>> 24) == 127) {
      return true;
    }
    for (String entry : insecure) {
      if (entry.equals(domain) || entry.equals(host)) {
        return true;
      }
      Cidr c = entry.contains("/") ? Cidr.parse(entry) : null;
      if (c != null) {
        long addr = ip >= 0 ? ip : resolve(host);
        if (addr >= 0 && c.contains(addr)) {
          return true;
        }
      }
    }
    return false;
  }

  static String hostOf(String domain) {
    if (domain.startsWith("[")) {
      int end = domain.indexOf(']');
      return end > 0 ? domain.substring(0, end + 1) : domain;
    }
    int colon = domain.lastIndexOf(':');
    return colon >= 0 ? domain.substring(0, colon) : domain;
  }

  private static long resolve(String host) {
    try {
      for (InetAddress a : InetAddress.getAllByName(host)) {
        long ip = Cidr.parseIp(a.getHostAddress());
        if (ip >= 0) {
          return ip;
        }
      }
    } catch (UnknownHostException e) {
      // an unresolvable name matches no CIDR
    }
    return -1;
  }

  /** The client for plain HTTP and for TLS with the JDK's trust store. */
  private HttpClient plain() {
    HttpClient c = plain;
    if (c == null) {
      synchronized (this) {
        c = plain;
        if (c == null) {
          c = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).followRedirects(HttpClient.Redirect.NEVER).build();
          plain = c;
        }
      }
    }
    return c;
  }

  /** The HTTPS client for a host: the JDK's trust store, plus the CAs of its certs.d folder when it has one. */
  private HttpClient client(String authority) {
    return clients.computeIfAbsent(authority, a -> {
      List<X509Certificate> cas = certsDir == null ? List.of() : readCas(certsDir.resolve(a));
      if (cas.isEmpty()) {
        return plain();
      }
      try {
        return HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).followRedirects(HttpClient.Redirect.NEVER)
            .sslContext(sslContext(cas)).build();
      } catch (GeneralSecurityException | IOException e) {
        throw EngineException.invalid("invalid CA certificates for %s in %s: %s", a, certsDir, e.getMessage());
      }
    });
  }

  /**
   * The client for insecure registries over TLS: any certificate, any host name. An X509ExtendedTrustManager
   * that accepts everything is what turns off JSSE's host name check for this client only.
   */
  private HttpClient unverified() {
    HttpClient c = unverified;
    if (c != null) {
      return c;
    }
    X509ExtendedTrustManager any = new X509ExtendedTrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, java.net.Socket s) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, java.net.Socket s) {}

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine e) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine e) {}

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {any}, null);
      c = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).followRedirects(HttpClient.Redirect.NEVER)
          .sslContext(ctx).build();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no TLS in this JVM", e);
    }
    unverified = c;
    return c;
  }

  private static List<X509Certificate> readCas(Path dir) {
    List<X509Certificate> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.crt")) {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      for (Path p : ds) {
        try (InputStream in = Files.newInputStream(p)) {
          for (Certificate c : cf.generateCertificates(in)) {
            out.add((X509Certificate) c);
          }
        } catch (CertificateException e) {
          throw EngineException.invalid("invalid CA certificate %s: %s", p, e.getMessage());
        }
      }
    } catch (IOException | CertificateException e) {
      throw EngineException.invalid("cannot read CA certificates in %s: %s", dir, e.getMessage());
    }
    return out;
  }

  /** Trusts what the JDK trusts and, in addition, chains to any of the given CAs. */
  private static SSLContext sslContext(List<X509Certificate> cas) throws GeneralSecurityException, IOException {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    for (int i = 0; i < cas.size(); i++) {
      ks.setCertificateEntry("ca" + i, cas.get(i));
    }
    TrustManagerFactory extra = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    extra.init(ks);
    TrustManagerFactory system = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    system.init((KeyStore) null);
    X509TrustManager a = (X509TrustManager) extra.getTrustManagers()[0];
    X509TrustManager b = (X509TrustManager) system.getTrustManagers()[0];
    X509TrustManager both = new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        b.checkClientTrusted(chain, authType);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        try {
          a.checkServerTrusted(chain, authType);
        } catch (CertificateException e) {
          b.checkServerTrusted(chain, authType);
        }
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        List<X509Certificate> all = new ArrayList<>(List.of(a.getAcceptedIssuers()));
        all.addAll(List.of(b.getAcceptedIssuers()));
        return all.toArray(X509Certificate[]::new);
      }
    };
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, new TrustManager[] {both}, null);
    return ctx;
  }
}
