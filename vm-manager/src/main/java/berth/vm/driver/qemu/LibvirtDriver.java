package berth.vm.driver.qemu;

import berth.vm.Machine;
import berth.vm.MachineConfig;
import berth.vm.MachineConfigs;
import berth.vm.MachineException;
import berth.vm.MachineException.Kind;
import berth.vm.MachineState;
import berth.vm.MachineStatus;
import berth.vm.driver.DriverFeatures;
import berth.vm.driver.MachineDriver;
import berth.vm.driver.RunningMachine;
import berth.vm.driver.SshEndpoint;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.LibvirtException;

/**
 * Runs machines as QEMU VMs under libvirt ({@code qemu:///system} for root, the user's own {@code qemu:///session}
 * for anyone else, unless told otherwise), through libvirt-java. A machine stays with the daemon it was made
 * under (recorded in its directory): another daemon's berth refuses to touch it rather than miss its domain.
 *
 * <p>Each machine is one persistent libvirt domain named {@code berth-<name>}, marked as Berth's in its
 * metadata (with the machine directory), and redefined at every start so it always boots the current boot
 * image with a fresh SSH port. Persistent rather than transient because libvirt then remembers why a domain
 * stopped (a killed QEMU reads "crashed"), which {@link #status} reports. A domain of that name that lacks
 * Berth's mark, or carries another machine's directory, is never started, stopped or removed.
 *
 * <p>The guest boots straight from the boot-image directory's kernel and initramfs ({@link BootImage}); its
 * data disk is the machine's qcow2 file, made by {@link #create}; the host reaches its SSH server through a
 * QEMU user-network forward from 127.0.0.1. Domain XML: {@link DomainXml}. Running VMs are watched by
 * polling libvirt once a second (no event-loop thread, and a watcher survives a libvirtd restart).
 *
 * <p>Thread-safe. Operations on one machine are serialized within this instance; two processes driving the
 * same machine at once are not guarded against.
 */
public final class LibvirtDriver implements MachineDriver {
  public static final String NAME = "libvirt";
  /** The system libvirtd, root's default: QEMU runs as the machine directory's owner, shares are virtiofs. */
  public static final String SYSTEM_URI = "qemu:///system";
  /**
   * The user's own libvirtd, everyone else's default: libvirt starts it on demand (no group membership, no polkit
   * rule, no system daemon needed), QEMU runs as the user, and shares are 9p (libvirt 9.0 refuses virtiofs here).
   */
  public static final String SESSION_URI = "qemu:///session";
  static final String DOMAIN_PREFIX = "berth-";
  /** The file in a machine's directory naming the libvirt URI it was made under. */
  static final String URI_FILE = "libvirt-uri";
  static final Path VIRTIOFSD = Path.of("/usr/lib/qemu/virtiofsd");
  private static final String QEMU_IMG = "qemu-img";
  private static final Duration FORCED_STOP = Duration.ofSeconds(30);

  private static final ScheduledExecutorService WATCHERS = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "berth-libvirt-watch");
    t.setDaemon(true);
    return t;
  });

  // libvirt's default error handler prints every error to stderr ("libvirt: QEMU Driver error : Domain not
  // found" on each lookup of a stopped machine); the binding turns errors into exceptions anyway, so this no-op
  // handler replaces it. Held in a static field because JNA callbacks must stay reachable.
  private static final org.libvirt.ErrorCallback QUIET = new org.libvirt.ErrorCallback();
  private static volatile boolean quieted;

  private final Path bootImage;
  private final String uri;
  private final boolean session;
  private final Map<String, Object> locks = new ConcurrentHashMap<>();
  private final Set<String> starting = ConcurrentHashMap.newKeySet();
  private final Set<String> stopping = ConcurrentHashMap.newKeySet();
  private final Map<String, CompletableFuture<Integer>> watches = new ConcurrentHashMap<>();
  private final Map<String, String> probedTypes = new ConcurrentHashMap<>();
  private Connect conn; // guarded by this
  private boolean closed; // guarded by this

  /** A driver booting machines from {@code bootImage} under {@link #defaultUri}. Connects lazily. */
  public LibvirtDriver(Path bootImage) {
    this(bootImage, defaultUri(System.getenv("LIBVIRT_DEFAULT_URI"), isRoot()));
  }

  /** A driver booting machines from {@code bootImage} under the libvirt URI {@code uri}. Connects lazily. */
  public LibvirtDriver(Path bootImage, String uri) {
    this.bootImage = bootImage.toAbsolutePath().normalize();
    this.uri = uri;
    this.session = isSession(uri);
  }

  /**
   * The libvirt URI to use: {@code LIBVIRT_DEFAULT_URI} when set (as for virsh), else {@link #SYSTEM_URI} for
   * root and {@link #SESSION_URI} for any other user.
   */
  static String defaultUri(String libvirtDefaultUri, boolean root) {
    if (libvirtDefaultUri != null && !libvirtDefaultUri.isBlank()) {
      return libvirtDefaultUri.strip();
    }
    return root ? SYSTEM_URI : SESSION_URI;
  }

  /** Whether this process runs as uid 0 (the owner of /proc/self; elsewhere, the user's name). */
  private static boolean isRoot() {
    try {
      return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return "root".equals(System.getProperty("user.name"));
    }
  }

  /**
   * Why this driver must leave the machine alone: it was made under another libvirt daemon, where its domain
   * lives (this one would find none: call it stopped, start a second VM on the same disk, delete the disk under
   * the running one). Empty for the same daemon, and for machines made before the daemon was recorded.
   */
  private Optional<String> otherDaemon(Machine m) throws IOException {
    Path f = m.dir().path().resolve(URI_FILE);
    if (!Files.isRegularFile(f)) {
      return Optional.empty();
    }
    String made = Files.readString(f, StandardCharsets.UTF_8).strip();
    if (made.equals(uri)) {
      return Optional.empty();
    }
    return Optional.of("machine " + quote(m.name()) + " was made under libvirt's " + made + " and this berth uses "
        + uri + " (root's default is " + SYSTEM_URI + ", everyone else's " + SESSION_URI + "): run berth as the user "
        + "who made it, or with LIBVIRT_DEFAULT_URI=" + made);
  }

  private void requireSameDaemon(Machine m) throws IOException {
    Optional<String> other = otherDaemon(m);
    if (other.isPresent()) {
      throw new MachineException(Kind.CONFLICT, other.get());
    }
  }

  /** Whether a libvirt URI names a per-user session daemon ({@code qemu:///session}, {@code qemu+ssh://h/session}). */
  static boolean isSession(String uri) {
    return uri.matches("[A-Za-z0-9+]+://[^/]*/session(\\?.*)?");
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Optional<String> unsupportedReason() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    if (!os.contains("linux")) {
      return Optional.of("the libvirt driver runs on Linux hosts (its macOS hvf domain type is untested)");
    }
    try {
      org.libvirt.Library.getVersion();
    } catch (LibvirtException | LinkageError e) {
      return Optional.of("libvirt's client library cannot be loaded (Debian: apt-get install libvirt-daemon-system "
          + "libvirt-clients qemu-system-x86 qemu-utils): " + e.getMessage());
    }
    return Optional.empty();
  }

  @Override
  public DriverFeatures features() {
    return new DriverFeatures(true, Set.of(session ? "9p" : "virtiofs"), Set.of("qcow2"), false);
  }

  @Override
  public MachineConfig configure(String name, MachineConfig config) {
    MachineConfig filled = MachineConfigs.fill(config, MachineConfigs.BUILTIN);
    List<String> p = new ArrayList<>(MachineConfigs.problems(name, filled, MachineConfigs.Host.current()));
    if (filled.driver() != null && !NAME.equals(filled.driver())) {
      p.add("driver \"" + filled.driver() + "\" is not the libvirt driver");
    }
    if ("hvf".equals(filled.accel()) && !Accel.isMac()) {
      p.add("accel \"hvf\" needs macOS");
    }
    if ("kvm".equals(filled.accel()) && !Accel.kvmDevice()) {
      p.add("accel \"kvm\" needs /dev/kvm, which this host lacks or this user cannot open (use \"tcg\" or \"auto\")");
    }
    if (!p.isEmpty()) {
      throw MachineException.of(Kind.INVALID, "machine " + quote(name) + " is not valid", p);
    }
    return filled;
  }

  @Override
  public void create(Machine m) throws IOException {
    synchronized (lock(m)) {
      if (!Files.isDirectory(m.dir().path())) {
        throw new MachineException(Kind.NOT_FOUND, "machine " + quote(m.name()) + " has no directory " + m.dir());
      }
      Path recorded = m.dir().path().resolve(URI_FILE);
      if (Files.exists(recorded)) {
        requireSameDaemon(m);
      } else {
        Files.writeString(recorded, uri + "\n", StandardCharsets.UTF_8);
      }
      Path disk = m.dir().dataDisk();
      if (Files.exists(disk)) {
        return;
      }
      // made under a temporary name and renamed, so a failed create leaves no half-made disk behind
      Path tmp = m.dir().path().resolve("." + disk.getFileName() + ".tmp");
      Files.deleteIfExists(tmp);
      try {
        Tools.Result r = Tools.run(List.of(QEMU_IMG, "create", "-q", "-f", "qcow2", tmp.toString(),
            Long.toString(m.config().diskBytes())), 60);
        if (r.exit() != 0) {
          throw new IOException("qemu-img could not create the data disk " + disk + ": " + r.output());
        }
        Files.move(tmp, disk, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
  }

  @Override
  public RunningMachine start(Machine m) throws IOException {
    synchronized (lock(m)) {
      starting.add(m.name());
      try {
        if (!Files.isDirectory(m.dir().path())) {
          throw new MachineException(Kind.NOT_FOUND, "machine " + quote(m.name()) + " has not been created ("
              + m.dir() + " does not exist)");
        }
        requireSameDaemon(m);
        Connect c = connection();
        Domain d = lookup(c, domainName(m));
        Optional<String> uuid = Optional.empty();
        if (d != null) {
          requireOurs(d, m);
          if (DomainStates.of(d).active()) {
            return watch(m);
          }
          uuid = Optional.of(d.getUUIDString());
        }
        List<String> problems = offlineProblems(m, true);
        if (!problems.isEmpty()) {
          throw MachineException.of(Kind.BROKEN, "machine " + quote(m.name()) + " cannot start", problems);
        }
        growDataDisk(m);
        BootImage boot = BootImage.in(bootImage);
        String type = domainType(m.config().accel(), boot.kernel());
        rotateConsoleLog(m);
        LibvirtException failure = null;
        // QEMU binds the forwarded port itself, so another program can take the free port we picked before
        // QEMU binds it; then QEMU fails to start and we try another port.
        for (int attempt = 0; attempt < 3; attempt++) {
          d = c.domainDefineXML(DomainXml.build(spec(m, boot, type, freePort(), uuid)));
          try {
            d.create();
            return watch(m);
          } catch (LibvirtException e) {
            failure = e;
            undefineQuietly(d);
            if (!String.valueOf(e.getMessage()).contains("host forwarding rule")) {
              break;
            }
          }
        }
        throw new MachineException(Kind.BROKEN, "libvirt could not start machine " + quote(m.name()) + ": "
            + failure.getMessage() + " (QEMU's own log: " + qemuLog(m) + ")", failure);
      } catch (LibvirtException e) {
        throw new IOException("libvirt failed while starting machine " + quote(m.name()) + ": " + e.getMessage(), e);
      } finally {
        starting.remove(m.name());
      }
    }
  }

  @Override
  public void stop(Machine m, Duration grace) throws IOException {
    synchronized (lock(m)) {
      requireSameDaemon(m);
      try {
        Domain d = lookup(connection(), domainName(m));
        if (d == null) {
          return;
        }
        requireOurs(d, m);
        if (!DomainStates.of(d).active()) {
          return;
        }
        stopping.add(m.name());
        try {
          try {
            d.shutdown(); // the ACPI power button: the guest's init stops the agent cleanly and powers off
          } catch (LibvirtException e) {
            // the VM may have ended meanwhile, or refuse ACPI; either way the forced path below settles it
          }
          if (!waitInactive(d, grace)) {
            try {
              d.destroy();
            } catch (LibvirtException e) {
              if (DomainStates.of(d).active()) {
                throw e;
              }
            }
            if (!waitInactive(d, FORCED_STOP)) {
              throw new IOException("machine " + quote(m.name()) + " is still running " + FORCED_STOP.toSeconds()
                  + " s after libvirt was told to destroy it");
            }
          }
        } finally {
          stopping.remove(m.name());
        }
      } catch (LibvirtException e) {
        throw new IOException("libvirt failed while stopping machine " + quote(m.name()) + ": " + e.getMessage(), e);
      }
    }
  }

  @Override
  public void delete(Machine m) throws IOException {
    synchronized (lock(m)) {
      requireSameDaemon(m); // nothing to refuse once the directory is gone
      try {
        Domain d = lookup(connection(), domainName(m));
        if (d != null) {
          requireOurs(d, m);
          if (DomainStates.of(d).active()) {
            stopping.add(m.name());
            try {
              d.destroy();
              if (!waitInactive(d, FORCED_STOP)) {
                throw new IOException("machine " + quote(m.name()) + " would not stop; nothing was deleted");
              }
            } finally {
              stopping.remove(m.name());
            }
          }
          d.undefine();
        }
      } catch (LibvirtException e) {
        if (e.getError().getCode() != ErrorNumber.VIR_ERR_NO_DOMAIN) {
          throw new IOException("libvirt failed while deleting machine " + quote(m.name()) + ": " + e.getMessage(), e);
        }
      }
      m.dir().deleteAll();
      locks.remove(m.name());
    }
  }

  @Override
  public MachineState status(Machine m) {
    try {
      if (!Files.isDirectory(m.dir().path())) {
        return MachineState.of(MachineStatus.STOPPED, "the machine has not been created");
      }
      if (starting.contains(m.name())) {
        return MachineState.of(MachineStatus.STARTING);
      }
      Optional<String> other = otherDaemon(m);
      if (other.isPresent()) {
        return MachineState.of(MachineStatus.BROKEN, other.get());
      }
      Connect c;
      try {
        c = connection();
      } catch (MachineException e) {
        return MachineState.of(MachineStatus.BROKEN, e.getMessage());
      }
      Domain d = lookup(c, domainName(m));
      String lastStop = "";
      if (d != null) {
        Optional<String> foreign = foreignReason(d, m);
        if (foreign.isPresent()) {
          return MachineState.of(MachineStatus.BROKEN, foreign.get());
        }
        DomainStates.StateReason s = DomainStates.of(d);
        if (s.active()) {
          if (stopping.contains(m.name()) || s.state() == DomainStates.State.SHUTDOWN) {
            return MachineState.of(MachineStatus.STOPPING);
          }
          return s.state() == DomainStates.State.PAUSED
              ? MachineState.of(MachineStatus.RUNNING, "the VM is paused (libvirt)")
              : MachineState.of(MachineStatus.RUNNING);
        }
        lastStop = s.stoppedReason();
      }
      List<String> problems = offlineProblems(m, true);
      problems.addAll(BootImage.problems(bootImage).stream().map(p -> "boot image: " + p).toList());
      if (!problems.isEmpty()) {
        if (!lastStop.isEmpty()) {
          problems.add(lastStop);
        }
        return new MachineState(MachineStatus.BROKEN, problems);
      }
      return lastStop.isEmpty() ? MachineState.of(MachineStatus.STOPPED) : MachineState.of(MachineStatus.STOPPED, lastStop);
    } catch (Exception e) {
      return MachineState.of(MachineStatus.BROKEN, "cannot tell the machine's state: " + e.getMessage());
    }
  }

  @Override
  public SshEndpoint sshEndpoint(Machine m) throws IOException {
    requireSameDaemon(m);
    try {
      Domain d = lookup(connection(), domainName(m));
      if (d == null || !DomainStates.of(d).active()) {
        throw new MachineException(Kind.INVALID, "machine " + quote(m.name()) + " is not running");
      }
      requireOurs(d, m);
      OptionalInt port = DomainXml.sshPort(d.getXMLDesc(0));
      if (port.isEmpty()) {
        throw new MachineException(Kind.BROKEN, "domain " + domainName(m) + " has no SSH port forward");
      }
      return new SshEndpoint("127.0.0.1", port.getAsInt());
    } catch (LibvirtException e) {
      throw new IOException("libvirt failed while looking up machine " + quote(m.name()) + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Path consoleLog(Machine m) {
    return m.dir().consoleLog();
  }

  @Override
  public synchronized void close() {
    closed = true;
    watches.values().forEach(f -> f.cancel(false));
    watches.clear();
    if (conn != null) {
      try {
        conn.close();
      } catch (LibvirtException e) {
        // closing anyway
      }
      conn = null;
    }
  }

  /** The libvirt domain name of a machine: prefixed, so it cannot collide with other programs' domains. */
  public static String domainName(Machine m) {
    return DOMAIN_PREFIX + m.name();
  }

  // --- internals ---

  private Object lock(Machine m) {
    return locks.computeIfAbsent(m.name(), k -> new Object());
  }

  private synchronized Connect connection() {
    if (closed) {
      throw new IllegalStateException("the libvirt driver is closed");
    }
    if (conn != null) {
      try {
        if (conn.isAlive()) {
          return conn;
        }
      } catch (LibvirtException e) {
        // reconnect below
      }
      try {
        conn.close();
      } catch (LibvirtException e) {
        // it is gone anyway
      }
      conn = null;
    }
    try {
      if (!quieted) {
        Connect.setErrorCallback(QUIET);
        quieted = true;
      }
      conn = new Connect(uri);
    } catch (LibvirtException e) {
      throw new MachineException(Kind.UNAVAILABLE, "cannot connect to libvirtd at " + uri + ": " + e.getMessage()
          + (session ? ". libvirt starts this user's own libvirtd itself: is it installed (Debian: apt-get install "
              + "libvirt-daemon-system)?"
              : ". Is libvirtd running? Start it with `systemctl start libvirtd virtlogd` (without systemd: "
              + "`virtlogd -d && libvirtd -d`)"), e);
    } catch (LinkageError e) {
      throw new MachineException(Kind.UNAVAILABLE, "libvirt's client library cannot be loaded: " + e.getMessage(), e);
    }
    return conn;
  }

  private static Domain lookup(Connect c, String name) throws LibvirtException {
    try {
      return c.domainLookupByName(name);
    } catch (LibvirtException e) {
      if (e.getError().getCode() == ErrorNumber.VIR_ERR_NO_DOMAIN) {
        return null;
      }
      throw e;
    }
  }

  private static Optional<String> foreignReason(Domain d, Machine m) throws LibvirtException {
    Optional<String> dir = DomainXml.machineDir(d.getXMLDesc(0));
    if (dir.isEmpty()) {
      return Optional.of("a libvirt domain named " + domainName(m) + " exists that Berth did not make; Berth leaves it "
          + "alone: remove or rename it (virsh undefine " + domainName(m) + "), or use another machine name");
    }
    if (!dir.get().equals(m.dir().path().toString())) {
      return Optional.of("the libvirt domain " + domainName(m) + " belongs to the Berth machine in " + dir.get()
          + " (another Berth home); use another machine name");
    }
    return Optional.empty();
  }

  private static void requireOurs(Domain d, Machine m) throws LibvirtException {
    Optional<String> foreign = foreignReason(d, m);
    if (foreign.isPresent()) {
      throw new MachineException(Kind.CONFLICT, foreign.get());
    }
  }

  /**
   * Grows the data disk to the configured size when the machine was given a larger one since (berth start --disk);
   * the guest's init grows its file system at boot. Disks never shrink (Machines refuses that).
   */
  private static void growDataDisk(Machine m) throws IOException {
    Path disk = m.dir().dataDisk();
    long want = m.config().diskBytes();
    if (qcow2Size(disk) >= want) {
      return;
    }
    Tools.Result r = Tools.run(List.of(QEMU_IMG, "resize", "-q", "-f", "qcow2", disk.toString(), Long.toString(want)), 60);
    if (r.exit() != 0) {
      throw new IOException("qemu-img could not grow the data disk " + disk + " to " + m.config().disk() + ": "
          + r.output());
    }
  }

  /** A qcow2 image's virtual size, from its header (magic QFI 0xfb, then the size at bytes 24–31, big-endian). */
  static long qcow2Size(Path disk) throws IOException {
    ByteBuffer header = ByteBuffer.allocate(32);
    try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
      while (header.hasRemaining() && ch.read(header) >= 0) {
        // a header is 32 bytes at least
      }
    }
    if (header.hasRemaining() || header.getInt(0) != 0x514649fb) {
      throw new IOException("the data disk " + disk + " is not a qcow2 image");
    }
    return header.getLong(24);
  }

  /** What stops the machine from booting that is visible without libvirt: its disk, key and shares. */
  private static List<String> offlineProblems(Machine m, boolean checkDisk) throws IOException {
    List<String> p = new ArrayList<>();
    Path disk = m.dir().dataDisk();
    if (!Files.exists(disk)) {
      p.add("the data disk " + disk + " is missing (the machine's data is gone: delete the machine and create it again)");
    } else if (checkDisk) {
      Tools.Result r = Tools.run(List.of(QEMU_IMG, "check", "-q", "-f", "qcow2", disk.toString()), 120);
      // qemu-img check: 0 clean, 3 leaked clusters only (harmless), 2 corrupt, 1 not checkable (not qcow2)
      if (r.exit() == 2) {
        p.add("the data disk " + disk + " is corrupt (`qemu-img check -r all " + disk + "` may repair it): " + r.output());
      } else if (r.exit() != 0 && r.exit() != 3) {
        p.add("the data disk " + disk + " is not a readable qcow2 image: " + r.output());
      }
    }
    Path key = m.dir().sshPublicKey();
    if (!Files.isRegularFile(key) || Files.readString(key, StandardCharsets.UTF_8).isBlank()) {
      p.add("the machine's SSH public key " + key + " is missing (it is made when the machine is created)");
    }
    for (MachineConfig.Share s : shares(m)) {
      if (!Files.isDirectory(Path.of(s.source()))) {
        p.add("the shared directory " + s.source() + " no longer exists");
      }
    }
    return p;
  }

  private static List<MachineConfig.Share> shares(Machine m) {
    return m.config().shares() == null ? List.of() : m.config().shares();
  }

  private String domainType(String accel, Path kernel) {
    if (!"auto".equals(accel) || Accel.isMac()) {
      return Accel.domainType(accel, kernel, qemuBinary());
    }
    return probedTypes.computeIfAbsent(kernel.toString(), k -> Accel.domainType(accel, kernel, qemuBinary()));
  }

  private static String qemuBinary() {
    return "aarch64".equals(arch()) ? "qemu-system-aarch64" : "qemu-system-x86_64";
  }

  private static String arch() {
    String a = System.getProperty("os.arch", "");
    return a.equals("aarch64") || a.equals("arm64") ? "aarch64" : "x86_64";
  }

  DomainSpec spec(Machine m, BootImage boot, String type, int sshPort, Optional<String> uuid) throws IOException {
    List<DomainSpec.Share> shares = new ArrayList<>();
    List<MachineConfig.Share> configured = shares(m);
    for (int i = 0; i < configured.size(); i++) {
      MachineConfig.Share s = configured.get(i);
      shares.add(new DomainSpec.Share(Path.of(s.source()), DomainSpec.shareTag(i),
          s.target() == null ? s.source() : s.target()));
    }
    String key = Files.readString(m.dir().sshPublicKey(), StandardCharsets.UTF_8);
    DomainSpec.ShareType shareType = session ? DomainSpec.ShareType.NINE_P : DomainSpec.ShareType.VIRTIOFS;
    String cmdline = DomainSpec.cmdline(arch(), key, "/dev/vda", shareType, shares,
        m.config().kernelArgs() == null ? List.of() : m.config().kernelArgs());
    Optional<String> owner = Optional.empty();
    if (!Accel.isMac() && !session) {
      owner = Optional.of("+" + Files.getAttribute(m.dir().path(), "unix:uid") + ":+"
          + Files.getAttribute(m.dir().path(), "unix:gid"));
    }
    return new DomainSpec(domainName(m), m.name(), m.dir().path(), type, arch(), m.config().cpus(),
        m.config().memoryMib(), boot.kernel(), boot.initrd(), boot.opt(), cmdline, m.dir().dataDisk(), m.dir().consoleLog(),
        shares, sshPort, shareType, Files.isExecutable(VIRTIOFSD) ? Optional.of(VIRTIOFSD) : Optional.empty(), owner, uuid);
  }

  /** Where libvirt keeps QEMU's own output for the machine's domain. */
  private Path qemuLog(Machine m) {
    if (!session) {
      return Path.of("/var/log/libvirt/qemu", domainName(m) + ".log");
    }
    String cache = System.getenv("XDG_CACHE_HOME");
    Path base = cache != null && !cache.isBlank() ? Path.of(cache) : berth.vm.MachineStore.userHome().resolve(".cache");
    return base.resolve("libvirt/qemu/log").resolve(domainName(m) + ".log");
  }

  /** Keeps the previous boot's console log as console.log.1, so the log shows the current boot. */
  private static void rotateConsoleLog(Machine m) throws IOException {
    Path log = m.dir().consoleLog();
    if (Files.exists(log)) {
      Files.move(log, m.dir().previousConsoleLog(), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static boolean waitInactive(Domain d, Duration timeout) throws LibvirtException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      if (!DomainStates.of(d).active()) {
        return true;
      }
      if (System.nanoTime() >= deadline) {
        return false;
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
  }

  private static void undefineQuietly(Domain d) {
    try {
      d.undefine();
    } catch (LibvirtException e) {
      // nothing more to undo
    }
  }

  /** A handle whose future completes when the machine's domain stops; one watch per running machine. */
  private RunningMachine watch(Machine m) {
    CompletableFuture<Integer> f = watches.compute(m.name(),
        (k, old) -> old != null && !old.isDone() ? old : newWatch(domainName(m)));
    return () -> f;
  }

  private CompletableFuture<Integer> newWatch(String domainName) {
    CompletableFuture<Integer> f = new CompletableFuture<>();
    ScheduledFuture<?> task = WATCHERS.scheduleWithFixedDelay(() -> {
      try {
        Domain d = lookup(connection(), domainName);
        if (d == null) {
          f.complete(0);
          return;
        }
        DomainStates.StateReason s = DomainStates.of(d);
        if (!s.active()) {
          f.complete(s.stoppedReason().isEmpty() ? 0 : 1);
        }
      } catch (IllegalStateException e) {
        f.cancel(false); // the driver was closed
      } catch (Exception e) {
        // libvirtd unreachable for now: QEMU keeps running without it, so keep watching
      }
    }, 1, 1, TimeUnit.SECONDS);
    f.whenComplete((v, e) -> task.cancel(false));
    return f;
  }

  private static String quote(String s) {
    return "\"" + s + "\"";
  }
}
