package berth.engine.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Debian's {@code docker-registry} (distribution 2.8) as a child process: its own config file and storage in a
 * temp dir, listening on a free port of the given address, optionally with htpasswd or token auth and TLS.
 * Never uses the package's systemd unit or /etc config. Close it to stop it and delete its files.
 */
public final class LocalRegistry implements AutoCloseable {
  public static final Path BINARY = Path.of("/usr/bin/docker-registry");
  private final Path dir;
  private final String address;
  private final Process process;

  /** Extra configuration: at most one of htpasswd and token; tls may be combined with either. */
  public record Options(String bindHost, Path htpasswd, Token token, Path tlsCert, Path tlsKey) {
    public static Options plain() {
      return new Options("127.0.0.1", null, null, null, null);
    }

    public Options htpasswd(Path file) {
      return new Options(bindHost, file, token, tlsCert, tlsKey);
    }

    public Options token(Token t) {
      return new Options(bindHost, htpasswd, t, tlsCert, tlsKey);
    }

    public Options tls(Path cert, Path key) {
      return new Options(bindHost, htpasswd, token, cert, key);
    }

    public Options bind(String host) {
      return new Options(host, htpasswd, token, tlsCert, tlsKey);
    }
  }

  /** The registry's {@code auth.token} settings: where clients get tokens and the certificate that signs them. */
  public record Token(String realm, String service, String issuer, Path rootCertBundle) {}

  private LocalRegistry(Path dir, String address, Process process) {
    this.dir = dir;
    this.address = address;
    this.process = process;
  }

  /** Starts a registry and waits until its port accepts connections; fails the test if docker-registry is missing. */
  public static LocalRegistry start(Options o) throws IOException {
    if (!Files.isExecutable(BINARY)) {
      fail("docker-registry is missing (apt-get install docker-registry; .ci/test-suite installs it)");
    }
    Path dir = Files.createTempDirectory("berth-registry-");
    int port = freePort(o.bindHost());
    String address = o.bindHost() + ":" + port;
    StringBuilder y = new StringBuilder();
    y.append("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n");
    y.append("storage:\n  filesystem:\n    rootdirectory: ").append(dir.resolve("storage")).append('\n');
    y.append("  delete:\n    enabled: true\n");
    y.append("http:\n  addr: ").append(address).append('\n');
    if (o.tlsCert() != null) {
      y.append("  tls:\n    certificate: ").append(o.tlsCert()).append("\n    key: ").append(o.tlsKey()).append('\n');
    }
    if (o.htpasswd() != null) {
      y.append("auth:\n  htpasswd:\n    realm: berth-test\n    path: ").append(o.htpasswd()).append('\n');
    } else if (o.token() != null) {
      y.append("auth:\n  token:\n    realm: ").append(o.token().realm()).append("\n    service: ")
          .append(o.token().service()).append("\n    issuer: ").append(o.token().issuer())
          .append("\n    rootcertbundle: ").append(o.token().rootCertBundle()).append('\n');
    }
    Path config = dir.resolve("config.yml");
    Files.writeString(config, y.toString(), StandardCharsets.UTF_8);
    Process p = new ProcessBuilder(BINARY.toString(), "serve", config.toString()).redirectErrorStream(true)
        .redirectOutput(dir.resolve("registry.log").toFile()).start();
    LocalRegistry r = new LocalRegistry(dir, address, p);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        String log = Files.readString(dir.resolve("registry.log"));
        r.close();
        fail("docker-registry exited with " + p.exitValue() + ":\n" + log + "\nconfig:\n" + y);
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(o.bindHost(), port), 500);
        return r;
      } catch (IOException notYet) {
        sleep(50);
      }
    }
    r.close();
    fail("docker-registry did not listen on " + address + " within 20 s");
    return null;
  }

  /** A port nobody listens on now (the registry takes it right after). */
  public static int freePort(String host) throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(host, 0));
      return s.getLocalPort();
    }
  }

  /** host:port, as it goes in image names. */
  public String address() {
    return address;
  }

  /** Where the registry keeps its blobs and repositories. */
  public Path storage() {
    return dir.resolve("storage");
  }

  public String log() throws IOException {
    return Files.readString(dir.resolve("registry.log"));
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() throws IOException {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    EngineProcess.deleteTree(dir);
  }
}
