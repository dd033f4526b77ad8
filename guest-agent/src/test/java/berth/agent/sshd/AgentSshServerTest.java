package berth.agent.sshd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import org.apache.sshd.client.SshClient;
import org.apache.sshd.client.channel.ChannelDirectTcpip;
import org.apache.sshd.client.channel.ChannelExec;
import org.apache.sshd.client.channel.ChannelShell;
import org.apache.sshd.client.channel.ClientChannelEvent;
import org.apache.sshd.client.config.hosts.HostConfigEntryResolver;
import org.apache.sshd.client.keyverifier.AcceptAllServerKeyVerifier;
import org.apache.sshd.client.session.ClientSession;
import org.apache.sshd.common.channel.exception.SshChannelOpenException;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.keyprovider.KeyIdentityProvider;
import org.apache.sshd.common.keyprovider.KeyPairProvider;
import org.apache.sshd.common.util.net.SshdSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's policy against a real Apache SSHD client on loopback (no engine: nothing here needs one). */
class AgentSshServerTest {
  @TempDir Path dir;
  AgentSshServer server;
  SshClient client;
  KeyPair allowed;

  /** A control for commands that need no engine. */
  static final AgentControl NO_ENGINE = new AgentControl() {
    @Override
    public boolean awaitEngine(Duration timeout) {
      return false;
    }

    @Override
    public void shutdown() {}
  };

  @BeforeEach
  void up() throws Exception {
    allowed = KeyUtils.generateKeyPair(KeyPairProvider.ECDSA_SHA2_NISTP256, 256);
    Files.writeString(dir.resolve("authorized_keys"), PublicKeyEntry.toString(allowed.getPublic()) + " test\n");
    server = AgentSshServer.start(new AgentSshServer.Settings("127.0.0.1", 0, dir.resolve("authorized_keys"),
        dir.resolve("keys/host_key"), dir.resolve("engine.sock")), NO_ENGINE);
    client = SshClient.setUpDefaultClient();
    client.setHostConfigEntryResolver(HostConfigEntryResolver.EMPTY);
    client.setKeyIdentityProvider(KeyIdentityProvider.EMPTY_KEYS_PROVIDER);
    client.setServerKeyVerifier(AcceptAllServerKeyVerifier.INSTANCE);
    client.start();
  }

  @AfterEach
  void down() throws IOException {
    client.stop();
    server.close();
  }

  ClientSession login(KeyPair key, String password) throws IOException {
    ClientSession s = client.connect("root", "127.0.0.1", server.port()).verify(Duration.ofSeconds(10)).getSession();
    if (key != null) {
      s.addPublicKeyIdentity(key);
    }
    if (password != null) {
      s.addPasswordIdentity(password);
    }
    s.auth().verify(Duration.ofSeconds(10));
    return s;
  }

  @Test
  void onlyTheAuthorizedKeyLogsIn() throws Exception {
    KeyPair stranger = KeyUtils.generateKeyPair(KeyPairProvider.ECDSA_SHA2_NISTP256, 256);
    assertThrows(IOException.class, () -> login(stranger, null));
    assertThrows(IOException.class, () -> login(null, "root"));
    try (ClientSession s = login(allowed, null)) {
      assertTrue(s.isAuthenticated());
    }
  }

  @Test
  void theHostKeyIsGeneratedOnceOwnerOnlyAndKept() throws Exception {
    Path key = dir.resolve("keys/host_key");
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
    assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(key.getParent())));
    byte[] first = Files.readAllBytes(key);
    server.close();
    server = AgentSshServer.start(new AgentSshServer.Settings("127.0.0.1", 0, dir.resolve("authorized_keys"), key,
        dir.resolve("engine.sock")), NO_ENGINE);
    assertEquals(new String(first), Files.readString(key));
  }

  @Test
  void execRunsUnderShWithStatusAndSeparateStreams() throws Exception {
    try (ClientSession s = login(allowed, null); ChannelExec ch = s.createExecChannel("echo out; echo err >&2; exit 4")) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      ch.setOut(out);
      ch.setErr(err);
      ch.open().verify(Duration.ofSeconds(10));
      ch.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), Duration.ofSeconds(20));
      assertEquals(4, ch.getExitStatus());
      assertEquals("out\n", out.toString());
      assertEquals("err\n", err.toString());
    }
  }

  @Test
  void aShellsPtyFollowsTheClientsWindowSize() throws Exception {
    assumeTrue(Files.isExecutable(ProcessCommand.SCRIPT), "util-linux script gives shells their pty");
    try (ClientSession s = login(allowed, null); ChannelShell ch = s.createShellChannel()) {
      ch.setPtyType("xterm");
      ch.setPtyColumns(80);
      ch.setPtyLines(24);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ch.setOut(out);
      ch.setErr(out);
      ch.open().verify(Duration.ofSeconds(10));
      OutputStream in = ch.getInvertedIn();
      in.write("stty size\n".getBytes(StandardCharsets.US_ASCII));
      in.flush();
      awaitOutput(out, "24 80");
      ch.sendWindowChange(132, 43); // the terminal on the host was resized
      in.write("stty size\n".getBytes(StandardCharsets.US_ASCII));
      in.flush();
      awaitOutput(out, "43 132");
      in.write("exit\n".getBytes(StandardCharsets.US_ASCII));
      in.flush();
      ch.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), Duration.ofSeconds(20));
    }
  }

  private static void awaitOutput(ByteArrayOutputStream out, String expected) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!out.toString(StandardCharsets.US_ASCII).contains(expected)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no \"" + expected + "\" in the shell's output: " + out);
      }
      Thread.sleep(50);
    }
  }

  @Test
  void forwardsBeyondTheGuestsLoopbackAreRefused() throws Exception {
    try (ClientSession s = login(allowed, null)) {
      for (String host : List.of("10.0.2.2", "192.0.2.1", "example.com")) {
        ChannelDirectTcpip ch = s.createDirectTcpipChannel(new SshdSocketAddress("127.0.0.1", 1),
            new SshdSocketAddress(host, 80));
        IOException e = assertThrows(IOException.class, () -> ch.open().verify(Duration.ofSeconds(10)));
        assertTrue(e instanceof SshChannelOpenException || e.getCause() instanceof SshChannelOpenException, e.toString());
      }
      // remote (listening) forwards are refused too
      assertThrows(IOException.class, () -> s.startRemotePortForwarding(new SshdSocketAddress("0.0.0.0", 0),
          new SshdSocketAddress("127.0.0.1", 80)));
    }
  }

  @Test
  void aForwardToTheLoopbackReachesAListener() throws Exception {
    try (java.net.ServerSocket listener = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
         ClientSession s = login(allowed, null)) {
      ChannelDirectTcpip ch = s.createDirectTcpipChannel(new SshdSocketAddress("127.0.0.1", 1),
          new SshdSocketAddress("127.0.0.1", listener.getLocalPort()));
      ch.open().verify(Duration.ofSeconds(10));
      try (java.net.Socket accepted = listener.accept()) {
        ch.getInvertedIn().write("ping".getBytes());
        ch.getInvertedIn().flush();
        assertEquals("ping", new String(accepted.getInputStream().readNBytes(4)));
      }
      ch.close(true);
    }
  }

  @Test
  void aMalformedBuiltinExitsTwoWithItsReason() throws Exception {
    try (ClientSession s = login(allowed, null); ChannelExec ch = s.createExecChannel("berth-agent bogus")) {
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      ch.setOut(new ByteArrayOutputStream());
      ch.setErr(err);
      ch.open().verify(Duration.ofSeconds(10));
      ch.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), Duration.ofSeconds(20));
      assertEquals(2, ch.getExitStatus());
      assertFalse(err.toString().isEmpty());
    }
  }
}
