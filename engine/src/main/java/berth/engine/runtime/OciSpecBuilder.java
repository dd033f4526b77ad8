package berth.engine.runtime;

import berth.engine.api.types.ContainerConfig;
import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.types.HostConfig;
import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Translates a Docker create request, with its image's config, into the OCI runtime spec runc runs,
 * applying Docker's defaults and security settings as moby's {@code daemon/oci_linux.go} and
 * {@code daemon/pkg/oci/defaults.go} do. Pure: it reads nothing from the host beyond what
 * {@link HostFacts} and {@link Inputs} carry, so it needs no root and no running container.
 *
 * <p>Every field is validated before anything is reported: when several are bad, one
 * {@code INVALID_PARAMETER} {@link EngineException} lists each problem on its own line, each worded as
 * dockerd words it. Thread-safe.
 */
public final class OciSpecBuilder {
  static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  static final long DEFAULT_SHM_SIZE = 64L << 20;
  static final long MIN_MEMORY = 6L << 20;
  /**
   * Docker's RLIMIT_NOFILE (1048576), capped at the engine's own hard limit: a process without
   * CAP_SYS_RESOURCE in its user namespace cannot raise it, and runc then refuses to start the container.
   */
  static final long DEFAULT_NOFILE = Math.min(1048576, ownNofileHardLimit());
  static final String INIT_PATH = "/sbin/docker-init";

  /** Docker's default capabilities ({@code daemon/pkg/oci/caps/defaults.go}), in Docker's order. */
  public static final List<String> DEFAULT_CAPABILITIES = List.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID",
      "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE");

  /** Every capability Linux defines, indexed by number (include/uapi/linux/capability.h, up to 6.x). */
  static final List<String> KNOWN_CAPABILITIES = List.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
      "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
      "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN",
      "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
      "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
      "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE");

  static final List<String> DEFAULT_MASKED_PATHS = List.of("/proc/asound", "/proc/acpi", "/proc/kcore",
      "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap");

  static final List<String> DEFAULT_READONLY_PATHS = List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
      "/proc/sysrq-trigger");

  private static final Set<String> ULIMITS = Set.of("as", "core", "cpu", "data", "fsize", "locks", "memlock",
      "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack");
  private static final Set<String> IPC_SYSCTLS = Set.of("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
      "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced");
  private static final Set<String> PROPAGATIONS = Set.of("private", "rprivate", "shared", "rshared", "slave",
      "rslave");
  private static final Pattern CGROUP_RULE = Pattern.compile("^([acb]) ([0-9]+|\\*):([0-9]+|\\*) ([rwm]{1,3})$");

  private final HostFacts host;

  public OciSpecBuilder(HostFacts host) {
    this.host = Objects.requireNonNull(host);
  }

  /**
   * Facts about the host the spec is for.
   *
   * @param cpus CPUs the engine may use (bounds NanoCpus and CpusetCpus)
   * @param capabilities the capabilities a container can be given: those the kernel knows that are also in
   *     the engine's own bounding set, in number order. A privileged container gets all of them; naming
   *     any other in CapAdd is an error, as in moby's {@code caps.NormalizeLegacyCapabilities}.
   * @param kernelVersion the kernel release, e.g. "6.1.0-18-amd64" (seccomp rules with a minimum kernel)
   * @param cgroupV2 whether cgroups are a unified v2 hierarchy (cgroup namespace default, OOM-kill knobs)
   * @param hostname the host's name: the default hostname of a container on the host network
   * @param goArch the architecture in Go's naming ("amd64"), for seccomp
   */
  public record HostFacts(int cpus, List<String> capabilities, String kernelVersion, boolean cgroupV2,
      String hostname, String goArch) {

    public HostFacts {
      capabilities = List.copyOf(capabilities);
    }

    /** The facts of the machine this JVM runs on. */
    public static HostFacts current() {
      String arch = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> "amd64";
        case "aarch64" -> "arm64";
        case "x86", "i386" -> "386";
        default -> System.getProperty("os.arch");
      };
      return new HostFacts(Runtime.getRuntime().availableProcessors(), availableCapabilities(),
          berth.engine.sys.Host.kernelVersion(), berth.engine.sys.Host.cgroupVersion().equals("2"),
          berth.engine.sys.Host.hostname(), arch);
    }

    /**
     * Capabilities 0..cap_last_cap that are in this process's bounding set (moby's {@code caps.initCaps}
     * does the same, so that Docker-in-Docker with fewer capabilities works); every known one if
     * /proc cannot be read.
     */
    static List<String> availableCapabilities() {
      int last = KNOWN_CAPABILITIES.size() - 1;
      long bounding = -1;
      try {
        // Not Files.readString: on JDK 17 it truncates /proc files, whose size reads as 0 ("40" became "4").
        last = Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/kernel/cap_last_cap")).get(0).trim());
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
          if (line.startsWith("CapBnd:")) {
            bounding = Long.parseUnsignedLong(line.substring(7).trim(), 16);
          }
        }
      } catch (IOException | RuntimeException e) {
        // Fall back to every capability we know; runc reports one the kernel lacks.
      }
      List<String> caps = new ArrayList<>();
      for (int i = 0; i <= Math.min(last, KNOWN_CAPABILITIES.size() - 1); i++) {
        if ((bounding & (1L << i)) != 0) {
          caps.add(KNOWN_CAPABILITIES.get(i));
        }
      }
      return caps;
    }
  }

  /**
   * A bind mount already resolved to a host path (from {@code Binds}, {@code Mounts} or a volume).
   * Propagation is one of private, rprivate, shared, rshared, slave, rslave; null means rprivate.
   */
  public record BindMount(String source, String destination, boolean readOnly, String propagation) {}

  /**
   * A device node to create in the container, with the device-cgroup access ({@code rwm} subset) to grant
   * it. The caller stats the host device ({@code --device}); for a privileged container it passes every
   * host device, and the access is ignored because privileged containers may use any device.
   */
  public record DeviceMapping(OciSpec.Device device, String access) {}

  /**
   * What one container's spec is built from.
   *
   * @param containerId the 64-hex container ID
   * @param request the create request as the client sent it
   * @param imageConfig the {@code config} object of the image's config JSON; null or missing for none
   * @param rootfs where the runtime mounts the container's root filesystem
   * @param user the process user, from {@link UserResolver} applied to {@link #effectiveUser}
   * @param binds resolved bind mounts
   * @param namespacePaths for {@code container:<id>} modes, the nsfs path to join, keyed by OCI namespace
   *     type ("network", "ipc", "pid"), e.g. {@code /proc/1234/ns/net}
   * @param devices device nodes to create (see {@link DeviceMapping})
   * @param cgroupsPath the container's cgroup, e.g. "/berth/&lt;id&gt;"
   * @param initBinary the host path of the init ({@code tini}) that {@code --init} runs; null if none
   */
  public record Inputs(String containerId, ContainerCreateRequest request, JsonNode imageConfig, Path rootfs,
      UserResolver.ExecUser user, List<BindMount> binds, Map<String, String> namespacePaths,
      List<DeviceMapping> devices, String cgroupsPath, Path initBinary) {

    /** Inputs with no binds, namespace paths, devices or init, and cgroup "/berth/&lt;id&gt;". */
    public static Inputs of(String containerId, ContainerCreateRequest request, JsonNode imageConfig, Path rootfs,
        UserResolver.ExecUser user) {
      return new Inputs(containerId, request, imageConfig, rootfs, user, List.of(), Map.of(), List.of(),
          "/berth/" + containerId, null);
    }

    public Inputs withBinds(List<BindMount> b) {
      return new Inputs(containerId, request, imageConfig, rootfs, user, b, namespacePaths, devices, cgroupsPath,
          initBinary);
    }

    public Inputs withNamespacePaths(Map<String, String> p) {
      return new Inputs(containerId, request, imageConfig, rootfs, user, binds, p, devices, cgroupsPath, initBinary);
    }

    public Inputs withDevices(List<DeviceMapping> d) {
      return new Inputs(containerId, request, imageConfig, rootfs, user, binds, namespacePaths, d, cgroupsPath,
          initBinary);
    }

    public Inputs withCgroupsPath(String c) {
      return new Inputs(containerId, request, imageConfig, rootfs, user, binds, namespacePaths, devices, c,
          initBinary);
    }

    public Inputs withInitBinary(Path i) {
      return new Inputs(containerId, request, imageConfig, rootfs, user, binds, namespacePaths, devices, cgroupsPath,
          i);
    }
  }

  /** The {@code --user} to resolve: the request's User, else the image's (moby's {@code merge}). */
  public static String effectiveUser(ContainerConfig config, JsonNode imageConfig) {
    if (config != null && config.user() != null && !config.user().isEmpty()) {
      return config.user();
    }
    return text(imageConfig, "User", "");
  }

  /**
   * Builds the spec.
   *
   * @throws EngineException INVALID_PARAMETER listing every invalid field; UNAVAILABLE for {@code --init}
   *     without an init binary
   * @throws IllegalArgumentException if a {@code container:<id>} mode has no entry in {@code namespacePaths}
   */
  public OciSpec build(Inputs in) {
    ContainerConfig cfg = in.request().config();
    HostConfig hc = in.request().hostConfig() != null ? in.request().hostConfig() : HostConfig.empty();
    JsonNode image = in.imageConfig();
    List<String> errs = new ArrayList<>();

    // Namespace modes first: several defaults below depend on them.
    String netMode = orEmpty(hc.networkMode());
    String ipcMode = orEmpty(hc.ipcMode());
    String pidMode = orEmpty(hc.pidMode());
    String utsMode = orEmpty(hc.utsMode());
    String cgroupnsMode = orEmpty(hc.cgroupnsMode());
    boolean netHost = netMode.equals("host");
    boolean netContainer = netMode.startsWith("container:");
    if (netContainer && netMode.length() == "container:".length()) {
      errs.add("invalid container format container:<name|id>");
    }
    if (!(Set.of("", "private", "shareable", "none", "host").contains(ipcMode) || validContainerMode(ipcMode))) {
      errs.add("invalid IPC mode: " + ipcMode);
    }
    if (!(Set.of("", "host").contains(pidMode) || validContainerMode(pidMode))) {
      errs.add("invalid PID mode: " + pidMode);
    }
    if (!Set.of("", "host").contains(utsMode)) {
      errs.add("invalid UTS mode: " + utsMode);
    }
    if (!Set.of("", "host", "private").contains(cgroupnsMode)) {
      errs.add("invalid cgroup namespace mode: " + cgroupnsMode);
    }
    String hostname = orEmpty(cfg.hostname());
    if (!hostname.isEmpty() && utsMode.equals("host")) {
      errs.add("conflicting options: hostname and the UTS mode");
    }
    if (!hostname.isEmpty() && netContainer) {
      errs.add("conflicting options: hostname and the network mode");
    }
    if (hostname.length() > 64) {
      errs.add(String.format("hostname %s is too long (maximum 64 bytes)", quote(hostname)));
    }
    if (hostname.isEmpty()) {
      hostname = netHost ? host.hostname() : in.containerId().substring(0, Math.min(12, in.containerId().length()));
    }
    boolean privileged = Boolean.TRUE.equals(hc.privileged());

    // Process.
    List<String> args = args(cfg, image, errs);
    String cwd = orEmpty(cfg.workingDir());
    if (!cwd.isEmpty() && !cwd.startsWith("/")) {
      errs.add("the working directory '" + cwd + "' is invalid, it needs to be an absolute path");
    }
    if (cwd.isEmpty()) {
      cwd = text(image, "WorkingDir", "");
    }
    cwd = cwd.isEmpty() ? "/" : Path.of("/").resolve(cwd).normalize().toString();
    boolean tty = Boolean.TRUE.equals(cfg.tty());
    List<String> env = env(cfg, image, hostname, tty);
    Security sec = securityOpts(hc.securityOpt(), errs);
    List<String> caps = privileged ? allCapabilities() : capabilities(hc.capAdd(), hc.capDrop(), errs);
    List<OciSpec.Rlimit> rlimits = rlimits(hc.ulimits(), errs);
    int oomScoreAdj = hc.oomScoreAdj() == null ? 0 : hc.oomScoreAdj();
    if (oomScoreAdj < -1000 || oomScoreAdj > 1000) {
      errs.add(String.format("Invalid value %d, range for oom score adj is [-1000, 1000]", oomScoreAdj));
    }
    OciSpec.ConsoleSize consoleSize = null;
    if (tty && hc.consoleSize() != null && hc.consoleSize().size() == 2
        && (hc.consoleSize().get(0) != 0 || hc.consoleSize().get(1) != 0)) {
      consoleSize = new OciSpec.ConsoleSize(hc.consoleSize().get(0), hc.consoleSize().get(1));
    }
    boolean initWanted = Boolean.TRUE.equals(hc.init()) && (pidMode.isEmpty());
    if (initWanted && in.initBinary() != null) {
      List<String> withInit = new ArrayList<>(List.of(INIT_PATH, "--"));
      withInit.addAll(args);
      args = withInit;
    }

    // Linux.
    List<OciSpec.Mount> mounts = mounts(hc, in, ipcMode, privileged, sec.writableCgroups, initWanted, errs);
    OciSpec.Resources resources = resources(hc, in.devices(), privileged, errs);
    Map<String, String> sysctls = sysctls(cfg, hc, netMode, ipcMode, utsMode, errs);
    List<OciSpec.Namespace> namespaces = namespaces(in, netMode, ipcMode, pidMode, utsMode, cgroupnsMode, errs);
    OciSpec.Seccomp seccomp = seccomp(sec.seccomp, privileged, caps, errs);
    if (initWanted && in.initBinary() == null && errs.isEmpty()) {
      throw EngineException.unavailable("--init is not available: no init binary is configured");
    }
    if (!errs.isEmpty()) {
      throw EngineException.invalid("%s", String.join("\n", errs));
    }

    List<String> masked = hc.maskedPaths() != null ? List.copyOf(hc.maskedPaths())
        : privileged ? List.of() : DEFAULT_MASKED_PATHS;
    List<String> readonly = hc.readonlyPaths() != null ? List.copyOf(hc.readonlyPaths())
        : privileged ? List.of() : DEFAULT_READONLY_PATHS;
    List<OciSpec.Device> devices = in.devices().stream().map(DeviceMapping::device).toList();
    String rootfsPropagation = rootfsPropagation(in.binds());

    UserResolver.ExecUser u = in.user();
    var process = new OciSpec.Process(tty, consoleSize, new OciSpec.User(u.uid(), u.gid(), u.additionalGids()),
        args, env, cwd, new OciSpec.Capabilities(caps, caps, List.of(), caps, List.of()), rlimits,
        sec.noNewPrivileges ? Boolean.TRUE : null, oomScoreAdj);
    var linux = new OciSpec.Linux(sysctls.isEmpty() ? null : sysctls, resources, in.cgroupsPath(), namespaces,
        devices.isEmpty() ? null : devices, seccomp, rootfsPropagation, masked, readonly);
    Map<String, String> annotations = hc.annotations() == null || hc.annotations().isEmpty() ? null
        : new TreeMap<>(hc.annotations());
    return new OciSpec(OciSpec.VERSION, process,
        new OciSpec.Root(in.rootfs().toString(), Boolean.TRUE.equals(hc.readonlyRootfs())),
        utsMode.equals("host") ? null : hostname, mounts, annotations, linux);
  }

  // ---- process ----

  /**
   * Entrypoint + Cmd with moby's precedence ({@code daemon/commit.go merge} and
   * {@code daemon/create.go mergeAndVerifyConfig}): the image's Cmd is used only when the request gives
   * neither Entrypoint nor Cmd; the image's Entrypoint only when the request's is null (not {@code []});
   * an Entrypoint of {@code [""]} means none.
   */
  private static List<String> args(ContainerConfig cfg, JsonNode image, List<String> errs) {
    List<String> entrypoint = cfg.entrypoint();
    List<String> cmd = cfg.cmd();
    if (entrypoint == null || entrypoint.isEmpty()) {
      if (cmd == null || cmd.isEmpty()) {
        cmd = strings(image, "Cmd");
      }
      if (entrypoint == null) {
        entrypoint = strings(image, "Entrypoint");
      }
    }
    if (entrypoint != null && entrypoint.size() == 1 && entrypoint.get(0).isEmpty()) {
      entrypoint = null;
    }
    List<String> args = new ArrayList<>();
    if (entrypoint != null) {
      args.addAll(entrypoint);
    }
    if (cmd != null) {
      args.addAll(cmd);
    }
    if (args.isEmpty()) {
      errs.add("no command specified");
    }
    return args;
  }

  /**
   * The environment as moby's {@code CreateDaemonEnvironment} builds it: PATH, HOSTNAME and (with a tty)
   * TERM, then the container's Env (the request's, then the image's for keys the request lacks) replacing
   * or appending by key; an entry without "=" removes the key.
   */
  private static List<String> env(ContainerConfig cfg, JsonNode image, String hostname, boolean tty) {
    List<String> merged = new ArrayList<>(cfg.env() == null ? List.of() : cfg.env());
    Set<String> requestKeys = new LinkedHashSet<>();
    merged.forEach(e -> requestKeys.add(key(e)));
    List<String> imageEnv = strings(image, "Env");
    if (imageEnv != null) {
      for (String e : imageEnv) {
        if (!requestKeys.contains(key(e))) {
          merged.add(e);
        }
      }
    }
    LinkedHashMap<String, String> env = new LinkedHashMap<>();
    env.put("PATH", "PATH=" + DEFAULT_PATH);
    env.put("HOSTNAME", "HOSTNAME=" + hostname);
    if (tty) {
      env.put("TERM", "TERM=xterm");
    }
    for (String e : merged) {
      if (e.indexOf('=') < 0) {
        env.remove(e);
      } else {
        env.put(key(e), e);
      }
    }
    return List.copyOf(env.values());
  }

  private static String key(String envEntry) {
    int i = envEntry.indexOf('=');
    return i < 0 ? envEntry : envEntry.substring(0, i);
  }

  private record Security(boolean noNewPrivileges, String seccomp, Boolean writableCgroups) {}

  /** moby's {@code parseSecurityOpt}; AppArmor and SELinux labels are accepted and ignored. */
  private static Security securityOpts(List<String> opts, List<String> errs) {
    boolean nnp = false;
    String seccomp = null;
    Boolean writableCgroups = null;
    for (String opt : opts == null ? List.<String>of() : opts) {
      if (opt.equals("no-new-privileges")) {
        nnp = true;
        continue;
      }
      if (opt.equals("writable-cgroups")) {
        writableCgroups = true;
        continue;
      }
      if (opt.equals("disable")) {
        continue; // SELinux labelling off: there is none here
      }
      int sep = opt.indexOf('=') >= 0 ? opt.indexOf('=') : opt.indexOf(':');
      if (sep < 0) {
        errs.add("invalid --security-opt 1: " + quote(opt));
        continue;
      }
      String k = opt.substring(0, sep);
      String v = opt.substring(sep + 1);
      switch (k) {
        case "label", "apparmor" -> { } // no SELinux or AppArmor here
        case "seccomp" -> seccomp = v;
        case "no-new-privileges" -> {
          Boolean b = parseBool(v);
          if (b == null) {
            errs.add("invalid --security-opt 2: " + quote(opt));
          } else {
            nnp = b;
          }
        }
        case "writable-cgroups" -> {
          Boolean b = parseBool(v);
          if (b == null) {
            errs.add("invalid --security-opt 2: " + quote(opt));
          } else {
            writableCgroups = b;
          }
        }
        default -> errs.add("invalid --security-opt 2: " + quote(opt));
      }
    }
    return new Security(nnp, seccomp, writableCgroups);
  }

  /** Go's strconv.ParseBool. */
  private static Boolean parseBool(String v) {
    return switch (v) {
      case "1", "t", "T", "true", "TRUE", "True" -> true;
      case "0", "f", "F", "false", "FALSE", "False" -> false;
      default -> null;
    };
  }

  /** The capabilities available on this host, in number order: what a privileged container gets. */
  private List<String> allCapabilities() {
    return host.capabilities();
  }

  /** moby's {@code caps.TweakCapabilities} for an unprivileged container. */
  private List<String> capabilities(List<String> add, List<String> drop, List<String> errs) {
    if ((add == null || add.isEmpty()) && (drop == null || drop.isEmpty())) {
      return DEFAULT_CAPABILITIES;
    }
    List<String> adds = normalizeCaps(add, errs);
    List<String> drops = normalizeCaps(drop, errs);
    LinkedHashSet<String> caps = new LinkedHashSet<>();
    if (adds.contains("ALL")) {
      allCapabilities().stream().filter(c -> !drops.contains(c)).forEach(caps::add);
    } else if (drops.contains("ALL")) {
      caps.addAll(adds);
    } else {
      DEFAULT_CAPABILITIES.stream().filter(c -> !drops.contains(c)).forEach(caps::add);
      caps.addAll(adds);
    }
    return List.copyOf(caps);
  }

  private List<String> normalizeCaps(List<String> caps, List<String> errs) {
    List<String> out = new ArrayList<>();
    for (String c : caps == null ? List.<String>of() : caps) {
      c = c.toUpperCase(Locale.ROOT);
      if (c.equals("ALL")) {
        out.add(c);
        continue;
      }
      if (!c.startsWith("CAP_")) {
        c = "CAP_" + c;
      }
      if (!KNOWN_CAPABILITIES.contains(c)) {
        errs.add("unknown capability: " + quote(c));
      } else if (!host.capabilities().contains(c)) {
        errs.add("capability not supported by your kernel or not available in the current environment: "
            + quote(c));
      } else {
        out.add(c);
      }
    }
    return out;
  }

  private static long ownNofileHardLimit() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) {
          String[] f = line.substring("Max open files".length()).trim().split("\\s+");
          return f[1].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[1]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or /proc unreadable: Docker's value
    }
    return 1048576;
  }

  /** RLIMIT_NOFILE (see DEFAULT_NOFILE) unless the request sets it, then the request's ulimits. */
  private static List<OciSpec.Rlimit> rlimits(List<HostConfig.Ulimit> ulimits, List<String> errs) {
    List<OciSpec.Rlimit> out = new ArrayList<>();
    boolean nofile = false;
    for (HostConfig.Ulimit u : ulimits == null ? List.<HostConfig.Ulimit>of() : ulimits) {
      String name = orEmpty(u.name());
      long soft = u.soft() == null ? 0 : u.soft();
      long hard = u.hard() == null ? 0 : u.hard();
      if (!ULIMITS.contains(name)) {
        errs.add("invalid ulimit type: " + name);
        continue;
      }
      if (soft != -1 && hard != -1 && soft > hard || soft == -1 && hard != -1) {
        errs.add(String.format("ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard));
        continue;
      }
      nofile |= name.equals("nofile");
      out.add(new OciSpec.Rlimit("RLIMIT_" + name.toUpperCase(Locale.ROOT), hard, soft));
    }
    if (!nofile) {
      out.add(0, new OciSpec.Rlimit("RLIMIT_NOFILE", DEFAULT_NOFILE, DEFAULT_NOFILE));
    }
    return out;
  }

  // ---- mounts ----

  /**
   * Docker's default mounts, minus those a user mount replaces (and everything under /dev when the user
   * mounts /dev), then the user mounts (tmpfs, binds, init) sorted by destination depth, as moby's
   * {@code withMounts} does.
   */
  private static List<OciSpec.Mount> mounts(HostConfig hc, Inputs in, String ipcMode, boolean privileged,
      Boolean writableCgroups, boolean init, List<String> errs) {
    long shmSize = hc.shmSize() == null || hc.shmSize() == 0 ? DEFAULT_SHM_SIZE : hc.shmSize();
    if (shmSize < 0) {
      errs.add("SHM size can not be less than 0");
    }
    List<OciSpec.Mount> defaults = List.of(
        new OciSpec.Mount("/proc", "proc", "proc", List.of("nosuid", "noexec", "nodev")),
        new OciSpec.Mount("/dev", "tmpfs", "tmpfs", List.of("nosuid", "strictatime", "mode=755", "size=65536k")),
        new OciSpec.Mount("/dev/pts", "devpts", "devpts",
            List.of("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
        new OciSpec.Mount("/sys", "sysfs", "sysfs", List.of("nosuid", "noexec", "nodev", "ro")),
        new OciSpec.Mount("/sys/fs/cgroup", "cgroup", "cgroup", List.of("ro", "nosuid", "noexec", "nodev")),
        new OciSpec.Mount("/dev/mqueue", "mqueue", "mqueue", List.of("nosuid", "noexec", "nodev")),
        new OciSpec.Mount("/dev/shm", "tmpfs", "shm", List.of("nosuid", "noexec", "nodev", "mode=1777",
            "size=" + shmSize)));

    List<OciSpec.Mount> user = new ArrayList<>();
    for (Map.Entry<String, String> t : new TreeMap<>(hc.tmpfs() == null ? Map.of() : hc.tmpfs()).entrySet()) {
      String dest = t.getKey();
      if (!dest.startsWith("/")) {
        errs.add("invalid mount path: '" + dest + "' mount path must be absolute");
        continue;
      }
      if (Path.of(dest).normalize().toString().equals("/")) {
        errs.add("invalid specification: destination can't be '/'");
        continue;
      }
      List<String> opts = new ArrayList<>(List.of("noexec", "nosuid", "nodev", "rprivate"));
      if (t.getValue() != null && !t.getValue().isEmpty()) {
        opts.addAll(List.of(t.getValue().split(",")));
      }
      List<String> merged = mergeTmpfsOptions(opts, errs);
      if (merged != null) {
        user.add(new OciSpec.Mount(dest, "tmpfs", "tmpfs", merged));
      }
    }
    for (BindMount b : in.binds()) {
      String prop = b.propagation() == null || b.propagation().isEmpty() ? "rprivate" : b.propagation();
      if (!PROPAGATIONS.contains(prop)) {
        errs.add("invalid propagation mode: " + prop);
        continue;
      }
      List<String> opts = new ArrayList<>(List.of("rbind"));
      if (b.readOnly()) {
        opts.add("ro");
      }
      opts.add(prop);
      user.add(new OciSpec.Mount(b.destination(), "bind", b.source(), opts));
    }
    if (ipcMode.equals("host")) {
      // moby bind-mounts the host's /dev/shm for --ipc=host (container.ShmPath).
      user.add(new OciSpec.Mount("/dev/shm", "bind", "/dev/shm", List.of("rbind", "rprivate")));
    }
    if (init && in.initBinary() != null) {
      user.add(new OciSpec.Mount(INIT_PATH, "bind", in.initBinary().toString(), List.of("bind", "ro")));
    }
    user.sort(Comparator.comparingInt(m -> depth(m.destination())));

    Set<String> userDests = new LinkedHashSet<>();
    user.forEach(m -> userDests.add(Path.of(m.destination()).normalize().toString()));
    boolean userDev = userDests.contains("/dev");
    boolean readonlyRoot = Boolean.TRUE.equals(hc.readonlyRootfs());
    boolean writableCg = writableCgroups != null ? writableCgroups : privileged;
    List<OciSpec.Mount> out = new ArrayList<>();
    for (OciSpec.Mount m : defaults) {
      if (userDests.contains(m.destination()) || userDev && m.destination().startsWith("/dev/")
          || m.destination().equals("/dev/shm") && ipcMode.equals("none")) {
        continue;
      }
      List<String> opts = new ArrayList<>(m.options());
      if (readonlyRoot && !Set.of("/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev").contains(m.destination())
          && !opts.contains("ro")) {
        opts.add("ro");
      }
      if (privileged && m.destination().equals("/sys") || writableCg && m.type().equals("cgroup")) {
        opts.remove("ro");
      }
      out.add(new OciSpec.Mount(m.destination(), m.type(), m.source(), List.copyOf(opts)));
    }
    out.addAll(user);
    return out;
  }

  private static int depth(String dest) {
    String clean = Path.of(dest).normalize().toString();
    return (int) clean.chars().filter(c -> c == '/').count();
  }

  /**
   * moby/sys/mount's {@code MergeTmpfsOptions}: later options win over earlier ones that set the same
   * flag (noexec vs exec, ro vs rw, one propagation) or the same data key (size, mode…).
   */
  private static List<String> mergeTmpfsOptions(List<String> options, List<String> errs) {
    Set<String> flagsSeen = new java.util.HashSet<>();
    Set<String> dataSeen = new java.util.HashSet<>();
    List<String> out = new ArrayList<>();
    for (int i = options.size() - 1; i >= 0; i--) {
      String o = options.get(i);
      if (o.equals("defaults")) {
        continue;
      }
      String flag = FLAG_GROUP.get(o);
      if (flag != null) {
        if (flagsSeen.add(flag)) {
          out.add(0, o);
        }
        continue;
      }
      int eq = o.indexOf('=');
      String k = eq < 0 ? null : o.substring(0, eq);
      if (k == null || !Set.of("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol").contains(k)) {
        errs.add("invalid tmpfs option [" + (eq < 0 ? quote(o) : quote(k) + " " + quote(o.substring(eq + 1)))
            + "]");
        return null;
      }
      if (dataSeen.add(k)) {
        out.add(0, o);
      }
    }
    return out;
  }

  /** Mount flags that cancel each other map to one group (moby/sys/mount's flag bits). */
  private static final Map<String, String> FLAG_GROUP = flagGroups();

  private static Map<String, String> flagGroups() {
    Map<String, String> m = new HashMap<>();
    for (String[] g : new String[][] {{"ro", "rw"}, {"suid", "nosuid"}, {"dev", "nodev"}, {"exec", "noexec"},
        {"sync", "async"}, {"dirsync"}, {"remount"}, {"mand", "nomand"}, {"atime", "noatime"},
        {"diratime", "nodiratime"}, {"bind"}, {"rbind"}, {"relatime", "norelatime"},
        {"strictatime", "nostrictatime"},
        {"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}}) {
      for (String f : g) {
        m.put(f, g[0]);
      }
    }
    return Map.copyOf(m);
  }

  /** shared if a bind is shared, else rslave if one is a slave; null (runc's rprivate) otherwise. */
  private static String rootfsPropagation(List<BindMount> binds) {
    String p = null;
    for (BindMount b : binds) {
      String prop = orEmpty(b.propagation());
      if (prop.equals("shared") || prop.equals("rshared")) {
        return "shared";
      }
      if (prop.equals("slave") || prop.equals("rslave")) {
        p = "rslave";
      }
    }
    return p;
  }

  // ---- resources ----

  private OciSpec.Resources resources(HostConfig hc, List<DeviceMapping> devices, boolean privileged,
      List<String> errs) {
    // Memory: moby's verifyPlatformContainerResources and adaptContainerSettings.
    long memory = nz(hc.memory());
    long swap = nz(hc.memorySwap());
    long reservation = nz(hc.memoryReservation());
    if (memory != 0 && memory < MIN_MEMORY) {
      errs.add("Minimum memory limit allowed is 6MB");
    }
    if (memory > 0 && swap > 0 && swap < memory) {
      errs.add("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if (memory == 0 && swap > 0) {
      errs.add("You should always set the Memory limit when using Memoryswap limit, see usage");
    }
    if (reservation > 0 && reservation < MIN_MEMORY) {
      errs.add("Minimum memory reservation allowed is 6MB");
    }
    if (memory > 0 && reservation > 0 && memory < reservation) {
      errs.add("Minimum memory limit can not be less than memory reservation limit, see usage");
    }
    Long swappiness = hc.memorySwappiness() == null || hc.memorySwappiness() == -1 ? null : hc.memorySwappiness();
    if (swappiness != null && (swappiness < 0 || swappiness > 100)) {
      errs.add("Invalid value: " + swappiness + ", valid memory swappiness range is 0-100");
    }
    if (memory > 0 && swap == 0) {
      swap = 2 * memory; // Docker's default: as much swap as memory
    }
    // cgroup v2 has neither swappiness nor an OOM-killer switch; dockerd drops both there with a warning.
    Boolean oomKillDisable = host.cgroupV2() ? null : hc.oomKillDisable();
    OciSpec.Memory mem = new OciSpec.Memory(memory > 0 ? memory : null, reservation > 0 ? reservation : null,
        swap > 0 ? swap : null, host.cgroupV2() ? null : swappiness, oomKillDisable);
    if (mem.equals(new OciSpec.Memory(null, null, null, null, null))) {
      mem = null;
    }

    // CPU.
    long nano = nz(hc.nanoCpus());
    long period = nz(hc.cpuPeriod());
    long quota = nz(hc.cpuQuota());
    long shares = nz(hc.cpuShares());
    if (nano > 0 && period > 0) {
      errs.add("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if (nano > 0 && quota > 0) {
      errs.add("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    if (nano != 0 && (nano < 0 || nano > host.cpus() * 1_000_000_000L)) {
      errs.add(String.format("range of CPUs is from 0.01 to %1$d.00, as there are only %1$d CPUs available",
          host.cpus()));
    }
    if (period != 0 && (period < 1000 || period > 1_000_000)) {
      errs.add("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
    }
    if (quota > 0 && quota < 1000) {
      errs.add("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    if (shares < 0) {
      errs.add(String.format("invalid CPU shares (%d): value must be a positive integer", shares));
    }
    String cpus = orEmpty(hc.cpusetCpus());
    String mems = orEmpty(hc.cpusetMems());
    Set<Integer> cpuSet = parseUintList(cpus);
    if (cpuSet == null) {
      errs.add("Invalid value " + cpus + " for cpuset cpus: invalid format: " + cpus);
    } else if (cpuSet.stream().anyMatch(c -> c >= host.cpus())) {
      errs.add("Requested CPUs are not available - requested " + cpus + ", available: "
          + (host.cpus() == 1 ? "0" : "0-" + (host.cpus() - 1)));
    }
    if (parseUintList(mems) == null) {
      errs.add("Invalid value " + mems + " for cpuset mems: invalid format: " + mems);
    }
    Long cpuPeriod = null;
    Long cpuQuota = null;
    if (nano > 0) {
      cpuPeriod = 100_000L; // 100ms, as moby's getCPUResources
      cpuQuota = nano * cpuPeriod / 1_000_000_000L;
    }
    if (period != 0) {
      cpuPeriod = period;
    }
    if (quota != 0) {
      cpuQuota = quota;
    }
    OciSpec.Cpu cpu = new OciSpec.Cpu(shares > 0 ? shares : null, cpuQuota, cpuPeriod, cpus.isEmpty() ? null : cpus,
        mems.isEmpty() ? null : mems);
    if (cpu.equals(new OciSpec.Cpu(null, null, null, null, null))) {
      cpu = null;
    }

    OciSpec.Pids pids = hc.pidsLimit() == null ? null : new OciSpec.Pids(hc.pidsLimit() <= 0 ? -1 : hc.pidsLimit());

    // Devices: deny all, then the standard nodes runc creates (runtime-spec "default devices") and mknod.
    List<OciSpec.DeviceRule> rules = new ArrayList<>();
    if (privileged) {
      rules.add(new OciSpec.DeviceRule(true, null, null, null, "rwm"));
    } else {
      rules.add(new OciSpec.DeviceRule(false, null, null, null, "rwm"));
      rules.add(new OciSpec.DeviceRule(true, "c", null, null, "m"));
      rules.add(new OciSpec.DeviceRule(true, "b", null, null, "m"));
      for (long[] d : new long[][] {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}}) {
        rules.add(new OciSpec.DeviceRule(true, "c", d[0], d[1], "rwm")); // null zero full random urandom tty console ptmx
      }
      rules.add(new OciSpec.DeviceRule(true, "c", 136L, null, "rwm")); // /dev/pts/*
      for (DeviceMapping d : devices) {
        String access = orEmpty(d.access()).isEmpty() ? "rwm" : d.access();
        if (!access.matches("[rwm]{1,3}")) {
          errs.add("invalid device mode: " + access);
          continue;
        }
        rules.add(new OciSpec.DeviceRule(true, d.device().type(), d.device().major(), d.device().minor(), access));
      }
      for (String r : hc.deviceCgroupRules() == null ? List.<String>of() : hc.deviceCgroupRules()) {
        var m = CGROUP_RULE.matcher(r);
        if (!m.matches()) {
          errs.add("invalid device cgroup rule format: '" + r + "'");
          continue;
        }
        rules.add(new OciSpec.DeviceRule(true, m.group(1), m.group(2).equals("*") ? null : Long.valueOf(m.group(2)),
            m.group(3).equals("*") ? null : Long.valueOf(m.group(3)), m.group(4)));
      }
    }
    return new OciSpec.Resources(rules, mem, cpu, pids);
  }

  /** moby's {@code parsers.ParseUintList}: "0-2,4"; null if malformed, empty for "". */
  static Set<Integer> parseUintList(String val) {
    Set<Integer> out = new java.util.TreeSet<>();
    if (val.isEmpty()) {
      return out;
    }
    for (String r : val.split(",", -1)) {
      try {
        int dash = r.indexOf('-');
        if (dash < 0) {
          out.add(Integer.parseUnsignedInt(r));
        } else {
          int lo = Integer.parseUnsignedInt(r.substring(0, dash));
          int hi = Integer.parseUnsignedInt(r.substring(dash + 1));
          if (hi < lo) {
            return null;
          }
          for (int i = lo; i <= hi; i++) {
            out.add(i);
          }
        }
      } catch (NumberFormatException e) {
        return null;
      }
    }
    return out;
  }

  // ---- sysctls, namespaces, seccomp ----

  /**
   * Docker's defaults for a private network (unprivileged ping and low ports), kernel.domainname, then
   * the request's, each checked as runc's validator does: only sysctls of a namespace the container owns.
   */
  private static Map<String, String> sysctls(ContainerConfig cfg, HostConfig hc, String netMode, String ipcMode,
      String utsMode, List<String> errs) {
    Map<String, String> out = new TreeMap<>();
    boolean privateNet = !netMode.equals("host") && !netMode.startsWith("container:");
    if (privateNet) {
      out.put("net.ipv4.ping_group_range", "0 2147483647");
      out.put("net.ipv4.ip_unprivileged_port_start", "0");
    }
    if (cfg.domainname() != null && !cfg.domainname().isEmpty()) {
      out.put("kernel.domainname", cfg.domainname());
    }
    for (Map.Entry<String, String> e : new TreeMap<>(hc.sysctls() == null ? Map.of() : hc.sysctls()).entrySet()) {
      String s = e.getKey();
      if (IPC_SYSCTLS.contains(s) || s.startsWith("fs.mqueue.")) {
        if (ipcMode.equals("host")) {
          errs.add("sysctl " + quote(s) + " is not allowed in the hosts ipc namespace");
          continue;
        }
      } else if (s.startsWith("net.")) {
        if (netMode.equals("host")) {
          errs.add("sysctl " + quote(s) + " not allowed in host network namespace");
          continue;
        }
      } else if (s.equals("kernel.domainname") && !utsMode.equals("host")) {
        // namespaced, and no OCI field of its own
      } else if (s.equals("kernel.hostname") && !utsMode.equals("host")) {
        errs.add("sysctl " + quote(s) + " is not allowed as it conflicts with the OCI \"hostname\" field");
        continue;
      } else {
        errs.add("sysctl " + quote(s) + " is not in a separate kernel namespace");
        continue;
      }
      out.put(s, e.getValue());
    }
    return out;
  }

  /** mount, network, uts, pid, ipc (moby's default order), then cgroup; host modes drop theirs. */
  private List<OciSpec.Namespace> namespaces(Inputs in, String netMode, String ipcMode, String pidMode,
      String utsMode, String cgroupnsMode, List<String> errs) {
    List<OciSpec.Namespace> ns = new ArrayList<>();
    ns.add(new OciSpec.Namespace("mount", null));
    if (!netMode.equals("host")) {
      String given = in.namespacePaths().get("network"); // a namespace the engine made (bridge networks)
      ns.add(new OciSpec.Namespace("network", given != null ? given : joinPath(in, "network", netMode)));
    }
    if (!utsMode.equals("host")) {
      ns.add(new OciSpec.Namespace("uts", null));
    }
    if (!pidMode.equals("host")) {
      ns.add(new OciSpec.Namespace("pid", joinPath(in, "pid", pidMode)));
    }
    if (!ipcMode.equals("host")) {
      ns.add(new OciSpec.Namespace("ipc", joinPath(in, "ipc", ipcMode)));
    }
    // Docker's default: private on cgroup v2, host on v1 (daemon/config DefaultCgroupNamespaceMode).
    if (cgroupnsMode.equals("private") || cgroupnsMode.isEmpty() && host.cgroupV2()) {
      ns.add(new OciSpec.Namespace("cgroup", null));
    }
    return ns;
  }

  private static String joinPath(Inputs in, String type, String mode) {
    if (!validContainerMode(mode)) {
      return null;
    }
    String p = in.namespacePaths().get(type);
    if (p == null) {
      throw new IllegalArgumentException("no " + type + " namespace path given for " + mode);
    }
    return p;
  }

  private static boolean validContainerMode(String mode) {
    return mode.startsWith("container:") && mode.length() > "container:".length();
  }

  /**
   * The default profile unless {@code seccomp=unconfined} or privileged; a custom profile (the JSON
   * content the CLI sends) applies even to a privileged container, as in moby's {@code WithSeccomp}.
   */
  private OciSpec.Seccomp seccomp(String opt, boolean privileged, List<String> caps, List<String> errs) {
    if ("unconfined".equals(opt)) {
      return null;
    }
    boolean builtin = opt == null || opt.isEmpty() || opt.equals("builtin");
    if (privileged && builtin) {
      return null;
    }
    try {
      SeccompProfile p = builtin ? SeccompProfile.builtin() : SeccompProfile.parse(opt);
      return p.resolve(caps, host.kernelVersion(), host.goArch());
    } catch (EngineException e) {
      errs.add(e.getMessage());
      return null;
    }
  }

  // ---- helpers ----

  private static List<String> strings(JsonNode node, String field) {
    if (node == null || !node.hasNonNull(field)) {
      return null;
    }
    JsonNode v = node.get(field);
    List<String> out = new ArrayList<>();
    if (v.isArray()) {
      v.forEach(e -> out.add(e.asText()));
    } else {
      out.add(v.asText());
    }
    return out;
  }

  private static String text(JsonNode node, String field, String dflt) {
    return node != null && node.hasNonNull(field) ? node.get(field).asText() : dflt;
  }

  private static String orEmpty(String s) {
    return s == null ? "" : s;
  }

  private static long nz(Long v) {
    return v == null ? 0 : v;
  }

  /** Go's %q for plain strings. */
  static String quote(String s) {
    return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }
}
