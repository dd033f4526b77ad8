package berth.engine.api.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hijacked connections (attach / exec start) over the real server on a unix socket: a handler that
 * takes the connection over echoes the client's stdin back upper-cased, then says "bye" on stderr.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class HijackTest {
  private final CompletableFuture<Boolean> stdinEnded = new CompletableFuture<>();
  private final CompletableFuture<String> lateStdin = new CompletableFuture<>();
  private final CompletableFuture<Boolean> gone = new CompletableFuture<>();
  private Path dir;
  private Path socket;
  private ApiServer server;

  private final Router router = () -> List.of(
      Route.post("/containers/{id}/attach", (req, res) -> echo(req.boolQuery("tty"), res)),
      Route.post("/exec/{id}/start", (req, res) -> {
        boolean tty = req.readJson(Map.class).get("Tty") == Boolean.TRUE;
        echo(tty, res);
      }),
      Route.post("/containers/{id}/refuse", (req, res) -> {
        throw berth.engine.errdefs.EngineException.notFound("No such container: %s", req.pathParam("id"));
      }),
      Route.post("/containers/{id}/halfclose", (req, res) -> {
        Hijacked h = res.hijack(false);
        Stdcopy.stdout(h.out()).write(bytes("out"));
        h.closeOutput(); // the client sees the end of output, and may still send
        lateStdin.complete(new String(h.in().readAllBytes(), StandardCharsets.US_ASCII));
        h.clientGone().get(5, TimeUnit.SECONDS); // both directions shut: the server closes
        gone.complete(true);
      }),
      Route.get("/_ping", (req, res) -> res.bytes(200, "text/plain", "OK".getBytes(StandardCharsets.US_ASCII))));

  private void echo(boolean tty, ApiResponse res) throws IOException {
    try (Hijacked h = res.hijack(tty)) {
      OutputStream out = tty ? h.out() : Stdcopy.stdout(h.out());
      byte[] buf = new byte[8192];
      for (int n = h.in().read(buf); n >= 0; n = h.in().read(buf)) {
        out.write(new String(buf, 0, n, StandardCharsets.ISO_8859_1).toUpperCase(Locale.ROOT)
            .getBytes(StandardCharsets.ISO_8859_1));
      }
      stdinEnded.complete(true);
      byte[] bye = "bye\n".getBytes(StandardCharsets.US_ASCII);
      (tty ? h.out() : Stdcopy.stderr(h.out())).write(bye);
    }
  }

  @BeforeEach
  void start() throws IOException {
    dir = Files.createTempDirectory("hj");
    socket = dir.resolve("api.sock");
    server = new ApiServer(new RouteTable(List.of(router)), ApiServer.standardHeaders("0.0.0-test"));
    server.listen("unix://" + socket, null);
  }

  @AfterEach
  void stop() throws IOException {
    server.close();
    FileUtils.deleteDirectory(dir.toFile());
  }

  @Test
  void upgradeGives101AndEchoesStdinSentRightBehindTheRequest() throws Exception {
    try (Client c = connect()) {
      c.write(concat(head("POST", "/v1.47/containers/abc/attach?stream=1&stdin=1&stdout=1&stderr=1", upgrade(), null),
          bytes("hello\n")));
      Reply r = c.readHead();
      assertEquals("HTTP/1.1 101 UPGRADED", r.statusLine());
      assertEquals("application/vnd.docker.multiplexed-stream", r.headers().get("content-type"));
      assertEquals("Upgrade", r.headers().get("connection"));
      assertEquals("tcp", r.headers().get("upgrade"));
      assertEquals("1.47", r.headers().get("api-version"));
      assertNull(r.headers().get("content-length"));
      assertNull(r.headers().get("transfer-encoding"));

      assertFrame(c.in, Stdcopy.STDOUT, "HELLO\n");
      c.write(bytes("second line\n"));
      assertFrame(c.in, Stdcopy.STDOUT, "SECOND LINE\n");

      // half-close: the handler sees the end of stdin while the client still reads its output
      c.write(bytes("last"));
      c.ch.shutdownOutput();
      assertFrame(c.in, Stdcopy.STDOUT, "LAST");
      assertTrue(stdinEnded.get(5, TimeUnit.SECONDS));
      assertFrame(c.in, Stdcopy.STDERR, "bye\n");
      assertEquals(-1, c.in.read(), "the server closes once the output ends");
    }
  }

  @Test
  void stdinInTheSameWriteAsTheHeadIsNotParsedAsHttp() throws Exception {
    try (Client c = connect()) {
      String stdin = "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"; // looks like a request, but it is stdin
      c.write(concat(head("POST", "/containers/abc/attach", upgrade(), null), bytes(stdin)));
      c.ch.shutdownOutput();
      assertEquals("HTTP/1.1 101 UPGRADED", c.readHead().statusLine());
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      Stdcopy.demux(c.in, out, err);
      assertEquals(stdin.toUpperCase(Locale.ROOT), out.toString(StandardCharsets.US_ASCII));
      assertEquals("bye\n", err.toString(StandardCharsets.US_ASCII));
    }
  }

  @Test
  void execStartReadsItsJsonBodyThenHijacksWithATtyAsRawBytes() throws Exception {
    try (Client c = connect()) {
      byte[] body = bytes("{\"Detach\":false,\"Tty\":true}");
      Map<String, String> h = new LinkedHashMap<>(upgrade());
      h.put("Content-Type", "application/json");
      c.write(concat(head("POST", "/v1.47/exec/e1/start", h, (long) body.length), body, bytes("ls -l\r")));
      Reply r = c.readHead();
      assertEquals("HTTP/1.1 101 UPGRADED", r.statusLine());
      assertEquals("application/vnd.docker.raw-stream", r.headers().get("content-type"));
      assertEquals("LS -L\r", c.readN(6));
      c.ch.shutdownOutput();
      assertEquals("bye\n", new String(c.in.readAllBytes(), StandardCharsets.US_ASCII), "raw, unframed output");
    }
  }

  @Test
  void withoutUpgradeHeaderTheReplyIs200AndTheConnectionIsStillHijacked() throws Exception {
    try (Client c = connect()) {
      c.write(head("POST", "/v1.24/containers/abc/attach?stream=1", Map.of(), null));
      Reply r = c.readHead();
      assertEquals("HTTP/1.1 200 OK", r.statusLine());
      assertEquals("application/vnd.docker.multiplexed-stream", r.headers().get("content-type"));
      assertNull(r.headers().get("upgrade"));
      c.write(bytes("old client"));
      assertFrame(c.in, Stdcopy.STDOUT, "OLD CLIENT");
      c.ch.shutdownOutput();
      assertFrame(c.in, Stdcopy.STDERR, "bye\n");
      assertEquals(-1, c.in.read());
    }
  }

  @Test
  void bigStdinAndOutputFlowThroughWithBackpressure() throws Exception {
    byte[] big = new byte[5 << 20];
    Random rnd = new Random(7);
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) ('a' + rnd.nextInt(26));
    }
    try (Client c = connect()) {
      c.write(head("POST", "/containers/abc/attach?tty=1", upgrade(), null));
      assertEquals("HTTP/1.1 101 UPGRADED", c.readHead().statusLine());
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        try {
          c.write(big);
          c.ch.shutdownOutput();
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      byte[] got = c.in.readAllBytes();
      writer.get(10, TimeUnit.SECONDS);
      byte[] want = concat(new String(big, StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT)
          .getBytes(StandardCharsets.US_ASCII), bytes("bye\n"));
      assertArrayEquals(want, got);
    }
  }

  @Test
  void serverHalfCloseEndsTheOutputWhileStdinStillFlows() throws Exception {
    try (Client c = connect()) {
      c.write(head("POST", "/containers/abc/halfclose", upgrade(), null));
      assertEquals("HTTP/1.1 101 UPGRADED", c.readHead().statusLine());
      assertFrame(c.in, Stdcopy.STDOUT, "out");
      assertEquals(-1, c.in.read(), "output ended");
      c.write(bytes("late stdin"));
      c.ch.shutdownOutput();
      assertEquals("late stdin", lateStdin.get(5, TimeUnit.SECONDS));
      assertTrue(gone.get(5, TimeUnit.SECONDS));
    }
  }

  @Test
  void upgradeRequestThatIsNotHijackedGetsItsReplyAndTheConnectionCloses() throws Exception {
    try (Client c = connect()) {
      c.write(head("POST", "/containers/nope/refuse", upgrade(), null));
      Reply r = c.readHead();
      assertTrue(r.statusLine().startsWith("HTTP/1.1 404"), r.statusLine());
      int len = Integer.parseInt(r.headers().get("content-length"));
      assertTrue(c.readN(len).contains("No such container: nope"));
      assertEquals(-1, c.in.read());
    }
  }

  @Test
  void aNormalRequestOnAnotherConnectionIsUnaffected() throws Exception {
    try (Client hijacked = connect(); Client plain = connect()) {
      hijacked.write(head("POST", "/containers/abc/attach", upgrade(), null));
      assertEquals("HTTP/1.1 101 UPGRADED", hijacked.readHead().statusLine());
      for (int i = 0; i < 2; i++) { // keep-alive still works there
        plain.write(head("GET", "/_ping", Map.of(), null));
        Reply r = plain.readHead();
        assertEquals("HTTP/1.1 200 OK", r.statusLine());
        assertEquals("OK", plain.readN(Integer.parseInt(r.headers().get("content-length"))));
      }
      hijacked.write(bytes("still here"));
      assertFrame(hijacked.in, Stdcopy.STDOUT, "STILL HERE");
      assertFalse(stdinEnded.isDone());
    }
  }

  // ---- a minimal client ----

  private static Map<String, String> upgrade() {
    return Map.of("Connection", "Upgrade", "Upgrade", "tcp");
  }

  private static void assertFrame(InputStream in, int stream, String payload) throws IOException {
    Stdcopy.Frame f = Stdcopy.readFrame(in);
    assertEquals(stream + ":" + payload, f == null ? "EOF" : f.stream() + ":" + new String(f.payload(), StandardCharsets.US_ASCII));
  }

  private static byte[] head(String method, String uri, Map<String, String> headers, Long contentLength) {
    return EmbeddedApiServer.requestHead(method, uri, headers, contentLength);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  private Client connect() throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    ch.connect(UnixDomainSocketAddress.of(socket));
    return new Client(ch);
  }

  private record Reply(String statusLine, Map<String, String> headers) {}

  private static final class Client implements AutoCloseable {
    final SocketChannel ch;
    final InputStream in;
    final OutputStream out;

    Client(SocketChannel ch) {
      this.ch = ch;
      // not Channels.newInputStream/newOutputStream: those share one lock, so a blocked read stalls writes
      this.in = new InputStream() {
        @Override
        public int read() throws IOException {
          byte[] one = new byte[1];
          return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
          return len == 0 ? 0 : ch.read(ByteBuffer.wrap(b, off, len));
        }
      };
      this.out = new OutputStream() {
        @Override
        public void write(int b) throws IOException {
          write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          ByteBuffer buf = ByteBuffer.wrap(b, off, len);
          while (buf.hasRemaining()) {
            ch.write(buf);
          }
        }
      };
    }

    void write(byte[] b) throws IOException {
      out.write(b);
    }

    /** Reads the status line and headers, byte by byte so that nothing after them is consumed. */
    Reply readHead() throws IOException {
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      while (true) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("connection closed in the reply head: " + buf);
        }
        buf.write(b);
        byte[] a = buf.toByteArray();
        int n = a.length;
        if (n >= 4 && a[n - 4] == '\r' && a[n - 3] == '\n' && a[n - 2] == '\r' && a[n - 1] == '\n') {
          break;
        }
      }
      String[] lines = buf.toString(StandardCharsets.ISO_8859_1).split("\r\n");
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.putIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
      return new Reply(lines[0], headers);
    }

    String readN(int n) throws IOException {
      byte[] b = in.readNBytes(n);
      assertEquals(n, b.length, "connection ended early");
      return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Override
    public void close() throws IOException {
      ch.close();
    }
  }
}
