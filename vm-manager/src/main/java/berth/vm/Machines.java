package berth.vm;

import berth.vm.MachineException.Kind;
import berth.vm.driver.MachineDriver;
import berth.vm.driver.SshEndpoint;
import berth.vm.socket.SocketForward;
import berth.vm.ssh.GuestSsh;
import berth.vm.ssh.MachineKey;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * A machine's life as the user sees it, over one driver: create (config, key pair, disk), start (VM booted,
 * agent ready, clock synced), the host's API socket served while the machine runs ({@link #serve}), stop and
 * delete. Not thread-safe; one instance per command.
 */
public final class Machines {
  /** Where the guest's engine listens (the agent's contract). */
  public static final String GUEST_ENGINE_SOCKET = "/run/berth/docker.sock";

  /** How long one SSH operation waits for the guest's SSH server to take a connection. */
  private static final Duration SSH_DIAL_TIMEOUT = Duration.ofSeconds(30);
  private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(Machines.class.getName());
  private final MachineStore store;
  private final MachineDriver driver;

  public Machines(MachineStore store, MachineDriver driver) {
    this.store = store;
    this.driver = driver;
  }

  /** The machine of that name, made when missing from {@code overrides} over the defaults; its config is validated. */
  public Machine createIfMissing(String name, MachineConfig overrides) throws IOException {
    Machine m = store.find(name).orElse(null);
    if (m == null) {
      MachineConfig filled = driver.configure(name, overrides.withDriver(driver.name()));
      m = store.create(name, filled);
      try {
        MachineKey.generate(m.dir().sshKey());
        driver.create(m);
      } catch (IOException | RuntimeException e) {
        m.dir().deleteAll(); // no half-made machine
        throw e;
      }
    } else if (m.config().driver() != null && !m.config().driver().equals(driver.name())) {
      throw new MachineException(Kind.CONFLICT, "machine \"" + name + "\" uses the " + m.config().driver()
          + " driver, not " + driver.name());
    } else {
      m = resize(m, overrides);
    }
    return m;
  }

  /**
   * An existing machine given other CPUs, memory, disk size, accelerator or shares (as Docker Desktop's settings
   * do): the new values are validated and kept, and the next boot uses them (the driver grows the data disk, the
   * guest its file system). Only a stopped machine changes (CONFLICT while it runs); its data disk never shrinks
   * (INVALID).
   */
  private Machine resize(Machine m, MachineConfig overrides) throws IOException {
    MachineConfig now = m.config();
    MachineConfig wanted = MachineConfigs.fill(overrides, now);
    if (wanted.equals(now)) {
      return m;
    }
    wanted = driver.configure(m.name(), wanted); // INVALID with the reasons for a bad value
    java.util.List<String> changes = new java.util.ArrayList<>();
    if (!java.util.Objects.equals(wanted.cpus(), now.cpus())) {
      changes.add("CPUs " + now.cpus() + " to " + wanted.cpus());
    }
    if (MachineConfigs.bytes(wanted.memory()) != MachineConfigs.bytes(now.memory())) {
      changes.add("memory " + now.memory() + " to " + wanted.memory());
    }
    if (MachineConfigs.bytes(wanted.disk()) != MachineConfigs.bytes(now.disk())) {
      changes.add("disk " + now.disk() + " to " + wanted.disk());
    }
    if (!java.util.Objects.equals(wanted.accel(), now.accel())) {
      changes.add("accelerator " + now.accel() + " to " + wanted.accel());
    }
    if (!java.util.Objects.equals(wanted.shares(), now.shares())) {
      changes.add("shares " + describe(now.shares()) + " to " + describe(wanted.shares()));
    }
    if (changes.isEmpty()) {
      return m;
    }
    MachineStatus status = driver.status(m).status();
    if (status != MachineStatus.STOPPED && status != MachineStatus.BROKEN) {
      throw new MachineException(Kind.CONFLICT, "machine \"" + m.name() + "\" is " + status.wire() + ": stop it to change "
          + String.join(", ", changes) + " (berth stop)");
    }
    if (wanted.diskBytes() < now.diskBytes()) {
      throw new MachineException(Kind.INVALID, "the data disk of machine \"" + m.name() + "\" cannot shrink ("
          + now.disk() + " to " + wanted.disk() + "): its contents would not fit; delete the machine to start smaller");
    }
    Machine changed = new Machine(m.name(), m.dir(), wanted);
    store.save(changed);
    LOG.info("machine " + m.name() + ": " + String.join(", ", changes));
    return changed;
  }

  private static String describe(java.util.List<MachineConfig.Share> shares) {
    if (shares == null || shares.isEmpty()) {
      return "none";
    }
    return String.join(", ", shares.stream()
        .map(s -> s.target() == null || s.target().equals(s.source()) ? s.source() : s.source() + ":" + s.target()).toList());
  }

  /**
   * Boots the machine (a no-op for a running one) and returns once its agent says the engine answers;
   * {@code progress} gets one line per step. On a timeout the message carries the console's last lines.
   */
  public void start(Machine m, Duration timeout, Consumer<String> progress) throws IOException {
    boot(m, progress);
    awaitReady(m, timeout, progress);
  }

  /** Starts the machine's VM (a no-op for a running one) and returns without waiting for the guest. */
  public void boot(Machine m, Consumer<String> progress) throws IOException {
    progress.accept("booting " + m.name() + " (" + driver.name() + ")");
    driver.start(m);
  }

  /**
   * Waits until the booted machine's agent says the engine answers, then sets the guest's clock from the host's.
   * On a timeout, or when the VM stops meanwhile, the message carries the console's last lines.
   */
  public void awaitReady(Machine m, Duration timeout, Consumer<String> progress) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    progress.accept("waiting for the guest agent");
    try (GuestSsh ssh = ssh(m)) {
      IOException last = null;
      while (System.nanoTime() < deadline) {
        if (driver.status(m).status() != MachineStatus.RUNNING) {
          throw new MachineException(Kind.BROKEN, "machine \"" + m.name() + "\" stopped while booting: "
              + driver.status(m) + "\n" + consoleTail(m));
        }
        try {
          // the host's time goes with the wait: the agent sets the guest's clock once the engine is up, which
          // a time-sync of its own would do only one more round trip later (~0.5 s of an emulated boot). The
          // time is read once logged in: the agent adds how long it waited from there, not the login's seconds.
          ssh.connect(SSH_DIAL_TIMEOUT);
          GuestSsh.ExecResult r = ssh.exec("berth-agent ready --time-sync " + System.currentTimeMillis(),
              Duration.ofSeconds(60));
          if (r.exitStatus() == 0) {
            progress.accept("engine ready");
            return;
          }
          last = new IOException(r.stderr().strip());
        } catch (IOException e) {
          last = e; // the guest's SSH server is not up yet
        }
        sleep(500);
      }
      throw new MachineException(Kind.UNAVAILABLE, "machine \"" + m.name() + "\" did not become ready within "
          + timeout.toSeconds() + " s" + (last == null ? "" : " (" + last.getMessage() + ")") + "\n" + consoleTail(m));
    }
  }

  /**
   * Serves the guest's engine on {@code hostSocket} until the machine stops (see {@link ServeWatch}) or the
   * thread is interrupted, reconnecting the SSH connection whenever it drops; removes the socket on the way out.
   */
  public void serve(Machine m, Path hostSocket) throws IOException {
    try (GuestSsh ssh = ssh(m); SocketForward fwd = SocketForward.start(hostSocket, ssh.streamLocalDialer(GUEST_ENGINE_SOCKET))) {
      try {
        // connected now rather than at the first client, so a serve started while the guest boots has its
        // key exchange done by the time the engine is ready; failing here is not fatal (dials reconnect)
        ssh.connect(Duration.ofSeconds(120));
      } catch (IOException e) {
        if (Thread.currentThread().isInterrupted()) {
          throw new java.io.InterruptedIOException("interrupted while connecting");
        }
      }
      ServeWatch watch = new ServeWatch();
      while (!Thread.currentThread().isInterrupted()) {
        MachineState s = driver.status(m);
        String why = watch.observe(s);
        if (why != null) {
          LOG.info("serve: " + why + "; closing " + hostSocket);
          return;
        }
        sleep(1000);
      }
    }
  }

  /**
   * When {@link #serve} gives up the socket: only once the driver has seen the VM not running on
   * {@link #STOPPED_READINGS} readings in a row. A state it cannot tell (BROKEN: libvirtd restarting or busy,
   * a failed query) never ends it: the VM and its SSH connection outlive libvirtd, and closing the socket on
   * one bad reading cut every open docker connection of a machine that was running fine.
   */
  static final class ServeWatch {
    static final int STOPPED_READINGS = 2;
    private int stopped;
    private MachineStatus last = MachineStatus.RUNNING;

    /** Takes one reading; returns why serving should end, or null to go on. */
    String observe(MachineState s) {
      MachineStatus st = s.status();
      if (st != last) {
        LOG.info("serve: the machine is " + s + (st == MachineStatus.BROKEN ? " (still serving)" : ""));
        last = st;
      }
      if (st == MachineStatus.STOPPED || st == MachineStatus.STOPPING) {
        return ++stopped >= STOPPED_READINGS ? "the machine is " + s : null;
      }
      stopped = 0;
      return null;
    }
  }

  /** Stops the machine gracefully (the guest stops its engine), forced after {@code grace}. Idempotent. */
  public void stop(Machine m, Duration grace) throws IOException {
    driver.stop(m, grace);
  }

  /** Removes the machine: VM, disk, keys and config. Idempotent for a machine that is gone. */
  public void delete(String name) throws IOException {
    Machine m = store.get(name);
    driver.delete(m);
    if (Files.exists(m.dir().path())) {
      m.dir().deleteAll();
    }
  }

  /** The machine's state as the driver sees it. Never throws. */
  public MachineState status(Machine m) {
    return driver.status(m);
  }

  /** True if something answers Docker's {@code /_ping} on {@code socket}. */
  public static boolean pings(Path socket) {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ch.write(ByteBuffer.wrap("GET /_ping HTTP/1.0\r\nHost: berth\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
      ByteBuffer b = ByteBuffer.allocate(64);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // a status line fits
      }
      return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200");
    } catch (IOException e) {
      return false;
    }
  }

  private GuestSsh ssh(Machine m) throws IOException {
    SshEndpoint e = driver.sshEndpoint(m);
    return GuestSsh.create(new GuestSsh.Target(e.host(), e.port(), m.dir().sshKey(), m.dir().knownHost()),
        SSH_DIAL_TIMEOUT);
  }

  private String consoleTail(Machine m) {
    try {
      var lines = Files.readAllLines(driver.consoleLog(m), StandardCharsets.ISO_8859_1);
      return "console (" + driver.consoleLog(m) + "), last lines:\n"
          + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    } catch (IOException e) {
      return "(no console log: " + e.getMessage() + ")";
    }
  }

  private static void sleep(long ms) throws IOException {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted");
    }
  }
}
