package berth.engine.network;

import berth.engine.api.http.ApiJson;
import berth.engine.api.networks.NetworksBackend;
import berth.engine.api.types.Filters;
import berth.engine.api.types.HostConfig;
import berth.engine.api.types.NetworkCreateRequest;
import berth.engine.api.types.NetworkingConfig.EndpointIpamConfig;
import berth.engine.api.types.NetworkingConfig.EndpointSettings;
import berth.engine.config.Cidr;
import berth.engine.config.EngineConfig;
import berth.engine.errdefs.EngineException;
import berth.engine.events.EventBus;
import berth.engine.network.dns.EmbeddedDns;
import berth.engine.store.AtomicFiles;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Docker's networking model: the predefined bridge, host and none networks, user-defined bridges, an endpoint
 * (veth, address, MAC, default route) per container and network in a namespace of its own, published ports
 * (kernel DNAT, a held host socket), and the embedded DNS for user-defined networks. Networks are kept under
 * {@code network/<id>.json}; what runs (sandboxes) is rebuilt from the container records after a restart.
 *
 * <p>Locking: the service's monitor guards its maps and the address allocator; the slow work (ip, iptables
 * processes) runs outside it. Callers that change a container hold that container's lock first.
 */
public final class NetworkService implements NetworksBackend, EmbeddedDns.Directory {
  private static final Logger LOG = Logger.getLogger(NetworkService.class.getName());
  private static final Set<String> LIST_FILTERS = Set.of("dangling", "driver", "id", "label", "name", "scope",
      "type");
  private static final String DEFAULT_BRIDGE_IF = "berth0";
  private static final SecureRandom RANDOM = new SecureRandom();

  /** How {@link #connect} and {@link #disconnect} reach a container: under its lock, via the container service. */
  public interface Containers {
    void connect(String container, Network network, EndpointSettings settings);

    void disconnect(String container, Network network, boolean force);
  }

  /** What a container's start needs from its networks. */
  public record Attachment(Path netns, Map<String, EndpointSettings> networks,
      Map<String, List<HostConfig.PortBinding>> ports, boolean embeddedDns, List<String> ownIps) {}

  private final Path dir;
  private final Path netnsDir;
  private final EventBus events;
  private final Ipam ipam;
  private final Firewall firewall;
  /** Made with the first container on a user-defined network: its thread and selector cost memory. */
  private EmbeddedDns dns;
  private final Object dnsLock = new Object();
  // Written under the monitor; read without it by the DNS thread (lookup, reverse, upstreams), which must never
  // wait for the monitor: detach waits for the DNS thread while others may hold the monitor.
  private final Map<String, Network> networks = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, Sandbox> sandboxes = new java.util.concurrent.ConcurrentHashMap<>();
  private Containers containers;
  private final Path forwardingFile;
  /** Set once {@link #start()} has brought everything up: only then has {@link #close()} anything to undo. */
  private volatile boolean started;

  /** A running container's network state. */
  private static final class Sandbox {
    final String id;
    volatile String name;
    final Path netns;
    final HostConfig hostConfig;
    final Map<String, Endpoint> endpoints = new java.util.concurrent.ConcurrentHashMap<>(); // by network ID
    final List<PortReservations.Reservation> reservations = new ArrayList<>();
    final List<Firewall.Mapping> mappings = new ArrayList<>();
    Set<String> exposed = Set.of();
    Network portNetwork;
    String routeNetwork; // the network the default route goes through (dockerd's gateway endpoint)
    boolean dns;

    Sandbox(String id, String name, Path netns, HostConfig hostConfig) {
      this.id = id;
      this.name = name;
      this.netns = netns;
      this.hostConfig = hostConfig;
    }
  }

  /** One interface of a sandbox on one network. */
  private record Endpoint(String networkId, String ifName, long ip, String mac, String endpointId,
      List<String> dnsNames, String hostIf) {}

  public NetworkService(Path dir, Path execRoot, List<EngineConfig.AddressPool> pools, EventBus events)
      throws IOException {
    this.dir = dir;
    this.netnsDir = execRoot.resolve("netns");
    this.events = events;
    this.ipam = new Ipam(pools);
    this.firewall = new Firewall(null);
    Files.createDirectories(dir);
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
      for (Path p : ds) {
        try {
          Network n = ApiJson.MAPPER.readValue(p.toFile(), Network.class);
          networks.put(n.id(), n);
        } catch (IOException e) {
          LOG.warning("ignoring unreadable network record " + p + ": " + e.getMessage());
        }
      }
    }
    this.forwardingFile = execRoot.resolve("forward-policy"); // what forwarding was before Berth, across restarts
    predefine();
  }

  /**
   * Brings the networks up on the host: the namespace directory, every bridge network's bridge, the firewall
   * (forwarding on safely, Berth's chains, every bridge's rules in one save and one restore). Separate from the
   * constructor so the engine can build the rest of itself while the firewall's processes run; until it has
   * returned nothing may attach a container. A failed start undoes its namespace directory and leaves
   * {@link #close()} with nothing to do.
   */
  public void start() throws IOException {
    Links.preparePrivateDir(netnsDir);
    try {
      if (Files.exists(forwardingFile)) {
        firewall.rememberForwarding(Files.readString(forwardingFile).strip());
      }
      List<Firewall.Bridge> bridges = new ArrayList<>();
      for (Network n : networks.values()) {
        if (n.isBridge()) {
          linkUp(n);
          ipam.reserve(n.id(), n.subnet().gatewayIp());
          bridges.add(bridgeOf(n));
        }
      }
      firewall.start(bridges);
      if (firewall.forwardingChangedFrom() != null && !Files.exists(forwardingFile)) {
        AtomicFiles.write(forwardingFile, firewall.forwardingChangedFrom().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      started = true;
    } catch (IOException | RuntimeException e) {
      // a half-made service is never closed: its private bind mount of netns/ must not outlive the failed start
      // (seen when another engine's bridge appeared meanwhile: "RTNETLINK answers: File exists")
      try {
        berth.engine.sys.Posix.umount2(netnsDir, berth.engine.sys.Posix.MNT_DETACH);
        Files.deleteIfExists(netnsDir);
      } catch (IOException undo) {
        e.addSuppressed(undo);
      }
      throw e;
    }
  }

  private EmbeddedDns dns() {
    synchronized (dnsLock) {
      if (dns == null) {
        dns = new EmbeddedDns(this);
      }
      return dns;
    }
  }

  public void setContainers(Containers c) {
    this.containers = c;
  }

  private void predefine() throws IOException {
    if (byName("host") == null) {
      save(new Network(newId(), "host", "host", Instant.now().toString(), false, false, false, List.of(), Map.of(),
          Map.of(), null));
    }
    if (byName("none") == null) {
      save(new Network(newId(), "none", "null", Instant.now().toString(), false, false, false, List.of(), Map.of(),
          Map.of(), null));
    }
    if (byName(Network.DEFAULT_BRIDGE) == null) {
      Cidr c = ipam.nextSubnet(takenSubnets(null));
      Map<String, String> o = new TreeMap<>();
      o.put("com.docker.network.bridge.default_bridge", "true");
      o.put("com.docker.network.bridge.enable_icc", "true");
      o.put("com.docker.network.bridge.enable_ip_masquerade", "true");
      o.put("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0");
      o.put("com.docker.network.bridge.name", DEFAULT_BRIDGE_IF);
      o.put("com.docker.network.driver.mtu", "1500");
      save(new Network(newId(), Network.DEFAULT_BRIDGE, "bridge", Instant.now().toString(), false, false, false,
          List.of(new Network.Subnet(c.toString(), "", NetworkAddresses.ip(c.address() + 1), false)), o, Map.of(),
          DEFAULT_BRIDGE_IF));
    }
  }

  private void bringUp(Network n) throws IOException {
    linkUp(n);
    firewall.addNetwork(bridgeOf(n));
    ipam.reserve(n.id(), n.subnet().gatewayIp());
  }

  /** The network's Linux bridge, up with its gateway address. */
  private static void linkUp(Network n) throws IOException {
    Network.Subnet s = n.subnet();
    Links.ensureBridge(n.bridge(), s.gateway() + "/" + s.cidr().prefix(), n.mtu());
  }

  private static Firewall.Bridge bridgeOf(Network n) {
    return new Firewall.Bridge(n.bridge(), n.subnet().cidr().toString(), n.internal());
  }

  /** Subnets a new network must not overlap: every network's, and the host's routes not through our bridges. */
  private List<Cidr> takenSubnets(String except) {
    Set<String> ours = new HashSet<>();
    List<Cidr> taken = new ArrayList<>();
    for (Network n : networks.values()) {
      if (n.bridge() != null) {
        ours.add(n.bridge());
      }
      if (!n.id().equals(except)) {
        n.subnets().forEach(s -> taken.add(s.cidr()));
      }
    }
    taken.addAll(Ipam.hostRoutes(ours));
    return taken;
  }

  // ---- the API -----------------------------------------------------------------------------------

  @Override
  public synchronized List<Map<String, Object>> list(Filters filters) {
    filters.validate(LIST_FILTERS);
    List<Map<String, Object>> out = new ArrayList<>();
    for (Network n : networks.values()) {
      if (matches(n, filters)) {
        out.add(json(n, false));
      }
    }
    return out;
  }

  private boolean matches(Network n, Filters f) {
    if (f.has("name") && f.get("name").stream().noneMatch(v -> match(v, n.name()))) {
      return false;
    }
    if (f.has("id") && f.get("id").stream().noneMatch(v -> n.id().startsWith(v) || match(v, n.id()))) {
      return false;
    }
    if (f.has("driver") && !f.get("driver").contains(n.driver())) {
      return false;
    }
    if (f.has("scope") && !f.get("scope").contains("local")) {
      return false;
    }
    if (f.has("type") && f.get("type").stream().noneMatch(t -> t.equals(n.predefined() ? "builtin" : "custom"))) {
      return false;
    }
    if (f.has("dangling")) {
      boolean dangling = !n.predefined() && !inUse(n.id());
      if (f.get("dangling").stream().noneMatch(v -> (v.equals("true") || v.equals("1")) == dangling)) {
        return false;
      }
    }
    return f.matchLabels("label", n.labels());
  }

  /** moby's filters.Args.Match: equal, or the value is a regular expression found in the source. */
  private static boolean match(String value, String source) {
    if (value.equals(source)) {
      return true;
    }
    try {
      return java.util.regex.Pattern.compile(value).matcher(source).find();
    } catch (java.util.regex.PatternSyntaxException e) {
      return false;
    }
  }

  @Override
  public synchronized Map<String, Object> inspect(String ref, boolean verbose) {
    return json(find(ref), true);
  }

  private Map<String, Object> json(Network n, boolean withContainers) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("Name", n.name());
    m.put("Id", n.id());
    m.put("Created", n.created());
    m.put("Scope", "local");
    m.put("Driver", n.driver());
    m.put("EnableIPv4", true);
    m.put("EnableIPv6", n.enableIpv6());
    Map<String, Object> ipamJson = new LinkedHashMap<>();
    ipamJson.put("Driver", "default");
    ipamJson.put("Options", n.predefined() ? null : Map.of());
    List<Map<String, Object>> cfg = new ArrayList<>();
    for (Network.Subnet s : n.subnets()) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("Subnet", s.subnet());
      if (s.ipRange() != null && !s.ipRange().isEmpty()) {
        e.put("IPRange", s.ipRange());
      }
      e.put("Gateway", s.gateway());
      cfg.add(e);
    }
    ipamJson.put("Config", cfg);
    m.put("IPAM", ipamJson);
    m.put("Internal", n.internal());
    m.put("Attachable", n.attachable());
    m.put("Ingress", false);
    m.put("ConfigFrom", Map.of("Network", ""));
    m.put("ConfigOnly", false);
    Map<String, Object> cs = new LinkedHashMap<>();
    if (withContainers) {
      for (Sandbox sb : sandboxes.values()) {
        Endpoint ep = sb.endpoints.get(n.id());
        if (ep != null) {
          Map<String, Object> c = new LinkedHashMap<>();
          c.put("Name", sb.name);
          c.put("EndpointID", ep.endpointId());
          c.put("MacAddress", ep.mac());
          c.put("IPv4Address", NetworkAddresses.ip(ep.ip()) + "/" + n.subnet().cidr().prefix());
          c.put("IPv6Address", "");
          cs.put(sb.id, c);
        }
      }
    }
    m.put("Containers", cs);
    m.put("Options", n.options() == null ? Map.of() : n.options());
    m.put("Labels", n.labels() == null ? Map.of() : n.labels());
    return m;
  }

  /** By full ID, name, or unique ID prefix; 404 "network X not found" otherwise (Docker's text). */
  public synchronized Network find(String ref) {
    Network n = networks.get(ref);
    if (n == null) {
      n = byName(ref);
    }
    if (n == null && !ref.isEmpty()) {
      List<Network> p = networks.values().stream().filter(x -> x.id().startsWith(ref)).toList();
      if (p.size() > 1) {
        throw EngineException.invalid("network %s is ambiguous (%d matches found based on ID prefix)", ref,
            p.size());
      }
      n = p.isEmpty() ? null : p.get(0);
    }
    if (n == null) {
      throw EngineException.notFound("network %s not found", ref);
    }
    return n;
  }

  private Network byName(String name) {
    for (Network n : networks.values()) {
      if (n.name().equals(name)) {
        return n;
      }
    }
    return null;
  }

  @Override
  public String create(NetworkCreateRequest r) {
    String name = r.name() == null ? "" : r.name();
    if (name.isEmpty()) {
      throw EngineException.invalid("network name must not be empty");
    }
    String driver = r.driver() == null || r.driver().isEmpty() ? "bridge" : r.driver();
    switch (driver) {
      case "bridge" -> { }
      case "host", "null" -> throw EngineException.forbidden("only one instance of \"%s\" network is allowed",
          driver.equals("null") ? "none" : driver);
      case "overlay" -> throw EngineException.unavailable("This node is not a swarm manager. Use \"docker swarm "
          + "init\" or \"docker swarm join\" to connect this node to swarm and try again.");
      default -> throw EngineException.notFound("plugin \"%s\" not found", driver);
    }
    if (Boolean.TRUE.equals(r.enableIpv6())) {
      throw EngineException.invalid("IPv6 networks are not supported by this engine yet");
    }
    if (Boolean.TRUE.equals(r.configOnly()) || Boolean.TRUE.equals(r.ingress())) {
      throw EngineException.invalid("config-only and ingress networks are not supported by this engine");
    }
    Map<String, String> options = r.options() == null ? Map.of() : new TreeMap<>(r.options());
    String id = newId();
    String bridge = options.getOrDefault("com.docker.network.bridge.name", "br-" + id.substring(0, 12));
    if (bridge.isEmpty() || bridge.length() > 15 || !bridge.matches("[A-Za-z0-9_.-]+")) {
      throw EngineException.invalid("invalid bridge name %s: at most 15 letters, digits, '-', '_' or '.'", bridge);
    }
    checkOptions(options);
    List<NetworkCreateRequest.IpamConfig> asked = r.ipam() == null || r.ipam().config() == null ? List.of()
        : r.ipam().config();
    if (r.ipam() != null && r.ipam().driver() != null && !r.ipam().driver().isEmpty()
        && !r.ipam().driver().equals("default")) {
      throw EngineException.notFound("plugin \"%s\" not found", r.ipam().driver());
    }
    if (asked.size() > 1) {
      throw EngineException.invalid("this engine supports one IPv4 subnet per network");
    }
    Network n;
    synchronized (this) {
      if (byName(name) != null) {
        throw EngineException.conflict("network with name %s already exists", name);
      }
      for (Network x : networks.values()) {
        if (bridge.equals(x.bridge())) {
          throw EngineException.conflict("bridge name %s is already used by network %s", bridge, x.name());
        }
      }
      if (Links.exists(bridge)) { // never take over (and later delete) an interface Berth did not make
        throw EngineException.conflict("an interface named %s already exists on the host", bridge);
      }
      Network.Subnet s = asked.isEmpty() ? auto() : validated(asked.get(0));
      n = new Network(id, name, driver, Instant.now().toString(), Boolean.TRUE.equals(r.internal()),
          Boolean.TRUE.equals(r.attachable()), false, List.of(s), options,
          r.labels() == null ? Map.of() : new TreeMap<>(r.labels()), bridge);
      try {
        save(n); // first: a crash before the bridge exists leaves a record the next start completes
        bringUp(n);
      } catch (IOException | RuntimeException e) {
        teardownQuietly(n);
        throw EngineException.system("could not create network " + name + ": " + e.getMessage(), e);
      }
    }
    events.publish("network", "create", id, Map.of("name", name, "type", driver));
    return id;
  }

  /** Bridge driver options that are applied, or refused when Berth cannot honour them (never ignored). */
  private static void checkOptions(Map<String, String> o) {
    String mtu = o.get("com.docker.network.driver.mtu");
    if (mtu != null && !mtu.isEmpty()) {
      int m;
      try {
        m = Integer.parseInt(mtu);
      } catch (NumberFormatException e) {
        m = -1;
      }
      if (m < 68 || m > 65535) {
        throw EngineException.invalid("invalid MTU %s: it must be a number from 68 to 65535", mtu);
      }
    }
    String hb = o.get("com.docker.network.bridge.host_binding_ipv4");
    if (hb != null && !hb.isEmpty() && Cidr.parseIp(hb) < 0) {
      throw EngineException.invalid("invalid host binding address %s", hb);
    }
    for (String k : List.of("com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade")) {
      String v = o.get(k);
      if (v != null && !v.isEmpty() && !Boolean.parseBoolean(v)) {
        throw EngineException.invalid("option %s=%s is not supported by this engine yet", k, v);
      }
    }
  }

  private Network.Subnet auto() {
    Cidr c = ipam.nextSubnet(takenSubnets(null));
    return new Network.Subnet(c.toString(), "", NetworkAddresses.ip(c.address() + 1), false);
  }

  private Network.Subnet validated(NetworkCreateRequest.IpamConfig a) {
    if (a.auxiliaryAddresses() != null && !a.auxiliaryAddresses().isEmpty()) {
      throw EngineException.invalid("auxiliary addresses (--aux-address) are not supported by this engine yet");
    }
    String subnet = a.subnet() == null ? "" : a.subnet();
    if (subnet.isEmpty()) {
      if (a.ipRange() != null && !a.ipRange().isEmpty() || a.gateway() != null && !a.gateway().isEmpty()) {
        throw EngineException.invalid("invalid pool request: the subnet is required with an ip-range or gateway");
      }
      return auto();
    }
    Cidr c = Cidr.parse(subnet);
    if (c == null) {
      if (subnet.contains(":")) {
        throw EngineException.invalid("IPv6 networks are not supported by this engine yet");
      }
      throw EngineException.invalid("invalid network config:\ninvalid subnet %s : invalid CIDR address: %s", subnet,
          subnet);
    }
    if (c.prefix() > 30) {
      throw EngineException.invalid("invalid network config:\nsubnet %s is too small: it leaves no address for "
          + "containers", subnet);
    }
    for (Cidr t : takenSubnets(null)) {
      if (Ipam.overlaps(t, c)) {
        throw EngineException.forbidden("invalid pool request: Pool overlaps with other one on this address space");
      }
    }
    String range = a.ipRange() == null ? "" : a.ipRange();
    if (!range.isEmpty()) {
      Cidr rc = Cidr.parse(range);
      if (rc == null) {
        throw EngineException.invalid("invalid network config:\ninvalid ip-range %s : invalid CIDR address: %s",
            range, range);
      }
      if (rc.prefix() < c.prefix() || !c.contains(rc.address())) {
        throw EngineException.invalid("invalid network config:\ninvalid ip-range %s: it must be a subset of the "
            + "subnet %s", range, c);
      }
    }
    String gw = a.gateway() == null ? "" : a.gateway();
    long g;
    if (gw.isEmpty()) {
      g = c.address() + 1;
    } else {
      g = Cidr.parseIp(gw);
      if (g < 0) {
        throw EngineException.invalid("invalid network config:\ninvalid gateway address %s", gw);
      }
      if (!c.contains(g)) {
        throw EngineException.invalid("invalid network config:\nno matching subnet for gateway %s", gw);
      }
      if (g == c.address() || g == c.address() + (1L << (32 - c.prefix())) - 1) {
        throw EngineException.invalid("invalid network config:\ngateway %s is the subnet's network or broadcast "
            + "address", gw);
      }
    }
    return new Network.Subnet(c.toString(), range.isEmpty() ? "" : Cidr.parse(range).toString(),
        NetworkAddresses.ip(g));
  }

  @Override
  public void remove(String ref) {
    Network n;
    synchronized (this) {
      n = find(ref);
      if (n.predefined()) {
        throw EngineException.forbidden("%s is a pre-defined network and cannot be removed", n.name());
      }
      List<String> users = users(n.id());
      if (!users.isEmpty()) {
        throw EngineException.forbidden("error while removing network: network %s has active endpoints (%s)",
            n.name(), String.join(", ", users));
      }
      try {
        teardown(n);
      } catch (IOException e) {
        throw EngineException.system("could not remove network " + n.name() + ": " + e.getMessage(), e);
      }
    }
    events.publish("network", "destroy", n.id(), Map.of("name", n.name(), "type", n.driver()));
  }

  private void teardown(Network n) throws IOException {
    if (n.isBridge() && n.bridge() != null) {
      firewall.removeNetwork(bridgeOf(n));
      if (Links.ours(n.bridge())) {
        Links.deleteLink(n.bridge());
      }
    }
    ipam.forget(n.id());
    Files.deleteIfExists(dir.resolve(n.id() + ".json"));
    networks.remove(n.id());
  }

  private void teardownQuietly(Network n) {
    try {
      teardown(n);
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.WARNING, "could not undo network " + n.name(), e);
    }
  }

  private List<String> users(String networkId) {
    List<String> out = new ArrayList<>();
    for (Sandbox sb : sandboxes.values()) {
      if (sb.endpoints.containsKey(networkId)) {
        out.add("name:\"" + sb.name + "\" id:\"" + sb.id.substring(0, 12) + "\"");
      }
    }
    return out;
  }

  private boolean inUse(String networkId) {
    return sandboxes.values().stream().anyMatch(sb -> sb.endpoints.containsKey(networkId));
  }

  @Override
  public List<String> prune(Filters filters) {
    filters.validate(Set.of("until", "label", "label!"));
    long until = filters.has("until") ? Filters.untilNano(filters.get("until").iterator().next()) : Long.MAX_VALUE;
    List<Network> candidates;
    synchronized (this) {
      candidates = networks.values().stream().filter(n -> !n.predefined() && !inUse(n.id())
          && filters.matchLabels("label", n.labels()) && !negLabel(filters, n.labels())
          && Instant.parse(n.created()).toEpochMilli() * 1_000_000L < until).toList();
    }
    List<String> removed = new ArrayList<>();
    for (Network n : candidates) {
      try {
        remove(n.id());
        removed.add(n.name());
      } catch (EngineException e) {
        LOG.fine("prune kept " + n.name() + ": " + e.getMessage());
      }
    }
    events.publish("network", "prune", "", Map.of("reclaimed", "0"));
    return removed;
  }

  private static boolean negLabel(Filters f, Map<String, String> labels) {
    if (!f.has("label!")) {
      return false;
    }
    for (String v : f.get("label!")) {
      int eq = v.indexOf('=');
      String k = eq < 0 ? v : v.substring(0, eq);
      if (labels.containsKey(k) && (eq < 0 || labels.get(k).equals(v.substring(eq + 1)))) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void connect(String network, String container, EndpointSettings settings) {
    containers.connect(container, find(network), settings);
  }

  @Override
  public void disconnect(String network, String container, boolean force) {
    containers.disconnect(container, find(network), force);
  }

  // ---- containers: create --------------------------------------------------------------------------

  /** The network a container's NetworkMode names: bridge for "" and "default". */
  public static String modeNetwork(HostConfig hc) {
    String m = hc.networkMode();
    return m == null || m.isEmpty() || m.equals("default") ? Network.DEFAULT_BRIDGE : m;
  }

  /**
   * Checks a new container's networking and returns its endpoints keyed by network name, as
   * {@code NetworkSettings.Networks} shows them before the first start. {@code container:} modes have none.
   */
  public synchronized Map<String, EndpointSettings> plan(HostConfig hc, Map<String, EndpointSettings> asked,
      String legacyMac) {
    String mode = modeNetwork(hc);
    Map<String, EndpointSettings> in = new LinkedHashMap<>();
    if (asked != null) {
      asked.forEach((k, v) -> in.put(k.equals("default") ? Network.DEFAULT_BRIDGE : k, v));
    }
    Map<String, EndpointSettings> out = new LinkedHashMap<>();
    if (mode.startsWith("container:")) {
      if (!in.isEmpty()) {
        throw EngineException.invalid("conflicting options: container type network can't be used with multiple "
            + "networks");
      }
      return out;
    }
    Network primary = findOrNull(mode);
    if (primary == null) {
      // as dockerd: the create succeeds, the start says "network X not found" (a 404 here would make the
      // CLI think the image is missing and try to pull it)
      out.put(mode, unresolved(in.get(mode), legacyMac));
      return out;
    }
    List<Map.Entry<String, Network>> all = new ArrayList<>();
    all.add(Map.entry(mode, primary));
    for (String k : in.keySet()) {
      Network n = findOrNull(k);
      if (n == null) {
        out.put(k, unresolved(in.get(k), null));
      } else if (!n.id().equals(primary.id())) {
        all.add(Map.entry(k, n));
      }
    }
    boolean special = !primary.isBridge();
    if (special && all.size() > 1) {
      throw EngineException.invalid(primary.name().equals("none")
          ? "container cannot be connected to multiple networks with one of the networks in private (none) mode"
          : "container sharing network namespace with another container or host cannot be connected to any other "
              + "network");
    }
    for (Map.Entry<String, Network> e : all) {
      Network n = e.getValue();
      EndpointSettings s = in.get(e.getKey());
      if (s == null && n == primary) {
        s = in.get(n.name()) != null ? in.get(n.name()) : in.get(n.id());
      }
      String mac = s != null && s.macAddress() != null && !s.macAddress().isEmpty() ? s.macAddress()
          : n == primary && legacyMac != null && !legacyMac.isEmpty() ? legacyMac : "";
      out.put(n.name(), validatedEndpoint(n, s, mac));
    }
    return out;
  }

  private Network findOrNull(String ref) {
    try {
      return find(ref);
    } catch (EngineException e) {
      if (e.kind() == berth.engine.errdefs.ErrorKind.NOT_FOUND) {
        return null;
      }
      throw e;
    }
  }

  /** An endpoint on a network that does not exist (yet): resolved by name at start. */
  private static EndpointSettings unresolved(EndpointSettings s, String mac) {
    return new EndpointSettings(s == null ? null : s.ipamConfig(), s == null ? null : s.links(),
        s != null && s.macAddress() != null ? s.macAddress() : mac == null ? "" : mac,
        s == null ? null : s.aliases(), s == null ? null : s.driverOpts(), s == null ? null : s.gwPriority(), "", "",
        "", "", 0, "", "", 0, null);
  }

  /** Checks the settings of one more network for an existing container ({@code docker network connect}). */
  public EndpointSettings planEndpoint(Network n, EndpointSettings s) {
    return validatedEndpoint(n, s, s == null || s.macAddress() == null ? "" : s.macAddress());
  }

  private EndpointSettings validatedEndpoint(Network n, EndpointSettings s, String mac) {
    EndpointIpamConfig ipc = s == null ? null : s.ipamConfig();
    String ip = ipc == null || ipc.ipv4Address() == null ? "" : ipc.ipv4Address();
    List<String> aliases = s == null || s.aliases() == null ? List.of() : s.aliases();
    if (!ip.isEmpty()) {
      if (!n.userDefined()) {
        throw EngineException.invalid("invalid endpoint settings:\nuser specified IP address is supported on user "
            + "defined networks only");
      }
      if (!n.subnet().userConfigured()) {
        throw EngineException.invalid("invalid endpoint settings:\nuser specified IP address is supported only when "
            + "connecting to networks with user configured subnets");
      }
      long a = Cidr.parseIp(ip);
      if (a < 0) {
        throw EngineException.invalid("invalid endpoint settings:\ninvalid IPv4 address: %s", ip);
      }
      if (!n.subnet().cidr().contains(a)) {
        throw EngineException.invalid("invalid endpoint settings:\nno configured subnet or ip-range contain the IP "
            + "address %s", ip);
      }
    }
    if (ipc != null && ipc.ipv6Address() != null && !ipc.ipv6Address().isEmpty()) {
      throw EngineException.invalid("invalid endpoint settings:\nIPv6 addresses are not supported by this engine yet");
    }
    if (!aliases.isEmpty() && !n.userDefined()) {
      throw EngineException.invalid("network-scoped aliases are only supported for user-defined networks");
    }
    if (!mac.isEmpty() && !NetworkAddresses.validMac(mac)) {
      throw EngineException.invalid("invalid MAC address: %s", mac);
    }
    if (!mac.isEmpty() && !n.isBridge()) {
      throw EngineException.invalid("conflicting options: mac-address and the network mode");
    }
    return new EndpointSettings(ipc, s == null ? null : s.links(), mac, aliases.isEmpty() ? null : aliases,
        s == null ? null : s.driverOpts(), s == null ? null : s.gwPriority(), n.id(), "", "", "", 0, "", "", 0,
        null);
  }

  // ---- containers: start, stop, restore ------------------------------------------------------------

  /** The default bridge's gateway: what {@code host-gateway} in {@code --add-host} stands for. */
  public synchronized String hostGateway() {
    Network b = byName(Network.DEFAULT_BRIDGE);
    return b == null ? null : b.subnet().gateway();
  }

  /**
   * Sets up a container's networks before its process starts: for bridge networks a namespace of its own
   * with an endpoint per network, its published ports and (on user-defined networks) the embedded DNS. Host
   * and none need nothing here (null namespace: runc makes none's). Undoes everything on failure.
   */
  public Attachment attach(String id, String name, HostConfig hc, Map<String, EndpointSettings> eps,
      Set<String> exposed) throws IOException {
    Network primary;
    List<Network> nets = new ArrayList<>();
    detach(id); // a stale sandbox of an earlier run
    synchronized (this) {
      Map<String, EndpointSettings> resolved = new LinkedHashMap<>();
      for (Map.Entry<String, EndpointSettings> x : eps.entrySet()) {
        EndpointSettings e = x.getValue();
        Network n = e.networkId() == null || e.networkId().isEmpty() ? null : networks.get(e.networkId());
        if (n == null) {
          n = find(x.getKey()); // removed and made again under its name, or made after the container: 404 if not
          e = validatedEndpoint(n, e, e.macAddress() == null ? "" : e.macAddress());
        }
        nets.add(n);
        resolved.put(n.name(), e);
      }
      eps = resolved;
      if (nets.isEmpty() || !nets.get(0).isBridge()) {
        // host and none: no interface of ours, but an endpoint ID for each run, as dockerd shows
        Map<String, EndpointSettings> plain = new LinkedHashMap<>();
        eps.forEach((k, e) -> plain.put(k, new EndpointSettings(e.ipamConfig(), e.links(), e.macAddress(),
            e.aliases(), e.driverOpts(), e.gwPriority(), e.networkId(), HexFormat.of().formatHex(randomBytes(32)), "",
            "", 0, "", "", 0, e.dnsNames())));
        return new Attachment(null, plain, Map.of(), false, List.of());
      }
      // ports are published on the first network with a way out, as dockerd's gateway endpoint
      primary = nets.stream().filter(n -> !n.internal()).findFirst().orElse(null);
    }
    Sandbox sb = new Sandbox(id, name, netnsDir.resolve(id), hc);
    sb.exposed = exposed == null ? Set.of() : exposed;
    boolean ok = false;
    try {
      Links.createNetns(sb.netns);
      synchronized (this) {
        sandboxes.put(id, sb);
      }
      int i = 0;
      Map<String, EndpointSettings> out = new LinkedHashMap<>();
      boolean routed = false;
      for (Map.Entry<String, EndpointSettings> e : eps.entrySet()) {
        Network n = nets.get(i);
        boolean route = !routed && !n.internal();
        Endpoint ep = plug(sb, n, e.getValue(), "eth" + i, route, name, id);
        if (route) {
          sb.routeNetwork = n.id();
        }
        routed |= !n.internal();
        out.put(n.name(), settings(n, e.getValue(), ep));
        i++;
      }
      Map<String, List<HostConfig.PortBinding>> ports = primary != null ? publish(sb, primary, hc, exposed)
          : unpublished(hc, exposed);
      if (nets.stream().anyMatch(Network::userDefined)) {
        dns().attach(id, sb.netns);
        sb.dns = true;
      }
      ok = true;
      for (Network n : nets) {
        events.publish("network", "connect", n.id(), Map.of("container", id, "name", n.name(), "type", n.driver()));
      }
      List<String> ips = sb.endpoints.values().stream().map(ep -> NetworkAddresses.ip(ep.ip())).toList();
      return new Attachment(sb.netns, out, ports, sb.dns, ips);
    } finally {
      if (!ok) {
        if (!undo(id, true) && Files.exists(sb.netns)) {
          Links.deleteNetns(sb.netns);
        }
      }
    }
  }

  /** An endpoint: an address, a veth pair into the sandbox, registered for DNS. */
  private Endpoint plug(Sandbox sb, Network n, EndpointSettings s, String ifName, boolean route, String name,
      String id) throws IOException {
    List<String> dnsNames = new ArrayList<>();
    if (n.userDefined()) {
      dnsNames.add(name);
      dnsNames.add(id.substring(0, 12));
      if (s.aliases() != null) {
        for (String a : s.aliases()) {
          if (!dnsNames.contains(a)) {
            dnsNames.add(a);
          }
        }
      }
    }
    String hostIf = "veth" + HexFormat.of().formatHex(randomBytes(4)).substring(0, 7);
    Endpoint ep;
    synchronized (this) {
      // recorded before the links exist, so a concurrent network rm sees the network in use
      if (!networks.containsKey(n.id())) {
        throw EngineException.notFound("network %s not found", n.name());
      }
      String want = s.ipamConfig() == null ? null : s.ipamConfig().ipv4Address();
      long ip = ipam.allocate(n.id(), n.subnet(), want == null || want.isEmpty() ? -1 : Cidr.parseIp(want));
      String mac = s.macAddress() != null && !s.macAddress().isEmpty() ? s.macAddress().toLowerCase()
          : NetworkAddresses.mac(ip);
      ep = new Endpoint(n.id(), ifName, ip, mac, HexFormat.of().formatHex(randomBytes(32)), dnsNames, hostIf);
      sb.endpoints.put(n.id(), ep);
    }
    try {
      Links.addEndpoint(sb.netns, n.bridge(), hostIf, ifName, NetworkAddresses.ip(ep.ip()) + "/"
          + n.subnet().cidr().prefix(), ep.mac(), route ? n.subnet().gateway() : null, n.mtu());
    } catch (IOException | RuntimeException e) {
      synchronized (this) {
        sb.endpoints.remove(n.id());
        ipam.release(n.id(), ep.ip());
      }
      throw e;
    }
    return ep;
  }

  private static EndpointSettings settings(Network n, EndpointSettings s, Endpoint ep) {
    return new EndpointSettings(s.ipamConfig(), s.links(), ep.mac(), s.aliases(), s.driverOpts(), s.gwPriority(),
        n.id(), ep.endpointId(), n.subnet().gateway(), NetworkAddresses.ip(ep.ip()), n.subnet().cidr().prefix(), "",
        "", 0, ep.dnsNames().isEmpty() ? null : ep.dnsNames());
  }

  /** Endpoint settings as a stopped container shows them: the configuration, no address. */
  public static Map<String, EndpointSettings> cleared(Map<String, EndpointSettings> eps) {
    Map<String, EndpointSettings> out = new LinkedHashMap<>();
    eps.forEach((k, s) -> out.put(k, new EndpointSettings(s.ipamConfig(), s.links(), macConfigured(s), s.aliases(),
        s.driverOpts(), s.gwPriority(), s.networkId(), "", "", "", 0, "", "", 0, null)));
    return out;
  }

  private static String macConfigured(EndpointSettings s) {
    return s.macAddress() == null ? "" : s.macAddress();
  }

  /**
   * Published ports: {@code -p} bindings, and with {@code -P} every exposed port to an ephemeral one. Each host
   * port is held by a bound socket and DNATed to the container's address on its first network.
   */
  private Map<String, List<HostConfig.PortBinding>> publish(Sandbox sb, Network n, HostConfig hc,
      Set<String> exposed) throws IOException {
    try {
      return publishOnce(sb, n, hc, exposed);
    } catch (IOException | RuntimeException e) { // a port taken half-way: nothing of this call stays
      if (sb.portNetwork != null) {
        try {
          firewall.removePorts(bridgeOf(sb.portNetwork), sb.mappings);
        } catch (IOException x) {
          LOG.log(Level.WARNING, "could not remove the port rules of " + sb.id, x);
        }
      }
      sb.reservations.forEach(PortReservations.Reservation::close);
      sb.reservations.clear();
      sb.mappings.clear();
      sb.portNetwork = null;
      throw e;
    }
  }

  private Map<String, List<HostConfig.PortBinding>> publishOnce(Sandbox sb, Network n, HostConfig hc,
      Set<String> exposed) throws IOException {
    Map<String, List<HostConfig.PortBinding>> asked = new TreeMap<>();
    if (exposed != null) {
      exposed.forEach(p -> asked.put(p, null));
    }
    if (hc.portBindings() != null) {
      hc.portBindings().forEach((p, b) -> asked.put(p.contains("/") ? p : p + "/tcp", b));
    }
    boolean all = Boolean.TRUE.equals(hc.publishAllPorts());
    Endpoint ep = sb.endpoints.get(n.id());
    String cip = NetworkAddresses.ip(ep.ip());
    Map<String, List<HostConfig.PortBinding>> out = new TreeMap<>(PORT_ORDER);
    for (Map.Entry<String, List<HostConfig.PortBinding>> e : asked.entrySet()) {
      String[] pp = e.getKey().split("/", 2);
      String proto = pp.length > 1 ? pp[1] : "tcp";
      int cport = parsePort(pp[0]);
      List<HostConfig.PortBinding> bs = e.getValue();
      if ((bs == null || bs.isEmpty()) && all) {
        bs = List.of(new HostConfig.PortBinding("", ""));
      }
      if (bs == null || bs.isEmpty()) {
        out.put(e.getKey(), null);
        continue;
      }
      if (!proto.equals("tcp") && !proto.equals("udp")) {
        throw EngineException.invalid("unsupported protocol %s for port %s (tcp and udp are)", proto, e.getKey());
      }
      List<HostConfig.PortBinding> got = new ArrayList<>();
      for (HostConfig.PortBinding b : bs) {
        String hip = b.hostIp() == null || b.hostIp().isEmpty() ? n.hostBinding() : b.hostIp();
        if (hip.contains(":")) {
          continue; // IPv6 host addresses: not published (IPv6 is not supported yet)
        }
        if (Cidr.parseIp(hip) < 0) {
          throw EngineException.invalid("invalid host IP address %s for port %s", hip, e.getKey());
        }
        int[] range = hostRange(b.hostPort());
        String what = hip + ":" + (b.hostPort() == null || b.hostPort().isEmpty() ? "0" : b.hostPort()) + ":" + cip
            + ":" + cport + "/" + proto;
        PortReservations.Reservation r = PortReservations.reserve(proto, hip, range[0], range[1], what);
        sb.reservations.add(r);
        sb.mappings.add(new Firewall.Mapping(proto, hip, r.port(), cip, cport));
        got.add(new HostConfig.PortBinding(hip, Integer.toString(r.port())));
      }
      out.put(e.getKey(), got);
    }
    if (!sb.mappings.isEmpty()) {
      sb.portNetwork = n; // first: rules a failed call half-made are removed with the rest
      firewall.addPorts(bridgeOf(n), sb.mappings);
    }
    return out;
  }

  /** Ports when only internal networks are connected: exposed and asked for, published nowhere. */
  private static Map<String, List<HostConfig.PortBinding>> unpublished(HostConfig hc, Set<String> exposed) {
    Map<String, List<HostConfig.PortBinding>> out = new TreeMap<>(PORT_ORDER);
    if (exposed != null) {
      exposed.forEach(p -> out.put(p, null));
    }
    if (hc.portBindings() != null) {
      hc.portBindings().keySet().forEach(p -> out.put(p.contains("/") ? p : p + "/tcp", null));
    }
    return out;
  }

  /** "80/tcp" before "443/tcp" before "53/udp": by number, then protocol. */
  static final java.util.Comparator<String> PORT_ORDER = java.util.Comparator
      .comparingInt((String p) -> parsePortQuietly(p.split("/", 2)[0])).thenComparing(p -> p);

  private static int parsePortQuietly(String s) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      return Integer.MAX_VALUE;
    }
  }

  private static int parsePort(String s) {
    try {
      int p = Integer.parseInt(s);
      if (p >= 1 && p <= 65535) {
        return p;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw EngineException.invalid("invalid port specification: \"%s\"", s);
  }

  private static int[] hostRange(String hp) {
    if (hp == null || hp.isEmpty() || hp.equals("0")) {
      return new int[] {0, 0};
    }
    int dash = hp.indexOf('-');
    if (dash < 0) {
      int p = parsePort(hp);
      return new int[] {p, p};
    }
    int a = parsePort(hp.substring(0, dash));
    int b = parsePort(hp.substring(dash + 1));
    if (b < a) {
      throw EngineException.invalid("invalid port range: %s", hp);
    }
    return new int[] {a, b};
  }

  /** Undoes {@link #attach}: DNS, ports, addresses, veths and the namespace. Idempotent. */
  public void detach(String id) {
    undo(id, false);
  }

  /**
   * Takes the sandbox out under the monitor, then undoes it outside (the DNS thread and the tools must not be
   * waited for under the monitor). The veths are deleted explicitly: a {@code container:} joiner may keep the
   * namespace alive, and its address goes back to the pool now. Returns whether there was a sandbox.
   */
  private boolean undo(String id, boolean quiet) {
    Sandbox sb;
    synchronized (this) {
      sb = sandboxes.remove(id);
      if (sb == null) {
        return false;
      }
    }
    if (sb.dns) {
      dns().detach(id);
    }
    if (sb.portNetwork != null) {
      try {
        firewall.removePorts(bridgeOf(sb.portNetwork), sb.mappings);
      } catch (IOException e) {
        LOG.log(Level.WARNING, "could not remove the port rules of " + id, e);
      }
    }
    sb.reservations.forEach(PortReservations.Reservation::close);
    try {
      boolean guessed = sb.endpoints.values().stream().anyMatch(ep -> ep.hostIf() == null); // names after a restore
      Links.removeEndpoints(sb.netns, guessed ? Links.interfaces(sb.netns)
          : sb.endpoints.values().stream().map(Endpoint::ifName).toList());
    } catch (IOException e) {
      LOG.log(Level.FINE, "could not delete the interfaces of " + id, e);
    }
    try {
      Links.deleteNetns(sb.netns);
    } catch (IOException e) {
      LOG.log(Level.WARNING, "could not remove the network namespace of " + id, e);
    }
    synchronized (this) {
      for (Endpoint ep : sb.endpoints.values()) {
        ipam.release(ep.networkId(), ep.ip());
      }
    }
    if (!quiet) {
      for (String nid : sb.endpoints.keySet()) {
        Network n = networks.get(nid);
        if (n != null) {
          events.publish("network", "disconnect", nid, Map.of("container", id, "name", n.name(), "type",
              n.driver()));
        }
      }
    }
    return true;
  }

  /**
   * Takes back a container that ran on while the engine was down (live restore): its addresses, ports (held
   * and DNATed again: the chains were flushed at start) and DNS. Its namespace and veths are still there.
   */
  public void restore(String id, String name, HostConfig hc, Map<String, EndpointSettings> eps,
      Map<String, List<HostConfig.PortBinding>> ports) {
    Path netns = netnsDir.resolve(id);
    if (!Files.exists(netns)) {
      return; // host, none or container mode: nothing of ours
    }
    Sandbox sb = new Sandbox(id, name, netns, hc);
    Network primary = null;
    synchronized (this) {
      int i = 0;
      for (EndpointSettings s : eps.values()) {
        Network n = networks.get(s.networkId());
        long ip = s.ipAddress() == null ? -1 : Cidr.parseIp(s.ipAddress());
        if (n == null || ip < 0) {
          continue;
        }
        ipam.reserve(n.id(), ip);
        sb.endpoints.put(n.id(), new Endpoint(n.id(), "eth" + i++, ip, s.macAddress(), s.endpointId(),
            s.dnsNames() == null ? List.of() : s.dnsNames(), null));
        primary = primary == null && !n.internal() ? n : primary;
        sb.routeNetwork = primary == null ? null : primary.id();
        sb.dns |= n.userDefined();
      }
      sandboxes.put(id, sb);
    }
    try {
      if (primary != null && ports != null) {
        String cip = NetworkAddresses.ip(sb.endpoints.get(primary.id()).ip());
        for (Map.Entry<String, List<HostConfig.PortBinding>> e : ports.entrySet()) {
          if (e.getValue() == null) {
            continue;
          }
          String[] pp = e.getKey().split("/", 2);
          for (HostConfig.PortBinding b : e.getValue()) {
            int hp = Integer.parseInt(b.hostPort());
            String proto = pp.length > 1 ? pp[1] : "tcp";
            try {
              sb.reservations.add(PortReservations.reserve(proto, b.hostIp(), hp, hp, b.hostIp() + ":" + hp));
              sb.mappings.add(new Firewall.Mapping(proto, b.hostIp(), hp, cip, Integer.parseInt(pp[0])));
            } catch (EngineException x) { // another program took the port while the engine was down: it keeps it
              LOG.warning("port " + b.hostIp() + ":" + hp + " of " + name + " is no longer published: "
                  + x.getMessage());
            }
          }
        }
        if (!sb.mappings.isEmpty()) {
          sb.portNetwork = primary;
          firewall.addPorts(bridgeOf(primary), sb.mappings);
        }
      }
      if (sb.dns) {
        dns().attach(id, netns);
      }
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.WARNING, "could not restore the network of " + name, e);
    }
  }

  /** Removes namespaces no running container owns (a crash between a container's exit and its cleanup). */
  public void sweep() {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(netnsDir)) {
      for (Path p : ds) {
        boolean live;
        synchronized (this) {
          live = sandboxes.containsKey(p.getFileName().toString());
        }
        if (!live) {
          Links.deleteNetns(p);
        }
      }
    } catch (IOException e) {
      LOG.log(Level.WARNING, "could not sweep " + netnsDir, e);
    }
  }

  /** A rename: DNS answers the new name at once. */
  public synchronized void renamed(String id, String newName) {
    Sandbox sb = sandboxes.get(id);
    if (sb == null) {
      return;
    }
    sb.name = newName;
    for (Map.Entry<String, Endpoint> e : sb.endpoints.entrySet()) {
      Endpoint ep = e.getValue();
      if (!ep.dnsNames().isEmpty()) {
        List<String> names = new ArrayList<>(ep.dnsNames());
        names.set(0, newName);
        e.setValue(new Endpoint(ep.networkId(), ep.ifName(), ep.ip(), ep.mac(), ep.endpointId(), names, ep.hostIf()));
      }
    }
  }

  // ---- connect and disconnect of a running container ---------------------------------------------

  /** What a connect changed: the endpoint, and the published ports if they were published now (else null). */
  public record Connected(EndpointSettings settings, Map<String, List<HostConfig.PortBinding>> ports,
      boolean dnsStarted) {}

  /**
   * Plugs a running container into one more network. A container whose networks were all internal gets its
   * ports published on this one if it has a way out (dockerd's gateway endpoint moves the same way).
   */
  public Connected connectRunning(String id, Network n, EndpointSettings s) throws IOException {
    Sandbox sb = sandboxes.get(id);
    if (sb == null) {
      throw EngineException.invalid("container sharing network namespace with another container or host cannot "
          + "be connected to any other network");
    }
    String ifName = Links.freeName(sb.netns, "eth"); // from the links present: a restore does not know them all
    boolean route = !n.internal() && sb.endpoints.values().stream().map(ep -> networks.get(ep.networkId()))
        .allMatch(x -> x == null || x.internal());
    Endpoint ep = plug(sb, n, s, ifName, route, sb.name, id);
    if (route) {
      sb.routeNetwork = n.id();
    }
    boolean dnsStarted = false;
    if (n.userDefined() && !sb.dns) {
      try {
        dns().attach(id, sb.netns);
        sb.dns = true;
        dnsStarted = true;
      } catch (IOException | RuntimeException e) {
        unplug(id, n);
        throw e;
      }
    }
    Map<String, List<HostConfig.PortBinding>> ports = null;
    if (!n.internal() && sb.portNetwork == null && route) {
      try {
        ports = publish(sb, n, sb.hostConfig, sb.exposed);
      } catch (IOException | RuntimeException e) {
        unplug(id, n);
        throw e;
      }
    }
    events.publish("network", "connect", n.id(), Map.of("container", id, "name", n.name(), "type", n.driver()));
    return new Connected(settings(n, s, ep), ports, dnsStarted);
  }

  /**
   * Unplugs a running container from a network. If the default route or the published ports went through it,
   * they move to the next network with a way out, as dockerd's gateway endpoint does. Returns the published
   * ports when they changed (empty when they are gone), else null.
   */
  public Map<String, List<HostConfig.PortBinding>> disconnectRunning(String id, Network n) throws IOException {
    Map<String, List<HostConfig.PortBinding>> ports = unplug(id, n);
    events.publish("network", "disconnect", n.id(), Map.of("container", id, "name", n.name(), "type", n.driver()));
    return ports;
  }

  private Map<String, List<HostConfig.PortBinding>> unplug(String id, Network n) throws IOException {
    Endpoint ep;
    Sandbox sb;
    boolean ports = false;
    List<Firewall.Mapping> mappings = List.of();
    List<PortReservations.Reservation> held = List.of();
    synchronized (this) {
      sb = sandboxes.get(id);
      ep = sb == null ? null : sb.endpoints.remove(n.id());
      if (ep == null) {
        return null;
      }
      if (sb.portNetwork != null && sb.portNetwork.id().equals(n.id())) {
        ports = true;
        mappings = List.copyOf(sb.mappings);
        held = List.copyOf(sb.reservations);
        sb.reservations.clear();
        sb.mappings.clear();
        sb.portNetwork = null;
      }
    }
    try {
      if (ports) {
        firewall.removePorts(bridgeOf(n), mappings);
      }
      Links.removeEndpoint(sb.netns, interfaceOf(sb.netns, ep));
    } finally {
      held.forEach(PortReservations.Reservation::close);
      synchronized (this) {
        ipam.release(n.id(), ep.ip()); // only now: the interface holding the address is gone
      }
    }
    Network next = sb.endpoints.values().stream().map(e -> networks.get(e.networkId()))
        .filter(x -> x != null && !x.internal()).findFirst().orElse(null);
    if (n.id().equals(sb.routeNetwork)) {
      sb.routeNetwork = null;
      if (next != null) {
        Links.defaultRoute(sb.netns, next.subnet().gateway(), interfaceOf(sb.netns, sb.endpoints.get(next.id())));
        sb.routeNetwork = next.id();
      }
    }
    if (!ports) {
      return null;
    }
    return next == null ? Map.of() : publish(sb, next, sb.hostConfig, sb.exposed);
  }

  /** The interface holding the endpoint's address (after a restore the names are not known for sure). */
  private static String interfaceOf(Path netns, Endpoint ep) throws IOException {
    String want = " " + NetworkAddresses.ip(ep.ip()) + "/";
    for (String line : Links.addresses(netns).split("\n")) {
      if (line.contains(want)) {
        String[] f = line.trim().split("\\s+");
        return f[1];
      }
    }
    return ep.ifName();
  }

  // ---- the embedded DNS's view: called on the DNS thread, never taking the monitor ------------------

  @Override
  public List<Inet4Address> lookup(String containerId, String name) {
    Sandbox me = sandboxes.get(containerId);
    if (me == null) {
      return null;
    }
    List<Inet4Address> out = new ArrayList<>();
    boolean known = false;
    for (String nid : me.endpoints.keySet()) {
      Network n = networks.get(nid);
      if (n == null || !n.userDefined()) {
        continue;
      }
      String bare = name;
      String suffix = "." + n.name().toLowerCase();
      if (name.endsWith(suffix)) {
        bare = name.substring(0, name.length() - suffix.length());
      }
      for (Sandbox sb : sandboxes.values()) {
        Endpoint ep = sb.endpoints.get(nid);
        if (ep == null) {
          continue;
        }
        for (String dn : ep.dnsNames()) {
          if (dn.equalsIgnoreCase(name) || dn.equalsIgnoreCase(bare)) {
            known = true;
            Inet4Address a = inet(ep.ip());
            if (!out.contains(a)) {
              out.add(a);
            }
            break;
          }
        }
      }
    }
    return known ? out : null;
  }

  @Override
  public String reverse(String containerId, Inet4Address address) {
    Sandbox me = sandboxes.get(containerId);
    if (me == null) {
      return null;
    }
    long ip = Cidr.parseIp(address.getHostAddress());
    for (String nid : me.endpoints.keySet()) {
      Network n = networks.get(nid);
      if (n == null || !n.userDefined()) {
        continue;
      }
      for (Sandbox sb : sandboxes.values()) {
        Endpoint ep = sb.endpoints.get(nid);
        if (ep != null && ep.ip() == ip) {
          return sb.name + "." + n.name();
        }
      }
    }
    return null;
  }

  @Override
  public List<InetSocketAddress> upstreams(String containerId) {
    Sandbox me = sandboxes.get(containerId);
    if (me == null) {
      return List.of();
    }
    boolean external = me.endpoints.keySet().stream().map(networks::get)
        .anyMatch(n -> n != null && !n.internal());
    return external ? EtcFiles.upstreams(me.hostConfig.dns()) : List.of();
  }

  private static Inet4Address inet(long ip) {
    try {
      return (Inet4Address) InetAddress.getByAddress(new byte[] {(byte) (ip >> 24), (byte) (ip >> 16),
          (byte) (ip >> 8), (byte) ip});
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- engine stop ---------------------------------------------------------------------------------

  /**
   * Engine shutdown. With no container left running, Berth leaves no trace on the host: bridges, rules and the
   * namespace directory go (they are made again at the next start). With live containers everything stays.
   */
  public void close() {
    if (!started) {
      return;
    }
    synchronized (dnsLock) {
      if (dns != null) {
        dns.close();
      }
    }
    boolean idle;
    synchronized (this) {
      idle = sandboxes.isEmpty();
      sandboxes.values().forEach(sb -> sb.reservations.forEach(PortReservations.Reservation::close));
    }
    if (!idle) {
      return;
    }
    try {
      firewall.tearDown();
      Files.deleteIfExists(forwardingFile);
    } catch (IOException e) {
      LOG.log(Level.WARNING, "could not remove the firewall rules", e);
    }
    for (Network n : networks.values()) {
      if (n.bridge() != null) {
        try {
          if (Links.ours(n.bridge())) {
            Links.deleteLink(n.bridge());
          }
        } catch (IOException e) {
          LOG.log(Level.WARNING, "could not remove bridge " + n.bridge(), e);
        }
      }
    }
    try {
      berth.engine.sys.Posix.umount2(netnsDir, berth.engine.sys.Posix.MNT_DETACH);
      Files.deleteIfExists(netnsDir);
    } catch (IOException e) {
      LOG.log(Level.FINE, "could not remove " + netnsDir, e);
    }
  }

  // ---- records -------------------------------------------------------------------------------------

  private void save(Network n) throws IOException {
    AtomicFiles.write(dir.resolve(n.id() + ".json"), ApiJson.MAPPER.writeValueAsBytes(n));
    networks.put(n.id(), n);
  }

  private static String newId() {
    return HexFormat.of().formatHex(randomBytes(32));
  }

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }
}
