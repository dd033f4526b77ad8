package berth.agent.sshd;

import java.util.Set;
import java.util.logging.Logger;
import org.apache.sshd.common.session.Session;
import org.apache.sshd.common.util.net.SshdSocketAddress;
import org.apache.sshd.server.forward.ForwardingFilter;

/**
 * What the host may forward through the agent: {@code direct-tcpip} to the guest's loopback only (the port
 * forwarder reaches published ports there); no remote (listening) forwards, no agent and no X11 forwarding.
 * Unix socket forwarding is decided by {@link StreamLocalChannel}. Stateless and thread-safe.
 */
final class ForwardingPolicy implements ForwardingFilter {
  private static final Logger LOG = Logger.getLogger(ForwardingPolicy.class.getName());
  static final Set<String> LOOPBACK = Set.of("127.0.0.1", "localhost", "::1", "0:0:0:0:0:0:0:1");

  @Override
  public boolean canForwardAgent(Session session, String requestType) {
    LOG.info("refused agent forwarding (" + requestType + ")");
    return false;
  }

  @Override
  public boolean canForwardX11(Session session, String requestType) {
    LOG.info("refused X11 forwarding (" + requestType + ")");
    return false;
  }

  @Override
  public boolean canListen(SshdSocketAddress address, Session session) {
    LOG.info("refused a remote forward listening on " + address);
    return false;
  }

  @Override
  public boolean canConnect(Type type, SshdSocketAddress address, Session session) {
    boolean ok = type == Type.Direct && address != null && LOOPBACK.contains(address.getHostName())
        && address.getPort() > 0 && address.getPort() < 65536;
    if (!ok) {
      LOG.info("refused " + type + " forwarding to " + address + ": only the guest's loopback may be reached");
    }
    return ok;
  }
}
