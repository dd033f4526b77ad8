package berth.engine.network;

import berth.engine.sys.Command;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The iptables side of Docker-style bridge networking, with published ports done entirely in the
 * kernel (moby's {@code userland-proxy=false} mode): DNAT from the nat PREROUTING and OUTPUT chains
 * (loopback destinations included), {@code route_localnet} on the bridge plus a MASQUERADE of
 * locally-sourced packets so {@code 127.0.0.1:HP} works, hairpin NAT, masquerading of outgoing
 * traffic, isolation between networks and {@code --internal} networks.
 *
 * <p>Everything lives in Berth's own chains, reached by one jump from each built-in chain:
 *
 * <pre>
 * nat    PREROUTING  -m addrtype --dst-type LOCAL -j BERTH          DNAT of published ports
 * nat    OUTPUT      -m addrtype --dst-type LOCAL -j BERTH
 * nat    POSTROUTING -j BERTH-POSTROUTING                           masquerades
 * filter FORWARD (1) -j BERTH-FORWARD                               per-bridge policy
 *                       BERTH-FORWARD -i br ! -o br -j BERTH-ISOLATION   (-o other-br -j DROP)
 *                       BERTH-FORWARD -o br -j BERTH                     (published-port accepts)
 * filter INPUT (1)   ! -s 127/8 -d 127/8 ! -i lo, not a reply: DROP
 * </pre>
 *
 * <p>The INPUT rule and the first rule of the filter BERTH chain close the holes that
 * {@code route_localnet=1} and DNAT of loopback addresses open (kube-proxy's CVE-2020-8558): a
 * container sending to the host's 127.0.0.1, or a neighbour on the LAN sending to 127.0.0.1:HP,
 * is dropped. Published-port accepts require conntrack state DNAT, so a container port is reached
 * through its published host port only, never by routing straight to the container's address.
 *
 * <p>Every call is one {@code iptables-restore -w --noflush} run covering the nat and filter
 * tables; calls that delete read the current rules once with {@code iptables-save} first and delete
 * exactly the rules present, as printed, so removing what is already gone never fails and
 * duplicates go too. Rules the engine does not own are never touched. For own-container hairpin
 * on a host where br_netfilter is active, the engine must also turn on {@code hairpin_mode} on the
 * container's bridge port, as moby does.
 */
public final class Firewall {
  static final String NAT_PORTS = "BERTH";
  static final String NAT_POSTROUTING = "BERTH-POSTROUTING";
  static final String FORWARD = "BERTH-FORWARD";
  static final String ISOLATION = "BERTH-ISOLATION";
  static final String FILTER_PORTS = "BERTH";
  static final List<String> NAT_CHAINS = List.of(NAT_PORTS, NAT_POSTROUTING);
  static final List<String> FILTER_CHAINS = List.of(FORWARD, ISOLATION, FILTER_PORTS);

  /** A rule of a built-in chain that setUp installs exactly once; {@code top}: at position 1. */
  record Anchor(String table, String chain, String spec, boolean top) {}

  static final List<Anchor> ANCHORS = List.of(
      new Anchor("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j " + NAT_PORTS, false),
      new Anchor("nat", "OUTPUT", "-m addrtype --dst-type LOCAL -j " + NAT_PORTS, false),
      new Anchor("nat", "POSTROUTING", "-j " + NAT_POSTROUTING, false),
      new Anchor("filter", "FORWARD", "-j " + FORWARD, true),
      new Anchor("filter", "INPUT", "! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo -m conntrack"
          + " ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP", true));

  /** First rule of filter BERTH: nothing DNATed from a loopback address may be forwarded. */
  static final String NO_FORWARDED_LOOPBACK = "-m conntrack --ctorigdst 127.0.0.0/8 -j DROP";

  private static final long TIMEOUT_SECONDS = 30;
  /** iptables-restore and iptables-save of one JVM never interleave (a save-then-restore is a unit). */
  private static final Object LOCK = new Object();
  private static final Pattern IFNAME = Pattern.compile("[A-Za-z0-9_.-]{1,15}");
  private static final Pattern IPV4 = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");

  private final Path netns;
  private final String iptables;
  /** The FORWARD policy found when this firewall turned forwarding on (null: forwarding was on already). */
  private volatile String forwardPolicyBefore;

  /** netns == null: the host's namespace; otherwise every command runs under {@code nsenter --net=<netns>}. */
  public Firewall(Path netns) {
    this(netns, "iptables");
  }

  /**
   * With a given iptables: {@code iptables} (the system's choice, nft or legacy through Debian's alternatives),
   * {@code iptables-nft} or {@code iptables-legacy}; its {@code -save} and {@code -restore} are used too.
   */
  Firewall(Path netns, String iptables) {
    this.netns = netns;
    this.iptables = iptables;
  }

  /** A Berth bridge network: the Linux bridge's name, its IPv4 subnet, and whether it is internal. */
  public record Bridge(String name, String subnet, boolean internal) {
    public Bridge {
      Objects.requireNonNull(name, "name");
      if (!IFNAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
        throw new IllegalArgumentException("invalid bridge name: " + name);
      }
      subnet = canonicalSubnet(subnet);
    }
  }

  /** A published port; hostIp "" (or 0.0.0.0) means every host address. */
  public record Mapping(String proto, String hostIp, int hostPort, String containerIp, int containerPort) {
    public Mapping {
      if (!"tcp".equals(proto) && !"udp".equals(proto)) {
        throw new IllegalArgumentException("unsupported protocol: " + proto);
      }
      hostIp = hostIp == null || hostIp.isEmpty() || hostIp.equals("0.0.0.0") ? "" : ipv4(hostIp);
      containerIp = ipv4(Objects.requireNonNull(containerIp, "containerIp"));
      checkPort(hostPort);
      checkPort(containerPort);
    }
  }

  // ---------------------------------------------------------------- the API

  /** Creates and flushes Berth's chains and installs each jump exactly once. */
  public void setUp() throws IOException {
    synchronized (LOCK) {
      restore(setUpBatch(parse(save())));
    }
  }

  /**
   * The engine's start in one {@code iptables-save} and one {@code iptables-restore}: IPv4 forwarding turned on
   * safely (if it was off, the FORWARD policy becomes DROP first, moby's rule, so the host does not start routing
   * between its other interfaces; {@link #tearDown} puts both back), Berth's chains flushed and their jumps as
   * {@link #setUp} makes them, and every bridge network's rules as {@link #addNetwork} makes them; then
   * {@code route_localnet} on the bridges and forwarding on. Under emulation (a guest without KVM) each iptables
   * process costs the engine's start about a second, and separate calls made seven.
   */
  public void start(List<Bridge> bridges) throws IOException {
    boolean forwarding = readSysctl("net/ipv4/ip_forward").equals("1");
    synchronized (LOCK) {
      Saved saved = parse(save());
      restore(startBatch(saved, bridges, !forwarding));
      if (!forwarding) {
        forwardPolicyBefore = saved.policy("filter", "FORWARD");
      }
    }
    for (Bridge b : bridges) { // after the INPUT rule that closes the hole route_localnet opens
      if (!b.internal()) {
        writeSysctl("net/ipv4/conf/" + b.name() + "/route_localnet", "1");
      }
    }
    if (!forwarding) {
      writeSysctl("net/ipv4/ip_forward", "1");
    }
  }

  /** Removes every jump and chain setUp made; tolerant of their absence. */
  public void tearDown() throws IOException {
    synchronized (LOCK) {
      restore(tearDownBatch(parse(save())));
    }
    String policy = forwardPolicyBefore;
    if (policy != null) { // forwarding was off before Berth: off again, with the policy it had
      writeSysctl("net/ipv4/ip_forward", "0");
      run(List.of(binary(iptables).toString(), "-w", "-P", "FORWARD", policy), null, "iptables -P FORWARD");
      forwardPolicyBefore = null;
    }
  }

  /** Installs a network's rules, replacing any it already had. */
  public void addNetwork(Bridge b) throws IOException {
    if (!b.internal()) {
      writeSysctl("net/ipv4/conf/" + b.name() + "/route_localnet", "1");
    }
    synchronized (LOCK) {
      restore(addNetworkBatch(parse(save()), b));
    }
  }

  /** Removes a network's rules, port rules of its containers included. */
  public void removeNetwork(Bridge b) throws IOException {
    synchronized (LOCK) {
      restore(removeNetworkBatch(parse(save()), b));
    }
  }

  /** Publishes ports of a container on b; one iptables-restore, nothing read first. No-op on internal networks. */
  public void addPorts(Bridge b, List<Mapping> ms) throws IOException {
    synchronized (LOCK) {
      restore(addPortsBatch(b, ms));
    }
  }

  public void removePorts(Bridge b, List<Mapping> ms) throws IOException {
    if (ms.isEmpty()) {
      return;
    }
    synchronized (LOCK) {
      restore(removePortsBatch(parse(save()), b, ms));
    }
  }

  /** net.ipv4.ip_forward=1 in the given namespace (null: the host's). */
  public static void enableForwarding(Path netns) throws IOException {
    new Firewall(netns).writeSysctl("net/ipv4/ip_forward", "1");
  }

  /** The FORWARD policy to put back at tearDown (forwarding was off before), or null. */
  String forwardingChangedFrom() {
    return forwardPolicyBefore;
  }

  /** After an engine restart: forwarding was turned on by an earlier run, from this FORWARD policy. */
  void rememberForwarding(String policy) {
    forwardPolicyBefore = policy.isEmpty() ? null : policy;
  }

  // ---------------------------------------------------------------- rules

  static List<String> networkNat(Bridge b) {
    if (b.internal()) {
      return List.of();
    }
    String br = b.name();
    String s = b.subnet();
    return List.of(
        "-A " + NAT_POSTROUTING + " -s " + s + " ! -o " + br + " -j MASQUERADE",
        "-A " + NAT_POSTROUTING + " -o " + br + " -m addrtype --src-type LOCAL -j MASQUERADE",
        "-A " + NAT_POSTROUTING + " -s " + s + " -o " + br + " -m conntrack --ctstate DNAT -j MASQUERADE");
  }

  /** Filter rules inserted at the top of BERTH-FORWARD (drops: they must precede every accept). */
  static List<String> networkFilterTop(Bridge b) {
    String br = b.name();
    if (b.internal()) {
      return List.of("-I " + FORWARD + " 1 -i " + br + " ! -o " + br + " -j DROP",
          "-I " + FORWARD + " 1 ! -i " + br + " -o " + br + " -j DROP");
    }
    return List.of("-I " + FORWARD + " 1 -i " + br + " ! -o " + br + " -j " + ISOLATION);
  }

  /** Filter rules appended (the per-bridge accept block, ending in the bridge's catch-all drop). */
  static List<String> networkFilterAppend(Bridge b) {
    String br = b.name();
    if (b.internal()) {
      return List.of("-A " + FORWARD + " -i " + br + " -o " + br + " -j ACCEPT");
    }
    return List.of(
        "-A " + ISOLATION + " -o " + br + " -j DROP",
        "-A " + FORWARD + " -o " + br + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A " + FORWARD + " -o " + br + " -j " + FILTER_PORTS,
        "-A " + FORWARD + " -i " + br + " ! -o " + br + " -j ACCEPT",
        "-A " + FORWARD + " -i " + br + " -o " + br + " -j ACCEPT",
        "-A " + FORWARD + " -o " + br + " -j DROP");
  }

  /** The DNAT rule of a mapping in nat BERTH (the text after "-A BERTH "). */
  static String dnatSpec(Mapping m) {
    return (m.hostIp().isEmpty() ? "" : "-d " + m.hostIp() + "/32 ") + "-p " + m.proto()
        + " -m " + m.proto() + " --dport " + m.hostPort() + " -j DNAT --to-destination " + m.containerIp() + ":"
        + m.containerPort();
  }

  /** The published-port accept of a mapping in filter BERTH (the text after "-A BERTH "). */
  static String acceptSpec(Bridge b, Mapping m) {
    return "-d " + m.containerIp() + "/32 ! -i " + b.name() + " -o " + b.name() + " -p "
        + m.proto() + " -m " + m.proto() + " --dport " + m.containerPort()
        + " -m conntrack --ctstate DNAT -j ACCEPT";
  }

  // ---------------------------------------------------------------- batches (pure, unit-tested)

  static String setUpBatch(Saved saved) {
    return setUpRules(saved).text();
  }

  /**
   * setUpBatch, a FORWARD policy of DROP when {@code forwardDrop}, and each bridge's rules as addNetworkBatch
   * makes them, without its deletions: the chains they would delete from have just been flushed.
   */
  static String startBatch(Saved saved, List<Bridge> bridges, boolean forwardDrop) {
    Batch out = setUpRules(saved);
    if (forwardDrop) {
      out.add("filter", ":FORWARD DROP [0:0]"); // with --noflush a built-in chain's line sets only its policy
    }
    for (Bridge b : bridges) {
      networkRules(out, b);
    }
    return out.text();
  }

  private static Batch setUpRules(Saved saved) {
    Batch out = new Batch();
    List<Anchor> missing = new ArrayList<>();
    for (Anchor a : ANCHORS) {
      List<SavedRule> present = saved.rules(a.table(), a.chain(), a.spec());
      boolean good = present.size() == 1 && (!a.top() || saved.first(a.table(), a.chain()) == present.get(0));
      if (!good) { // missing, duplicated, or no longer first: delete every copy, add one
        for (SavedRule r : present) {
          out.add(a.table(), "-D " + r.chain() + " " + r.spec());
        }
        missing.add(a);
      }
    }
    for (String c : NAT_CHAINS) {
      out.add("nat", ":" + c + " - [0:0]"); // with --noflush: created if missing, else flushed
    }
    for (String c : FILTER_CHAINS) {
      out.add("filter", ":" + c + " - [0:0]");
    }
    for (Anchor a : missing) {
      out.add(a.table(), (a.top() ? "-I " + a.chain() + " 1 " : "-A " + a.chain() + " ") + a.spec());
    }
    out.add("filter", "-A " + FILTER_PORTS + " " + NO_FORWARDED_LOOPBACK);
    return out;
  }

  static String tearDownBatch(Saved saved) {
    Batch out = new Batch();
    Set<String> ours = new LinkedHashSet<>();
    ours.addAll(NAT_CHAINS);
    ours.addAll(FILTER_CHAINS);
    for (SavedRule r : saved.all()) {
      if (isOurs(r.table(), r.chain())) {
        continue;
      }
      boolean anchor = ANCHORS.stream().anyMatch(a -> a.table().equals(r.table()) && a.chain().equals(r.chain())
          && key(a.spec()).equals(r.key()));
      if (anchor || ours.contains(r.target())) {
        out.add(r.table(), "-D " + r.chain() + " " + r.spec());
      }
    }
    for (String table : List.of("nat", "filter")) {
      List<String> chains = table.equals("nat") ? NAT_CHAINS : FILTER_CHAINS;
      List<String> existing = chains.stream().filter(c -> saved.hasChain(table, c)).toList();
      for (String c : existing) {
        out.add(table, ":" + c + " - [0:0]"); // flushes it, so no Berth chain refers to another
      }
      for (String c : existing) {
        out.add(table, "-X " + c);
      }
    }
    return out.text();
  }

  static String addNetworkBatch(Saved saved, Bridge b) {
    Batch out = new Batch();
    for (SavedRule r : saved.all()) {
      if (networkRule(r, b)) {
        out.add(r.table(), "-D " + r.chain() + " " + r.spec());
      }
    }
    networkRules(out, b);
    return out.text();
  }

  private static void networkRules(Batch out, Bridge b) {
    for (String r : networkNat(b)) {
      out.add("nat", r);
    }
    for (String r : networkFilterTop(b)) {
      out.add("filter", r);
    }
    for (String r : networkFilterAppend(b)) {
      out.add("filter", r);
    }
  }

  static String removeNetworkBatch(Saved saved, Bridge b) {
    Batch out = new Batch();
    for (SavedRule r : saved.all()) {
      if (networkRule(r, b) || portRule(r, b)) {
        out.add(r.table(), "-D " + r.chain() + " " + r.spec());
      }
    }
    return out.text();
  }

  static String addPortsBatch(Bridge b, List<Mapping> ms) {
    Batch out = new Batch();
    if (b.internal()) {
      return "";
    }
    Set<String> accepts = new LinkedHashSet<>();
    for (Mapping m : ms) {
      out.add("nat", "-A " + NAT_PORTS + " " + dnatSpec(m));
      accepts.add(acceptSpec(b, m));
    }
    for (String a : accepts) {
      out.add("filter", "-A " + FILTER_PORTS + " " + a);
    }
    return out.text();
  }

  /**
   * Deletes every copy of the mappings' DNAT rules; a published-port accept goes too unless a DNAT
   * rule that stays still leads to the same container port.
   */
  static String removePortsBatch(Saved saved, Bridge b, List<Mapping> ms) {
    Batch out = new Batch();
    Set<String> dnatKeys = new TreeSet<>();
    Set<String> acceptKeys = new TreeSet<>();
    for (Mapping m : ms) {
      dnatKeys.add(key(dnatSpec(m)));
      acceptKeys.add(key(acceptSpec(b, m)));
    }
    Set<String> stillReached = new TreeSet<>(); // "proto cip:cp" of DNAT rules that stay
    for (SavedRule r : saved.all()) {
      if (r.table().equals("nat") && r.chain().equals(NAT_PORTS)) {
        if (dnatKeys.contains(r.key())) {
          out.add("nat", "-D " + r.chain() + " " + r.spec());
        } else if (r.option("--to-destination") != null) {
          stillReached.add(r.option("-p") + " " + r.option("--to-destination"));
        }
      }
    }
    for (SavedRule r : saved.all()) {
      if (r.table().equals("filter") && r.chain().equals(FILTER_PORTS) && acceptKeys.contains(r.key())
          && !stillReached.contains(r.option("-p") + " " + stripHostMask(r.option("-d")) + ":" + r.option("--dport"))) {
        out.add("filter", "-D " + r.chain() + " " + r.spec());
      }
    }
    return out.text();
  }

  /** A network-level rule of b: in Berth's POSTROUTING, FORWARD or ISOLATION chain and naming b's bridge or subnet. */
  private static boolean networkRule(SavedRule r, Bridge b) {
    boolean chain = r.table().equals("nat") ? r.chain().equals(NAT_POSTROUTING)
        : r.table().equals("filter") && (r.chain().equals(FORWARD) || r.chain().equals(ISOLATION));
    return chain && (r.namesInterface(b.name()) || b.subnet().equals(r.option("-s"))
        || b.subnet().equals(r.option("-d")));
  }

  /** A port rule leading into b: a DNAT to an address of b's subnet, or a published-port accept out of b. */
  private static boolean portRule(SavedRule r, Bridge b) {
    if (r.table().equals("nat") && r.chain().equals(NAT_PORTS)) {
      String to = r.option("--to-destination");
      return to != null && inSubnet(to.replaceFirst(":.*", ""), b.subnet());
    }
    return r.table().equals("filter") && r.chain().equals(FILTER_PORTS) && r.namesInterface(b.name());
  }

  private static boolean isOurs(String table, String chain) {
    return table.equals("nat") ? NAT_CHAINS.contains(chain) : table.equals("filter") && FILTER_CHAINS.contains(chain);
  }

  // ---------------------------------------------------------------- iptables-save output

  /** One {@code -A} line of iptables-save: spec is the text after the chain name, verbatim. */
  record SavedRule(String table, String chain, String spec, String key, Map<String, String> options) {
    String option(String name) {
      return options.get(name);
    }

    String target() {
      return options.get("-j");
    }

    boolean namesInterface(String ifname) {
      return ifname.equals(options.get("-i")) || ifname.equals(options.get("!-i"))
          || ifname.equals(options.get("-o")) || ifname.equals(options.get("!-o"));
    }
  }

  /** The nat and filter tables as iptables-save printed them. */
  static final class Saved {
    private final List<SavedRule> rules;
    private final Map<String, Set<String>> chains;
    private final Map<String, String> policies;

    Saved(List<SavedRule> rules, Map<String, Set<String>> chains, Map<String, String> policies) {
      this.rules = rules;
      this.chains = chains;
      this.policies = policies;
    }

    /** A built-in chain's policy ("ACCEPT" when iptables-save did not print the table, as in a new namespace). */
    String policy(String table, String chain) {
      return policies.getOrDefault(table + " " + chain, "ACCEPT");
    }

    List<SavedRule> all() {
      return rules;
    }

    boolean hasChain(String table, String chain) {
      return chains.getOrDefault(table, Set.of()).contains(chain);
    }

    List<SavedRule> rules(String table, String chain, String spec) {
      String k = key(spec);
      return rules.stream().filter(r -> r.table().equals(table) && r.chain().equals(chain) && r.key().equals(k))
          .toList();
    }

    SavedRule first(String table, String chain) {
      return rules.stream().filter(r -> r.table().equals(table) && r.chain().equals(chain)).findFirst().orElse(null);
    }
  }

  static Saved parse(String save) {
    List<SavedRule> rules = new ArrayList<>();
    Map<String, Set<String>> chains = new HashMap<>();
    Map<String, String> policies = new HashMap<>();
    String table = null;
    for (String raw : save.split("\n")) {
      String line = raw.strip();
      if (line.startsWith("*")) {
        table = line.substring(1);
      } else if (table == null || line.isEmpty() || line.startsWith("#") || line.equals("COMMIT")) {
        continue;
      } else if (line.startsWith(":")) {
        String[] f = line.substring(1).split(" ");
        chains.computeIfAbsent(table, t -> new LinkedHashSet<>()).add(f[0]);
        if (f.length > 1 && !f[1].equals("-")) {
          policies.put(table + " " + f[0], f[1]);
        }
      } else if (line.startsWith("-A ") && (table.equals("nat") || table.equals("filter"))) {
        String rest = line.substring(3);
        int sp = rest.indexOf(' ');
        if (sp > 0) {
          String spec = rest.substring(sp + 1);
          rules.add(new SavedRule(table, rest.substring(0, sp), spec, key(spec), options(spec)));
        }
      }
    }
    return new Saved(rules, chains, policies);
  }

  /**
   * A rule's identity independent of how it was spelt: its option groups ("-p tcp", "! -o br1",
   * "--dport 80"), sorted, without "-m" module loads and "/32" host masks. Equal for Berth's own
   * spelling and iptables-save's.
   */
  static String key(String spec) {
    List<String> groups = new ArrayList<>();
    groups(spec, (opt, value) -> {
      if (!opt.equals("-m")) {
        groups.add(opt + " " + value);
      }
    });
    groups.sort(null);
    return String.join(" ", groups);
  }

  private static Map<String, String> options(String spec) {
    Map<String, String> m = new LinkedHashMap<>();
    groups(spec, (opt, value) -> {
      if (!opt.equals("-m")) {
        m.put(opt.replace("! ", "!"), value);
      }
    });
    return m;
  }

  private interface GroupSink {
    void accept(String option, String value);
  }

  private static void groups(String spec, GroupSink sink) {
    List<String> tokens = tokens(spec);
    boolean neg = false;
    for (int i = 0; i < tokens.size(); i++) {
      String t = tokens.get(i);
      if (t.equals("!")) {
        neg = true;
        continue;
      }
      if (!t.startsWith("-")) {
        continue; // stray value (not produced by iptables-save)
      }
      List<String> values = new ArrayList<>();
      while (i + 1 < tokens.size() && !tokens.get(i + 1).startsWith("-") && !tokens.get(i + 1).equals("!")) {
        values.add(tokens.get(++i));
      }
      String opt = canonicalOption(t);
      String value = String.join(" ", values);
      if (opt.equals("-s") || opt.equals("-d")) {
        value = stripHostMask(value);
      }
      sink.accept((neg ? "! " : "") + opt, value);
      neg = false;
    }
  }

  private static String canonicalOption(String o) {
    return switch (o) {
      case "--source", "--src" -> "-s";
      case "--destination", "--dst" -> "-d";
      case "--in-interface" -> "-i";
      case "--out-interface" -> "-o";
      case "--protocol" -> "-p";
      case "--jump" -> "-j";
      case "--match" -> "-m";
      case "--destination-port" -> "--dport";
      default -> o;
    };
  }

  private static List<String> tokens(String s) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = null;
    boolean quoted = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (quoted) {
        if (c == '\\' && i + 1 < s.length()) {
          cur.append(s.charAt(++i));
        } else if (c == '"') {
          quoted = false;
        } else {
          cur.append(c);
        }
      } else if (c == '"') {
        quoted = true;
        cur = cur == null ? new StringBuilder() : cur;
      } else if (Character.isWhitespace(c)) {
        if (cur != null) {
          out.add(cur.toString());
          cur = null;
        }
      } else {
        cur = cur == null ? new StringBuilder() : cur;
        cur.append(c);
      }
    }
    if (cur != null) {
      out.add(cur.toString());
    }
    return out;
  }

  private static String stripHostMask(String addr) {
    return addr != null && addr.endsWith("/32") ? addr.substring(0, addr.length() - 3) : addr;
  }

  /** iptables-restore input for the nat and filter tables. */
  static final class Batch {
    private final Map<String, List<String>> lines = new LinkedHashMap<>();

    Batch() {
      lines.put("nat", new ArrayList<>());
      lines.put("filter", new ArrayList<>());
    }

    void add(String table, String line) {
      lines.get(table).add(line);
    }

    /** The restore input, or "" when there is nothing to do. */
    String text() {
      StringBuilder b = new StringBuilder();
      lines.forEach((table, ls) -> {
        if (!ls.isEmpty()) {
          b.append('*').append(table).append('\n');
          ls.forEach(l -> b.append(l).append('\n'));
          b.append("COMMIT\n");
        }
      });
      return b.toString();
    }
  }

  // ---------------------------------------------------------------- addresses

  static String ipv4(String s) {
    Matcher m = IPV4.matcher(s == null ? "" : s);
    if (!m.matches()) {
      throw new IllegalArgumentException("not an IPv4 address: " + s);
    }
    StringBuilder b = new StringBuilder();
    for (int i = 1; i <= 4; i++) {
      int v = Integer.parseInt(m.group(i));
      if (v > 255) {
        throw new IllegalArgumentException("not an IPv4 address: " + s);
      }
      b.append(i > 1 ? "." : "").append(v);
    }
    return b.toString();
  }

  private static long toLong(String ip) {
    long v = 0;
    for (String p : ip.split("\\.")) {
      v = (v << 8) | Integer.parseInt(p);
    }
    return v;
  }

  private static String fromLong(long v) {
    return ((v >> 24) & 255) + "." + ((v >> 16) & 255) + "." + ((v >> 8) & 255) + "." + (v & 255);
  }

  /** "172.18.0.5/16" → "172.18.0.0/16", as iptables prints it. */
  static String canonicalSubnet(String cidr) {
    Objects.requireNonNull(cidr, "subnet");
    int slash = cidr.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("subnet is not in CIDR notation: " + cidr);
    }
    int bits;
    try {
      bits = Integer.parseInt(cidr.substring(slash + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("invalid subnet: " + cidr);
    }
    if (bits < 1 || bits > 32) {
      throw new IllegalArgumentException("invalid subnet prefix length: " + cidr);
    }
    long mask = (0xffffffffL << (32 - bits)) & 0xffffffffL;
    return fromLong(toLong(ipv4(cidr.substring(0, slash))) & mask) + "/" + bits;
  }

  static boolean inSubnet(String ip, String subnet) {
    try {
      int slash = subnet.indexOf('/');
      int bits = Integer.parseInt(subnet.substring(slash + 1));
      long mask = (0xffffffffL << (32 - bits)) & 0xffffffffL;
      return (toLong(ipv4(ip)) & mask) == toLong(subnet.substring(0, slash));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static void checkPort(int p) {
    if (p < 1 || p > 65535) {
      throw new IllegalArgumentException("invalid port: " + p);
    }
  }

  // ---------------------------------------------------------------- processes

  private String save() throws IOException {
    return run(List.of(binary(iptables + "-save").toString()), null, "iptables-save");
  }

  private void restore(String batch) throws IOException {
    if (batch.isEmpty()) {
      return;
    }
    try {
      run(List.of(binary(iptables + "-restore").toString(), "-w", "--noflush"), batch, "iptables-restore");
    } catch (IOException e) {
      throw new IOException(e.getMessage() + failedLine(e.getMessage(), batch), e);
    }
  }

  /** iptables-restore names the failing input line ("line 7 failed"); quote it. */
  static String failedLine(String message, String batch) {
    Matcher m = Pattern.compile("line (\\d+) failed").matcher(message == null ? "" : message);
    if (m.find()) {
      String[] lines = batch.split("\n");
      int n = Integer.parseInt(m.group(1));
      if (n >= 1 && n <= lines.length) {
        return " [line " + n + ": " + lines[n - 1] + "]";
      }
    }
    return "";
  }

  private String readSysctl(String key) throws IOException {
    Path file = Path.of("/proc/sys", key);
    return (netns == null ? Files.readString(file)
        : run(List.of(binary("cat").toString(), file.toString()), null, "read " + key.replace('/', '.'))).strip();
  }

  private void writeSysctl(String key, String value) throws IOException {
    Path file = Path.of("/proc/sys", key);
    if (netns == null) {
      try {
        if (Files.readString(file).strip().equals(value)) {
          return;
        }
        Files.writeString(file, value);
      } catch (IOException e) {
        throw new IOException("cannot set " + key.replace('/', '.') + "=" + value + ": " + e.getMessage(), e);
      }
    } else {
      run(List.of(binary("sh").toString(), "-c", "echo \"$1\" > \"$2\"", "sh", value, file.toString()), null,
          "sysctl " + key.replace('/', '.'));
    }
  }

  private String run(List<String> command, String stdin, String what) throws IOException {
    List<String> cmd = new ArrayList<>();
    if (netns != null) {
      cmd.add(binary("nsenter").toString());
      cmd.add("--net=" + netns);
    }
    cmd.addAll(command);
    Command.Result r = Command.run(cmd, stdin == null ? null : stdin.getBytes(StandardCharsets.UTF_8),
        TIMEOUT_SECONDS * 1000L);
    if (!r.ok()) {
      throw new IOException(what + " failed (exit " + r.exit() + ")" + (r.err().isEmpty() ? "" : ": " + r.err()));
    }
    return r.out();
  }

  /** A program on PATH, else in /usr/sbin, /sbin, /usr/bin or /bin. */
  static Path binary(String name) {
    return Path.of(Command.find(name));
  }
}
