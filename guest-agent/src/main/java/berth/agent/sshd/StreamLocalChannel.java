package berth.agent.sshd;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.sshd.client.future.DefaultOpenFuture;
import org.apache.sshd.client.future.OpenFuture;
import org.apache.sshd.common.SshConstants;
import org.apache.sshd.common.channel.Channel;
import org.apache.sshd.common.channel.ChannelAsyncOutputStream;
import org.apache.sshd.common.channel.ChannelFactory;
import org.apache.sshd.common.channel.exception.SshChannelOpenException;
import org.apache.sshd.common.io.IoWriteFuture;
import org.apache.sshd.common.session.Session;
import org.apache.sshd.common.util.buffer.Buffer;
import org.apache.sshd.common.util.buffer.ByteArrayBuffer;
import org.apache.sshd.server.channel.AbstractServerChannel;

/**
 * The server end of OpenSSH's {@code direct-streamlocal@openssh.com} channel (PROTOCOL §2.4): connects to a
 * unix socket in the guest and pumps bytes both ways, with half-close (an SSH EOF shuts the socket's output;
 * the socket's end of stream sends an SSH EOF). Apache SSHD has no such channel, so it is added here.
 *
 * <p>Only one socket path is allowed (the engine's); any other is refused with a reason the client shows.
 * Data from the client is written to the socket by a writer thread, and the SSH window is given back only
 * after it is written, so a slow reader in the guest slows the sender instead of filling memory or
 * blocking the session's I/O thread.
 */
final class StreamLocalChannel extends AbstractServerChannel {
  static final String TYPE = "direct-streamlocal@openssh.com";
  private static final Logger LOG = Logger.getLogger(StreamLocalChannel.class.getName());
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static final byte[] EOF = new byte[0];
  private static final byte[] STOP = new byte[0];

  private final Path allowed;
  private final LinkedBlockingQueue<byte[]> fromClient = new LinkedBlockingQueue<>();
  private final AtomicInteger halvesDone = new AtomicInteger();
  private volatile SocketChannel socket;
  private volatile ChannelAsyncOutputStream toClient;

  /** Makes one channel per open request, each allowed to reach only {@code allowed}. */
  static ChannelFactory factory(Path allowed) {
    return new ChannelFactory() {
      @Override
      public String getName() {
        return TYPE;
      }

      @Override
      public Channel createChannel(Session session) {
        return new StreamLocalChannel(allowed);
      }
    };
  }

  StreamLocalChannel(Path allowed) {
    super("", List.of(), null);
    this.allowed = allowed.toAbsolutePath().normalize();
  }

  /** Why {@code requested} may not be opened when only {@code allowed} may; null if it may. */
  static String refusal(Path allowed, String requested) {
    if (requested == null || requested.isEmpty()) {
      return "no socket path given";
    }
    Path p;
    try {
      p = Path.of(requested);
    } catch (RuntimeException e) {
      return "invalid socket path " + requested;
    }
    if (!p.isAbsolute() || !p.normalize().equals(allowed.toAbsolutePath().normalize())) {
      return "forwarding to " + requested + " is not allowed: only the engine socket " + allowed + " may be forwarded";
    }
    return null;
  }

  @Override
  protected OpenFuture doInit(Buffer buffer) {
    OpenFuture f = new DefaultOpenFuture(this, this);
    // The request carries the path, then a reserved string and uint32 that nothing uses.
    String path = buffer.getString();
    String why = refusal(allowed, path);
    if (why != null) {
      LOG.info("refused " + TYPE + " to " + path + ": " + why);
      return refuse(f, SshConstants.SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, why);
    }
    SocketChannel s;
    try {
      s = SocketChannel.open(StandardProtocolFamily.UNIX);
      try {
        s.connect(UnixDomainSocketAddress.of(allowed));
      } catch (IOException e) {
        s.close();
        throw e;
      }
    } catch (IOException e) {
      return refuse(f, SshConstants.SSH_OPEN_CONNECT_FAILED, "cannot connect to " + allowed + ": " + e.getMessage());
    }
    socket = s;
    toClient = new ChannelAsyncOutputStream(this, SshConstants.SSH_MSG_CHANNEL_DATA);
    addCloseFutureListener(closed -> release());
    try {
      signalChannelOpenSuccess(); // sends the confirmation, so data may follow from here on
      f.setOpened();
    } catch (RuntimeException e) {
      signalChannelOpenFailure(e);
      f.setException(e);
      closeSocket();
      return f;
    }
    int n = SEQ.incrementAndGet();
    start("streamlocal-read-" + n, this::socketToChannel);
    start("streamlocal-write-" + n, this::channelToSocket);
    return f;
  }

  /**
   * Refuses the open with {@code message} as the reason the client shows. SSHD's connection service would send
   * a generic text for a failed open future, so the failure is sent here and the future is left incomplete
   * (nothing else waits on it); the channel is then dropped without a close exchange, as for any failed open.
   */
  private OpenFuture refuse(OpenFuture f, int reason, String message) {
    try {
      Buffer b = getSession().createBuffer(SshConstants.SSH_MSG_CHANNEL_OPEN_FAILURE, message.length() + 32);
      b.putUInt(getRecipient());
      b.putUInt(reason);
      b.putString(message);
      b.putString("");
      getSession().writePacket(b);
    } catch (IOException e) {
      f.setException(new SshChannelOpenException(getChannelId(), reason, message, e));
    } finally {
      close(true);
    }
    return f;
  }

  private static void start(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
  }

  private void socketToChannel() {
    ByteBuffer buf = ByteBuffer.allocate(32 * 1024);
    try {
      while (socket.read(buf) >= 0) {
        if (buf.position() == 0) {
          continue;
        }
        IoWriteFuture w = toClient.writeBuffer(new ByteArrayBuffer(Arrays.copyOf(buf.array(), buf.position())));
        buf.clear();
        w.await();
        if (!w.isWritten()) {
          throw new IOException("channel write failed", w.getException());
        }
      }
      sendEof();
      halfDone();
    } catch (IOException e) {
      failed("reading the socket", e);
    }
  }

  private void channelToSocket() {
    try {
      while (true) {
        byte[] b = fromClient.take();
        if (b == STOP) {
          closeSocket(); // only now: whatever came before the channel closed has been written
          return;
        }
        if (b == EOF) {
          socket.shutdownOutput();
          halfDone();
          continue;
        }
        ByteBuffer bb = ByteBuffer.wrap(b);
        while (bb.hasRemaining()) {
          socket.write(bb);
        }
        if (getLocalWindow().isOpen()) {
          getLocalWindow().release(b.length);
        }
      }
    } catch (IOException e) {
      closeSocket();
      failed("writing the socket", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void halfDone() {
    if (halvesDone.incrementAndGet() == 2) {
      close(false); // both directions ended: the channel is done
    }
  }

  private void failed(String what, IOException e) {
    if (!isClosing()) {
      LOG.log(Level.FINE, TYPE + " channel ended while " + what, e);
      close(true);
    }
  }

  /** Closes the socket and ends the writer; runs once the channel is closed, however that happened. */
  /** Runs once the channel is closed, however that happened: the writer drains, then closes the socket. */
  private void release() {
    fromClient.add(STOP);
  }

  private void closeSocket() {
    try {
      if (socket != null) {
        socket.close();
      }
    } catch (IOException e) {
      // nothing more to do with it
    }
  }

  @Override
  protected void doWriteData(byte[] data, int off, long len) {
    fromClient.add(Arrays.copyOfRange(data, off, off + (int) len));
  }

  @Override
  protected void doWriteExtendedData(byte[] data, int off, long len) throws IOException {
    throw new IOException(TYPE + " carries no extended data");
  }

  @Override
  public void handleEof() throws IOException {
    super.handleEof();
    fromClient.add(EOF);
  }

  @Override
  public void handleWindowAdjust(Buffer buffer) throws IOException {
    super.handleWindowAdjust(buffer);
    ChannelAsyncOutputStream out = toClient;
    if (out != null) {
      out.onWindowExpanded();
    }
  }
}
