package berth.vm.ssh;

import berth.vm.socket.GuestDialer;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;
import org.apache.sshd.client.SshClient;
import org.apache.sshd.client.auth.pubkey.UserAuthPublicKeyFactory;
import org.apache.sshd.client.channel.ChannelExec;
import org.apache.sshd.client.channel.ClientChannelEvent;
import org.apache.sshd.client.config.hosts.HostConfigEntryResolver;
import org.apache.sshd.client.session.ClientSession;
import org.apache.sshd.common.channel.exception.SshChannelOpenException;
import org.apache.sshd.common.keyprovider.KeyIdentityProvider;
import org.apache.sshd.common.session.ConnectionService;
import org.apache.sshd.core.CoreModuleProperties;

/**
 * The host's SSH connection to one guest agent (Apache SSHD client): public-key login with the machine's key,
 * the guest's host key pinned on first use, exec commands, and {@code direct-streamlocal} channels to guest
 * sockets. The connection is made when first needed and made again, with backoff, whenever it has dropped, so
 * callers never handle reconnection. Thread-safe; {@link #close()} ends the connection and every channel.
 */
public final class GuestSsh implements Closeable {
  private static final Logger LOG = Logger.getLogger(GuestSsh.class.getName());
  static final String USER = "root";
  /** How long one connection attempt may take (TCP, key exchange, login). */
  static final Duration ATTEMPT_TIMEOUT = Duration.ofSeconds(15);
  static final Duration HEARTBEAT = Duration.ofSeconds(10);

  /** Where the guest's SSH server is and how to trust it and log in. */
  public record Target(String host, int port, Path privateKey, Path knownHostKey) {}

  /** What an exec command did. */
  public record ExecResult(int exitStatus, String stdout, String stderr) {}

  private final Target target;
  private final KeyPair key;
  private final PinnedHostKey hostKey;
  private final SshClient client;
  private final Duration dialTimeout;
  private ClientSession session; // guarded by this
  private volatile boolean closed;

  private GuestSsh(Target target, KeyPair key, Duration dialTimeout) {
    this.target = target;
    this.key = key;
    this.dialTimeout = dialTimeout;
    this.hostKey = new PinnedHostKey(target.knownHostKey());
    this.client = SshClient.setUpDefaultClient();
    // Nothing from the user's ~/.ssh: only the machine's key, only public-key login, only the pinned host key.
    client.setHostConfigEntryResolver(HostConfigEntryResolver.EMPTY);
    client.setKeyIdentityProvider(KeyIdentityProvider.EMPTY_KEYS_PROVIDER);
    client.setUserAuthFactories(List.of(UserAuthPublicKeyFactory.INSTANCE));
    client.setServerKeyVerifier(hostKey);
    // Heartbeats find a dead guest (and keep a quiet docker events stream from looking idle to the server).
    CoreModuleProperties.HEARTBEAT_INTERVAL.set(client, HEARTBEAT);
    CoreModuleProperties.HEARTBEAT_REPLY_WAIT.set(client, HEARTBEAT);
    CoreModuleProperties.HEARTBEAT_NO_REPLY_MAX.set(client, 3);
    client.start();
  }

  /**
   * A client for {@code target}; connects lazily. {@code dialTimeout} bounds how long one operation waits
   * for a connection (retrying with backoff while the guest is unreachable).
   */
  public static GuestSsh create(Target target, Duration dialTimeout) throws IOException {
    return new GuestSsh(target, MachineKey.load(target.privateKey()), dialTimeout);
  }

  /** Connects now if not connected, waiting up to {@code timeout}; the message says why if it cannot. */
  public void connect(Duration timeout) throws IOException {
    session(timeout);
  }

  /** True while a logged-in connection is open. */
  public synchronized boolean isConnected() {
    return session != null && session.isOpen() && session.isAuthenticated();
  }

  private synchronized ClientSession session(Duration timeout) throws IOException {
    if (closed) {
      throw new IOException("the SSH connection to the guest is closed");
    }
    if (session != null && session.isOpen() && session.isAuthenticated()) {
      return session;
    }
    if (session != null) {
      session.close(true);
      session = null;
      LOG.info("the SSH connection to the guest at " + where() + " dropped; reconnecting");
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    long backoff = 100;
    IOException last;
    while (true) {
      try {
        session = attempt();
        return session;
      } catch (IOException e) {
        last = e;
        if (hostKey.refusal() != null) {
          throw new IOException(hostKey.refusal(), e); // retrying cannot help
        }
      }
      long left = (deadline - System.nanoTime()) / 1_000_000;
      if (left <= 0 || closed) {
        throw new IOException("cannot connect to the guest's SSH server at " + where() + " within "
            + timeout.toSeconds() + " s: " + last.getMessage(), last);
      }
      try {
        wait(Math.min(backoff, left)); // close() wakes this
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while connecting to the guest", e);
      }
      backoff = Math.min(backoff * 2, 500); // slirp refuses a closed guest port at once: retrying is cheap
    }
  }

  private ClientSession attempt() throws IOException {
    ClientSession s = client.connect(USER, target.host(), target.port()).verify(ATTEMPT_TIMEOUT).getSession();
    try {
      s.addPublicKeyIdentity(key);
      s.auth().verify(ATTEMPT_TIMEOUT);
      return s;
    } catch (IOException | RuntimeException e) {
      s.close(true);
      throw e;
    }
  }

  private String where() {
    return target.host() + ":" + target.port();
  }

  /**
   * Runs {@code command} in the guest with no stdin and returns its exit status and output; throws if it does
   * not finish within {@code timeout} (the channel is closed then) or reports no exit status.
   */
  public ExecResult exec(String command, Duration timeout) throws IOException {
    ClientSession s = session(dialTimeout);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (ChannelExec ch = s.createExecChannel(command)) {
      ch.setOut(out);
      ch.setErr(err);
      ch.open().verify(timeout);
      ch.getInvertedIn().close(); // no stdin: the command sees end of file
      Set<ClientChannelEvent> ev = ch.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), timeout);
      if (!ev.contains(ClientChannelEvent.CLOSED)) {
        throw new IOException("guest command did not finish within " + timeout.toSeconds() + " s: " + command);
      }
      Integer status = ch.getExitStatus();
      if (status == null) {
        throw new IOException("guest command ended without an exit status (" + ch.getExitSignal() + "): " + command);
      }
      return new ExecResult(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
  }

  /**
   * Opens a {@code direct-streamlocal@openssh.com} channel to {@code guestPath} and bridges {@code local} to it
   * (see {@link GuestDialer#bridge}); the guest's refusal reason is in the message if it says no.
   */
  public void bridgeStreamLocal(String guestPath, SocketChannel local) throws IOException {
    ClientSession s = session(dialTimeout);
    StreamLocalClientChannel ch = new StreamLocalClientChannel(guestPath, local);
    s.getService(ConnectionService.class).registerChannel(ch);
    try {
      ch.open().verify(ATTEMPT_TIMEOUT);
    } catch (SshChannelOpenException e) {
      ch.close(true);
      throw new IOException("the guest refused a stream to " + guestPath + ": " + e.getMessage(), e);
    } catch (IOException | RuntimeException e) {
      ch.close(true);
      throw e;
    }
  }

  /** A dialer that bridges each connection to {@code guestPath} in the guest, for a socket forward. */
  public GuestDialer streamLocalDialer(String guestPath) {
    return local -> bridgeStreamLocal(guestPath, local);
  }

  /** Closes the connection and every channel on it. Idempotent. */
  @Override
  public void close() throws IOException {
    synchronized (this) {
      closed = true;
      notifyAll();
      if (session != null) {
        session.close(true);
        session = null;
      }
    }
    client.stop();
  }
}
