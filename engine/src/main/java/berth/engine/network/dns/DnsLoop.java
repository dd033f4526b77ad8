package berth.engine.network.dns;

import berth.engine.sys.Threads;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;

/**
 * The one thread that serves every attached container: a selector over each container's UDP socket,
 * TCP listener and TCP clients (2-byte length framing, several queries per connection), and over the
 * non-blocking upstream sockets of forwarded queries, so a slow upstream never holds anyone up. All
 * state is touched by this thread only; other threads hand it work through {@link #call}.
 *
 * <p>Forwarding, as moby: each upstream in turn (at most {@value #MAX_UPSTREAMS}), over the client's
 * transport, until one answers with something other than SERVFAIL or REFUSED; SERVFAIL when none
 * does. Each attempt gets {@code attemptTimeout}, the whole query {@code totalTimeout}. Queries go
 * upstream under a fresh random ID (answers must match it and the question); the reply gets the
 * client's ID back. Beyond {@value #MAX_FORWARDS} forwarded queries in flight for one container the
 * answer is REFUSED, as moby's semaphore does.
 */
final class DnsLoop implements AutoCloseable {
  static final int MAX_UPSTREAMS = 3;
  static final int MAX_FORWARDS = 1024;
  static final int MAX_TCP_CLIENTS = 128;
  /** Queries a TCP client may have unanswered before the loop stops reading from it. */
  static final int MAX_TCP_PENDING = 16;
  static final long TCP_IDLE_NANOS = Duration.ofSeconds(8).toNanos();
  private static final long TICK_MILLIS = 100;
  private static final int UDP_BURST = 64;

  private static final Logger LOG = Logger.getLogger(DnsLoop.class.getName());

  private final Answers answers;
  private final EmbeddedDns.Directory directory;
  private final long attemptNanos;
  private final long totalNanos;
  private final Selector selector;
  private final Thread thread;
  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final ByteBuffer udpBuffer = ByteBuffer.allocateDirect(65535);
  private final SecureRandom random = new SecureRandom();
  // Loop-thread state.
  private final Map<String, Server> servers = new HashMap<>();
  private final Set<Forward> forwards = new LinkedHashSet<>();
  private volatile boolean running = true;

  DnsLoop(EmbeddedDns.Directory directory, Duration attemptTimeout, Duration totalTimeout) throws IOException {
    this.directory = directory;
    this.answers = new Answers(directory);
    this.attemptNanos = attemptTimeout.toNanos();
    this.totalNanos = totalTimeout.toNanos();
    this.selector = Selector.open();
    this.thread = new Thread(this::run, "berth-dns");
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Starts serving {@code containerId} on these bound channels, which the loop now owns (it closes
   * them on failure too). False, with the channels closed, if the container is served already.
   */
  boolean add(String containerId, DatagramChannel udp, ServerSocketChannel tcp) throws IOException {
    try {
      return call(() -> {
        if (servers.containsKey(containerId)) {
          closeQuietly(udp);
          closeQuietly(tcp);
          return false;
        }
        Server s = new Server(containerId, udp, tcp);
        try {
          udp.configureBlocking(false);
          tcp.configureBlocking(false);
          udp.register(selector, SelectionKey.OP_READ, s.udpHandler);
          tcp.register(selector, SelectionKey.OP_ACCEPT, s.acceptHandler);
        } catch (IOException | RuntimeException e) {
          s.close();
          throw e;
        }
        servers.put(containerId, s);
        return true;
      });
    } catch (IOException | RuntimeException e) {
      closeQuietly(udp);
      closeQuietly(tcp);
      throw e;
    }
  }

  /** Stops serving {@code containerId}: closes its sockets, clients and forwarded queries. */
  boolean remove(String containerId) {
    try {
      return call(() -> {
        Server s = servers.remove(containerId);
        if (s == null) {
          return false;
        }
        s.close();
        return true;
      });
    } catch (IOException e) {
      return false; // the loop is closed, and with it every socket
    }
  }

  /** Whether the loop serves {@code containerId}. */
  boolean serves(String containerId) throws IOException {
    return call(() -> servers.containsKey(containerId));
  }

  /** Stops the loop thread and closes every socket. */
  @Override
  public void close() {
    running = false;
    selector.wakeup();
    if (Thread.currentThread() != thread) {
      Threads.joinUninterruptibly(thread);
    }
  }

  private <T> T call(Callable<T> action) throws IOException {
    if (Thread.currentThread() == thread) {
      throw new IllegalStateException("called from the DNS loop itself");
    }
    FutureTask<T> task = new FutureTask<>(action);
    tasks.add(task);
    if (!running || !thread.isAlive()) {
      tasks.remove(task);
      throw new IOException("the embedded DNS server is closed");
    }
    selector.wakeup();
    try {
      // The loop runs every task it took before it exits, and this one was queued while it ran.
      while (true) {
        try {
          return task.get(TICK_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
          if (!thread.isAlive() && tasks.remove(task)) {
            throw new IOException("the embedded DNS server is closed");
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting for the DNS loop");
    } catch (ExecutionException e) {
      throw Threads.rethrow(e);
    }
  }

  // ---------------------------------------------------------------- the loop

  private void run() {
    try {
      while (running) {
        boolean timed = !forwards.isEmpty() || servers.values().stream().anyMatch(s -> !s.clients.isEmpty());
        selector.select(this::dispatch, timed ? TICK_MILLIS : 0);
        runTasks();
        try {
          expire(System.nanoTime());
        } catch (RuntimeException e) {
          LOG.log(Level.SEVERE, "embedded DNS: unexpected failure in the DNS loop", e);
        }
      }
    } catch (IOException | ClosedSelectorException e) {
      LOG.log(Level.SEVERE, "embedded DNS: the selector failed; DNS service stops", e);
    } finally {
      running = false;
      runTasks(); // whoever waits gets an answer; add() after this point fails
      for (Server s : servers.values()) {
        s.close();
      }
      servers.clear();
      for (Forward f : new ArrayList<>(forwards)) {
        f.abandon();
      }
      closeQuietly(selector);
    }
  }

  private void runTasks() {
    for (Runnable r; (r = tasks.poll()) != null; ) {
      r.run(); // FutureTask: never throws
    }
  }

  private void dispatch(SelectionKey key) {
    Handler h = (Handler) key.attachment();
    if (!key.isValid()) {
      return;
    }
    try {
      h.ready(key);
    } catch (IOException | RuntimeException e) {
      h.failed(e);
    }
  }

  private void expire(long now) {
    if (!forwards.isEmpty()) {
      for (Forward f : new ArrayList<>(forwards)) {
        if (!f.done && now - f.attemptDeadline >= 0) {
          LOG.fine(() -> "embedded DNS: upstream " + f.current + " timed out for " + f.query.getQuestion());
          f.nextAttempt(now);
        }
      }
    }
    for (Server s : servers.values()) {
      for (TcpClient c : new ArrayList<>(s.clients)) {
        if (c.pending == 0 && c.out.isEmpty() && now - c.lastActive > TCP_IDLE_NANOS) {
          c.close();
        }
      }
    }
  }

  private interface Handler {
    void ready(SelectionKey key) throws IOException;

    void failed(Exception e);
  }

  /** Where a response goes. */
  private interface Reply {
    void send(byte[] wire);
  }

  /** Answers one query from {@code server}'s container: locally, or by starting a forward. */
  private void handle(Server server, byte[] wire, boolean tcp, TcpClient client, Reply reply) {
    Message query = Answers.parse(wire);
    if (query == null) {
      LOG.fine(() -> "embedded DNS: dropped a malformed " + (tcp ? "TCP" : "UDP") + " packet from " + server.id);
      return;
    }
    Message resp = answers.answer(server.id, query);
    if (resp != null) {
      reply.send(Answers.encode(resp, query, tcp));
      return;
    }
    List<java.net.InetSocketAddress> upstreams;
    try {
      upstreams = directory.upstreams(server.id);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "embedded DNS: the engine failed to name upstreams for " + server.id, e);
      upstreams = null;
    }
    if (upstreams == null || upstreams.isEmpty()) {
      // moby: no external access (internal network) means nothing to ask: SERVFAIL.
      reply.send(Answers.failure(query, Rcode.SERVFAIL).toWire());
      return;
    }
    if (server.forwards >= MAX_FORWARDS) {
      server.overloaded();
      reply.send(Answers.failure(query, Rcode.REFUSED).toWire());
      return;
    }
    List<InetSocketAddress> list = new ArrayList<>(MAX_UPSTREAMS);
    for (InetSocketAddress a : upstreams) {
      if (a != null && list.size() < MAX_UPSTREAMS) {
        list.add(a);
      }
    }
    Forward f = new Forward(server, client, query, tcp, list, reply);
    forwards.add(f);
    server.forwards++;
    if (client != null) {
      client.pending++;
    }
    f.nextAttempt(System.nanoTime());
  }

  // ---------------------------------------------------------------- one container

  private final class Server {
    final String id;
    final DatagramChannel udp;
    final ServerSocketChannel tcp;
    final Set<TcpClient> clients = new LinkedHashSet<>();
    int forwards;
    long lastOverloadLog;
    final Handler udpHandler = new Handler() {
      @Override
      public void ready(SelectionKey key) throws IOException {
        for (int i = 0; i < UDP_BURST; i++) {
          udpBuffer.clear();
          SocketAddress from = udp.receive(udpBuffer);
          if (from == null) {
            return;
          }
          udpBuffer.flip();
          byte[] wire = new byte[udpBuffer.remaining()];
          udpBuffer.get(wire);
          handle(Server.this, wire, false, null, resp -> sendUdp(from, resp));
        }
      }

      @Override
      public void failed(Exception e) {
        // Unconnected UDP sockets fail only transiently (e.g. no buffer space): keep serving.
        LOG.log(Level.FINE, "embedded DNS: UDP receive for " + id, e);
      }
    };
    final Handler acceptHandler = new Handler() {
      @Override
      public void ready(SelectionKey key) throws IOException {
        for (SocketChannel ch; (ch = tcp.accept()) != null; ) {
          if (clients.size() >= MAX_TCP_CLIENTS) {
            LOG.fine(() -> "embedded DNS: too many TCP clients for " + id);
            closeQuietly(ch);
            continue;
          }
          TcpClient c = new TcpClient(Server.this, ch);
          try {
            ch.configureBlocking(false);
            c.key = ch.register(selector, SelectionKey.OP_READ, c);
          } catch (IOException e) {
            closeQuietly(ch);
            throw e;
          }
          clients.add(c);
        }
      }

      @Override
      public void failed(Exception e) {
        LOG.log(Level.FINE, "embedded DNS: TCP accept for " + id, e);
      }
    };

    Server(String id, DatagramChannel udp, ServerSocketChannel tcp) {
      this.id = id;
      this.udp = udp;
      this.tcp = tcp;
    }

    void sendUdp(SocketAddress to, byte[] wire) {
      try {
        if (udp.send(ByteBuffer.wrap(wire), to) == 0) {
          LOG.fine(() -> "embedded DNS: UDP send buffer full, reply to " + to + " dropped");
        }
      } catch (IOException e) {
        LOG.log(Level.FINE, "embedded DNS: UDP reply to " + to + " failed", e);
      }
    }

    void overloaded() {
      long now = System.nanoTime();
      if (now - lastOverloadLog > Duration.ofSeconds(2).toNanos()) {
        lastOverloadLog = now;
        LOG.warning("embedded DNS: more than " + MAX_FORWARDS + " forwarded queries in flight for " + id);
      }
    }

    void close() {
      closeQuietly(udp);
      closeQuietly(tcp);
      for (TcpClient c : new ArrayList<>(clients)) {
        c.close();
      }
      for (Forward f : new ArrayList<>(DnsLoop.this.forwards)) {
        if (f.server == this) {
          f.abandon();
        }
      }
    }
  }

  // ---------------------------------------------------------------- a TCP client

  private final class TcpClient implements Handler {
    final Server server;
    final SocketChannel ch;
    SelectionKey key;
    final ByteBuffer length = ByteBuffer.allocate(2);
    ByteBuffer body;
    final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
    int pending;
    boolean eof;
    boolean closed;
    long lastActive = System.nanoTime();

    TcpClient(Server server, SocketChannel ch) {
      this.server = server;
      this.ch = ch;
    }

    @Override
    public void ready(SelectionKey key) throws IOException {
      if (key.isWritable()) {
        flush();
      }
      if (!closed && key.isValid() && key.isReadable()) {
        read();
      }
    }

    private void read() throws IOException {
      while (!closed && !eof && pending + out.size() < MAX_TCP_PENDING) {
        ByteBuffer buf = body == null ? length : body;
        int n = ch.read(buf);
        if (n < 0) {
          eof = true;
          break;
        }
        if (n == 0) {
          break;
        }
        lastActive = System.nanoTime();
        if (buf.hasRemaining()) {
          continue;
        }
        if (body == null) {
          int len = ((length.get(0) & 0xff) << 8) | (length.get(1) & 0xff);
          length.clear();
          if (len == 0) {
            continue; // an empty message: nothing to parse, nothing to answer
          }
          body = ByteBuffer.allocate(len);
        } else {
          byte[] wire = body.array();
          body = null;
          handle(server, wire, true, this, this::send);
        }
      }
      interest();
    }

    void send(byte[] wire) {
      if (closed) {
        return;
      }
      ByteBuffer b = ByteBuffer.allocate(2 + wire.length);
      b.put((byte) (wire.length >>> 8)).put((byte) wire.length).put(wire).flip();
      out.add(b);
      try {
        flush();
      } catch (IOException e) {
        failed(e);
      }
    }

    /** A forwarded query of this client ended (answered or abandoned). */
    void forwardDone() {
      pending--;
      if (!closed) {
        interest();
      }
    }

    private void flush() throws IOException {
      while (!out.isEmpty()) {
        ByteBuffer b = out.peek();
        ch.write(b);
        if (b.hasRemaining()) {
          break;
        }
        out.poll();
        lastActive = System.nanoTime();
      }
      interest();
    }

    private void interest() {
      if (closed) {
        return;
      }
      if (eof && pending == 0 && out.isEmpty()) {
        close();
        return;
      }
      int ops = 0;
      if (!eof && pending + out.size() < MAX_TCP_PENDING) {
        ops |= SelectionKey.OP_READ;
      }
      if (!out.isEmpty()) {
        ops |= SelectionKey.OP_WRITE;
      }
      if (key.isValid()) {
        key.interestOps(ops);
      }
    }

    @Override
    public void failed(Exception e) {
      LOG.log(Level.FINE, "embedded DNS: TCP client of " + server.id + " failed", e);
      close();
    }

    void close() {
      if (closed) {
        return;
      }
      closed = true;
      out.clear();
      server.clients.remove(this);
      closeQuietly(ch);
    }
  }

  // ---------------------------------------------------------------- a forwarded query

  private final class Forward implements Handler {
    final Server server;
    final TcpClient client;
    final Message query;
    final int clientId;
    final boolean tcp;
    final List<InetSocketAddress> upstreams;
    final Reply reply;
    final long deadline;
    long attemptDeadline;
    int next;
    int upstreamId;
    InetSocketAddress current;
    SelectableChannel channel;
    SelectionKey key;
    // TCP attempt state
    ByteBuffer request;
    final ByteBuffer length = ByteBuffer.allocate(2);
    ByteBuffer body;
    boolean done;

    Forward(Server server, TcpClient client, Message query, boolean tcp, List<InetSocketAddress> upstreams,
        Reply reply) {
      this.server = server;
      this.client = client;
      this.query = query;
      this.clientId = query.getHeader().getID();
      this.tcp = tcp;
      this.upstreams = upstreams;
      this.reply = reply;
      this.deadline = System.nanoTime() + totalNanos;
    }

    /** Tries the next upstream, or answers SERVFAIL when none is left or time is up. */
    void nextAttempt(long now) {
      closeChannel();
      while (next < upstreams.size() && deadline - now > 0) {
        current = upstreams.get(next++);
        attemptDeadline = now + Math.min(attemptNanos, deadline - now);
        try {
          open();
          return;
        } catch (IOException | RuntimeException e) {
          LOG.log(Level.FINE, "embedded DNS: cannot reach upstream " + current, e);
          closeChannel();
        }
      }
      finish(null);
    }

    private void open() throws IOException {
      upstreamId = random.nextInt(0x10000);
      Message q = query.clone();
      q.getHeader().setID(upstreamId);
      byte[] wire = q.toWire();
      StandardProtocolFamily family = current.getAddress() instanceof Inet6Address
          ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
      if (current.isUnresolved()) {
        throw new IOException("unresolved upstream " + current);
      }
      if (tcp) {
        SocketChannel ch = SocketChannel.open(family);
        channel = ch;
        ch.configureBlocking(false);
        request = ByteBuffer.allocate(2 + wire.length);
        request.put((byte) (wire.length >>> 8)).put((byte) wire.length).put(wire).flip();
        length.clear();
        body = null;
        boolean connected = ch.connect(current);
        key = ch.register(selector, connected ? SelectionKey.OP_WRITE : SelectionKey.OP_CONNECT, this);
      } else {
        DatagramChannel ch = DatagramChannel.open(family);
        channel = ch;
        ch.configureBlocking(false);
        ch.connect(current);
        ch.write(ByteBuffer.wrap(wire));
        key = ch.register(selector, SelectionKey.OP_READ, this);
      }
      LOG.finer(() -> "embedded DNS: forwarding " + query.getQuestion() + " to " + current
          + (tcp ? " over TCP" : ""));
    }

    @Override
    public void ready(SelectionKey key) throws IOException {
      if (tcp) {
        readyTcp(key);
      } else {
        readyUdp();
      }
    }

    private void readyUdp() throws IOException {
      DatagramChannel ch = (DatagramChannel) channel;
      while (!done && channel == ch) {
        udpBuffer.clear();
        int n = ch.read(udpBuffer); // a refused port shows here as PortUnreachableException
        if (n <= 0) {
          return;
        }
        udpBuffer.flip();
        byte[] wire = new byte[udpBuffer.remaining()];
        udpBuffer.get(wire);
        received(wire, false);
      }
    }

    private void readyTcp(SelectionKey key) throws IOException {
      SocketChannel ch = (SocketChannel) channel;
      if (key.isConnectable()) {
        if (!ch.finishConnect()) {
          return;
        }
        key.interestOps(SelectionKey.OP_WRITE);
      }
      if (key.isValid() && (key.interestOps() & SelectionKey.OP_WRITE) != 0) {
        ch.write(request);
        if (request.hasRemaining()) {
          return;
        }
        key.interestOps(SelectionKey.OP_READ);
        return;
      }
      while (key.isValid() && key.isReadable() && !done && channel == ch) {
        ByteBuffer buf = body == null ? length : body;
        int n = ch.read(buf);
        if (n < 0) {
          throw new IOException("upstream closed the connection");
        }
        if (n == 0) {
          return;
        }
        if (buf.hasRemaining()) {
          continue;
        }
        if (body == null) {
          int len = ((length.get(0) & 0xff) << 8) | (length.get(1) & 0xff);
          if (len == 0) {
            throw new IOException("upstream sent an empty message");
          }
          body = ByteBuffer.allocate(len);
        } else {
          byte[] wire = body.array();
          body = null;
          length.clear();
          received(wire, true);
        }
      }
    }

    /** An upstream's answer: ignored if it is not ours (UDP), else final or a reason to move on. */
    private void received(byte[] wire, boolean overTcp) {
      Message resp;
      try {
        resp = new Message(wire);
      } catch (IOException | RuntimeException e) {
        resp = null;
      }
      if (resp == null || !matches(resp)) {
        LOG.fine(() -> "embedded DNS: ignored a stray or malformed answer from " + current);
        if (overTcp) {
          nextAttempt(System.nanoTime());
        }
        return;
      }
      int rcode = resp.getRcode();
      if (rcode == Rcode.SERVFAIL || rcode == Rcode.REFUSED) {
        LOG.fine(() -> "embedded DNS: upstream " + current + " answered " + Rcode.string(rcode) + " for "
            + query.getQuestion());
        nextAttempt(System.nanoTime());
        return;
      }
      finish(resp);
    }

    private boolean matches(Message resp) {
      if (resp.getHeader().getID() != upstreamId || !resp.getHeader().getFlag(Flags.QR)) {
        return false;
      }
      Record asked = query.getQuestion();
      Record got = resp.getQuestion();
      return got != null && asked != null && got.getName().equals(asked.getName())
          && got.getType() == asked.getType() && got.getDClass() == asked.getDClass();
    }

    @Override
    public void failed(Exception e) {
      LOG.log(Level.FINE, "embedded DNS: upstream " + current + " failed", e);
      nextAttempt(System.nanoTime());
    }

    /** Sends {@code resp} (null: SERVFAIL) to the client, with the client's ID. */
    private void finish(Message resp) {
      if (done) {
        return;
      }
      end();
      Message m = resp;
      if (m == null) {
        LOG.fine(() -> "embedded DNS: no upstream answered " + query.getQuestion() + " for " + server.id);
        m = Answers.failure(query, Rcode.SERVFAIL);
      } else {
        m.getHeader().setID(clientId);
      }
      byte[] wire;
      try {
        wire = m.toWire();
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "embedded DNS: cannot re-encode an upstream answer", e);
        wire = Answers.failure(query, Rcode.SERVFAIL).toWire();
      }
      if (servers.get(server.id) == server) {
        reply.send(wire);
      }
      if (client != null) {
        client.forwardDone();
      }
    }

    /** Drops the query without an answer (its container is gone, or the loop stops). */
    void abandon() {
      if (!done) {
        end();
        if (client != null) {
          client.pending--;
        }
      }
    }

    private void end() {
      done = true;
      closeChannel();
      forwards.remove(this);
      server.forwards--;
    }

    private void closeChannel() {
      if (channel != null) {
        closeQuietly(channel);
        channel = null;
        key = null;
      }
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // nothing to do
    }
  }
}
