package berth.vm.socket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The forward's socket handling, with a dialer that answers locally (the SSH path is AgentIT's). */
class SocketForwardTest {
  /** Answers each connection with "hello" and closes; or fails the first {@code failures} dials. */
  static GuestDialer greeter(AtomicInteger failures) {
    return client -> {
      if (failures.getAndDecrement() > 0) {
        throw new IOException("guest unreachable");
      }
      new Thread(() -> {
        try (client) {
          client.write(ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException e) {
          // the test sees it
        }
      }).start();
    };
  }

  static String read(Path socket) throws IOException {
    try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      c.connect(UnixDomainSocketAddress.of(socket));
      ByteBuffer b = ByteBuffer.allocate(64);
      while (c.read(b) >= 0) {
        // until the far end closes
      }
      return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII);
    }
  }

  static Path tempDir() throws IOException {
    return Files.createTempDirectory(Path.of("/tmp"), "berth-fwd-"); // short: a socket path has ~100 bytes
  }

  @Test
  void makesAPrivateSocketBridgesEachConnectionAndCleansUp() throws IOException {
    Path top = tempDir();
    Path sock = top.resolve("run/docker.sock");
    AtomicInteger failures = new AtomicInteger(1);
    try (SocketForward f = SocketForward.start(sock, greeter(failures))) {
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
      assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock.getParent())));
      assertEquals("", read(sock), "a failed dial closes only that connection");
      assertEquals("hello", read(sock), "the next connection dials again");
      assertEquals("hello", read(sock));
    }
    assertFalse(Files.exists(sock), "close removes the socket file");
    Files.delete(sock.getParent());
    Files.delete(top);
  }

  @Test
  void aStaleSocketIsReplacedButALiveOneAndOtherFilesAreNot() throws IOException {
    Path top = tempDir();
    Path sock = top.resolve("docker.sock");
    try {
      // stale: bound, then its server gone (the file stays)
      ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      old.bind(UnixDomainSocketAddress.of(sock));
      old.close();
      assertTrue(Files.exists(sock));
      try (SocketForward f = SocketForward.start(sock, greeter(new AtomicInteger()))) {
        assertEquals("hello", read(sock));
        // live: a second forward on the same path is refused and leaves the first working
        FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
            () -> SocketForward.start(sock, greeter(new AtomicInteger())));
        assertTrue(e.getMessage().contains("already serving"), e.getMessage());
        assertEquals("hello", read(sock));
      }
      Files.writeString(sock, "a user's file");
      FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
          () -> SocketForward.start(sock, greeter(new AtomicInteger())));
      assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
      assertEquals("a user's file", Files.readString(sock));
    } finally {
      Files.deleteIfExists(sock);
      Files.delete(top);
    }
  }
}
