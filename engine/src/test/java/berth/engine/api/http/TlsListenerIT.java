package berth.engine.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TCP listener serves only clients that present a certificate signed by the configured CA, and a
 * TCP listener without TLS is refused. Certificates are made with openssl; the client is curl.
 */
class TlsListenerIT {
  @TempDir static Path dir;
  static ApiServer server;
  static int port;

  @BeforeAll
  static void start() throws Exception {
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem");
    for (String who : new String[] {"server", "client", "stranger"}) {
      openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + (who.equals("server") ? "127.0.0.1" : who),
          "-keyout", who + ".rsa", "-out", who + ".csr");
      openssl("pkcs8", "-topk8", "-nocrypt", "-in", who + ".rsa", "-out", who + ".key");
    }
    Files.writeString(dir.resolve("san.ext"), "subjectAltName=IP:127.0.0.1\n");
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-extfile", "san.ext", "-out", "server.pem");
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-out", "client.pem");
    // a certificate from a CA the server does not trust
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other-ca",
        "-keyout", "other.key", "-out", "other.pem");
    openssl("x509", "-req", "-in", "stranger.csr", "-CA", "other.pem", "-CAkey", "other.key", "-CAcreateserial",
        "-days", "1", "-out", "stranger.pem");

    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Router ping = () -> List.of(Route.get("/_ping", (req, res) -> res.bytes(200, "text/plain", "OK".getBytes(StandardCharsets.UTF_8))));
    server = new ApiServer(new RouteTable(List.of(ping)), ApiServer.standardHeaders("test"));
    server.listen("tcp://127.0.0.1:" + port,
        new ApiServer.Tls(dir.resolve("ca.pem"), dir.resolve("server.pem"), dir.resolve("server.key")));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void clientWithCertificateFromTheTrustedCaIsServed() throws Exception {
    Result r = curl("--cert", dir.resolve("client.pem").toString(), "--key", dir.resolve("client.key").toString());
    assertEquals(0, r.exit, r.output);
    assertTrue(r.output.contains("OK"), r.output);
    assertTrue(r.output.toLowerCase().contains("api-version: " + ApiVersion.CURRENT), r.output);
  }

  @Test
  void clientWithoutCertificateIsRejected() throws Exception {
    Result r = curl();
    assertTrue(r.exit != 0, "a client without a certificate must not be served: " + r.output);
    assertTrue(!r.output.contains("\r\n\r\nOK"), r.output);
  }

  @Test
  void clientWithCertificateFromAnotherCaIsRejected() throws Exception {
    Result r = curl("--cert", dir.resolve("stranger.pem").toString(), "--key", dir.resolve("stranger.key").toString());
    assertTrue(r.exit != 0, "a certificate from an untrusted CA must be refused: " + r.output);
  }

  @Test
  void tcpWithoutTlsIsRefused() {
    ApiServer plain = new ApiServer(new RouteTable(List.of()), ApiServer.standardHeaders("test"));
    try {
      IOException e = assertThrows(IOException.class, () -> plain.listen("tcp://127.0.0.1:0", null));
      assertTrue(e.getMessage().contains("without mutual TLS"), e.getMessage());
    } finally {
      plain.close();
    }
  }

  record Result(int exit, String output) {}

  private static Result curl(String... extra) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "-i", "--max-time", "10", "--cacert",
        dir.resolve("ca.pem").toString()));
    cmd.addAll(List.of(extra));
    cmd.add("https://127.0.0.1:" + port + "/_ping");
    return run(cmd);
  }

  private static void openssl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Result r = run(cmd);
    if (r.exit != 0) {
      throw new IllegalStateException("openssl failed: " + r.output);
    }
  }

  private static Result run(List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("timed out: " + cmd);
    }
    return new Result(p.exitValue(), out);
  }
}
