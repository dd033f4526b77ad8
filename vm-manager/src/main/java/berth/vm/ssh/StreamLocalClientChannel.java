package berth.vm.ssh;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.sshd.client.channel.AbstractClientChannel;
import org.apache.sshd.client.future.DefaultOpenFuture;
import org.apache.sshd.client.future.OpenFuture;
import org.apache.sshd.common.SshConstants;
import org.apache.sshd.common.SshException;
import org.apache.sshd.common.channel.ChannelAsyncOutputStream;
import org.apache.sshd.common.channel.LocalWindow;
import org.apache.sshd.common.io.IoWriteFuture;
import org.apache.sshd.common.session.Session;
import org.apache.sshd.common.util.buffer.Buffer;
import org.apache.sshd.common.util.buffer.ByteArrayBuffer;

/**
 * The client end of OpenSSH's {@code direct-streamlocal@openssh.com} channel (PROTOCOL §2.4), which Apache SSHD
 * lacks: asks the server to connect to a unix socket path and pumps a local socket and the channel both ways,
 * with half-close (the local end of stream sends an SSH EOF; an SSH EOF shuts the local socket's output). Data
 * from the guest is written to the local socket by a writer thread, and the SSH window is given back only
 * after it is written, so a client that stops reading slows the guest instead of filling memory or blocking
 * the session. Once open, the channel owns the local socket and closes it when it closes.
 */
final class StreamLocalClientChannel extends AbstractClientChannel {
  static final String TYPE = "direct-streamlocal@openssh.com";
  private static final Logger LOG = Logger.getLogger(StreamLocalClientChannel.class.getName());
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static final byte[] EOF = new byte[0];
  private static final byte[] STOP = new byte[0];

  private final String remotePath;
  private final SocketChannel local;
  private final LinkedBlockingQueue<byte[]> fromGuest = new LinkedBlockingQueue<>();
  private final AtomicInteger halvesDone = new AtomicInteger();
  private volatile ChannelAsyncOutputStream toGuest;

  StreamLocalClientChannel(String remotePath, SocketChannel local) {
    super(TYPE);
    this.remotePath = remotePath;
    this.local = local;
  }

  @Override
  public synchronized OpenFuture open() throws IOException {
    if (closeFuture.isClosed()) {
      throw new SshException("the SSH session is closed");
    }
    openFuture = new DefaultOpenFuture(remotePath, futureLock);
    Session session = getSession();
    LocalWindow window = getLocalWindow();
    Buffer b = session.createBuffer(SshConstants.SSH_MSG_CHANNEL_OPEN, TYPE.length() + remotePath.length() + 64);
    b.putString(TYPE);
    b.putUInt(getChannelId());
    b.putUInt(window.getSize());
    b.putUInt(window.getPacketSize());
    b.putString(remotePath);
    b.putString(""); // reserved
    b.putUInt(0); // reserved
    writePacket(b);
    return openFuture;
  }

  @Override
  protected void doOpen() {
    toGuest = new ChannelAsyncOutputStream(this, SshConstants.SSH_MSG_CHANNEL_DATA);
    addCloseFutureListener(closed -> release());
    int n = SEQ.incrementAndGet();
    start("streamlocal-client-read-" + n, this::localToGuest);
    start("streamlocal-client-write-" + n, this::guestToLocal);
  }

  private static void start(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
  }

  private void localToGuest() {
    ByteBuffer buf = ByteBuffer.allocate(32 * 1024);
    try {
      while (local.read(buf) >= 0) {
        if (buf.position() == 0) {
          continue;
        }
        IoWriteFuture w = toGuest.writeBuffer(new ByteArrayBuffer(Arrays.copyOf(buf.array(), buf.position())));
        buf.clear();
        w.await();
        if (!w.isWritten()) {
          throw new IOException("channel write failed", w.getException());
        }
      }
      sendEof();
      halfDone();
    } catch (IOException e) {
      failed("reading the local socket", e);
    }
  }

  private void guestToLocal() {
    try {
      while (true) {
        byte[] b = fromGuest.take();
        if (b == STOP) {
          closeSocket(); // only now: whatever came before the channel closed has been written
          return;
        }
        if (b == EOF) {
          local.shutdownOutput();
          halfDone();
          continue;
        }
        ByteBuffer bb = ByteBuffer.wrap(b);
        while (bb.hasRemaining()) {
          local.write(bb);
        }
        if (getLocalWindow().isOpen()) {
          getLocalWindow().release(b.length);
        }
      }
    } catch (IOException e) {
      closeSocket();
      failed("writing the local socket", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void halfDone() {
    if (halvesDone.incrementAndGet() == 2) {
      close(false);
    }
  }

  private void failed(String what, IOException e) {
    if (!isClosing()) {
      LOG.log(Level.FINE, TYPE + " channel ended while " + what, e);
      close(true);
    }
  }

  /** Runs once the channel is closed, however that happened: the writer drains, then closes the socket. */
  private void release() {
    fromGuest.add(STOP);
  }

  private void closeSocket() {
    try {
      if (local != null) {
        local.close();
      }
    } catch (IOException e) {
      // nothing more to do with it
    }
  }

  @Override
  protected void doWriteData(byte[] data, int off, long len) {
    if (!isClosing()) {
      fromGuest.add(Arrays.copyOfRange(data, off, off + (int) len));
    }
  }

  @Override
  protected void doWriteExtendedData(byte[] data, int off, long len) throws IOException {
    throw new IOException(TYPE + " carries no extended data");
  }

  @Override
  public void handleEof() throws IOException {
    super.handleEof();
    fromGuest.add(EOF);
  }

  @Override
  public void handleWindowAdjust(Buffer buffer) throws IOException {
    super.handleWindowAdjust(buffer);
    ChannelAsyncOutputStream out = toGuest;
    if (out != null) {
      out.onWindowExpanded();
    }
  }
}
