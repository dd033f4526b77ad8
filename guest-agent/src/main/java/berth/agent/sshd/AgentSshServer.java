package berth.agent.sshd;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.server.auth.pubkey.UserAuthPublicKeyFactory;
import org.apache.sshd.server.channel.ChannelSessionFactory;
import org.apache.sshd.server.config.keys.AuthorizedKeysAuthenticator;
import org.apache.sshd.server.forward.DirectTcpipFactory;
import org.apache.sshd.server.keyprovider.SimpleGeneratorHostKeyProvider;

/**
 * The agent's SSH server (Apache SSHD), the host's only way in: public-key authentication against an OpenSSH
 * {@code authorized_keys} file (no passwords, no keyboard-interactive); a persistent ECDSA P-256 host key,
 * generated on first start, so the host can pin it; sessions (exec, shell), {@code direct-tcpip} to the guest's
 * loopback and {@code direct-streamlocal@openssh.com} to the engine's socket only. Closed by its owner.
 */
public final class AgentSshServer implements Closeable {
  private final SshServer server;

  /** Where it listens and what it serves. {@code port} 0 picks a free port (tests). */
  public record Settings(String host, int port, Path authorizedKeys, Path hostKey, Path engineSocket) {}

  private AgentSshServer(SshServer server) {
    this.server = server;
  }

  /** Configures the server and starts listening; throws if the port cannot be bound or the host key is unusable. */
  public static AgentSshServer start(Settings s, AgentControl control) throws IOException {
    SshServer sshd = SshServer.setUpDefaultServer();
    sshd.setHost(s.host());
    sshd.setPort(s.port());
    sshd.setKeyPairProvider(hostKeys(s.hostKey()));
    sshd.setUserAuthFactories(List.of(UserAuthPublicKeyFactory.INSTANCE));
    sshd.setPublickeyAuthenticator(new AuthorizedKeysAuthenticator(s.authorizedKeys()));
    sshd.setPasswordAuthenticator(null);
    sshd.setKeyboardInteractiveAuthenticator(null);
    sshd.setGSSAuthenticator(null);
    sshd.setHostBasedAuthenticator(null);
    sshd.setChannelFactories(List.of(ChannelSessionFactory.INSTANCE, DirectTcpipFactory.INSTANCE,
        StreamLocalChannel.factory(s.engineSocket())));
    sshd.setForwardingFilter(new ForwardingPolicy());
    AgentCommands commands = new AgentCommands(control);
    sshd.setCommandFactory(commands);
    sshd.setShellFactory(commands);
    sshd.start();
    return new AgentSshServer(sshd);
  }

  /** The host key, generated on first use in an owner-only directory, read from the same file ever after. */
  static SimpleGeneratorHostKeyProvider hostKeys(Path file) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    SimpleGeneratorHostKeyProvider keys = new SimpleGeneratorHostKeyProvider(file);
    keys.setAlgorithm(KeyUtils.EC_ALGORITHM);
    keys.setKeySize(256);
    keys.setStrictFilePermissions(true);
    // Load (or generate) now, so a broken key file stops the start instead of every later connection.
    if (!keys.loadKeys(null).iterator().hasNext()) {
      throw new IOException("no usable host key in " + file);
    }
    return keys;
  }

  /** The port it listens on. */
  public int port() {
    return server.getPort();
  }

  /** Stops listening and drops every session at once. Idempotent. */
  @Override
  public void close() throws IOException {
    server.stop(true);
  }
}
