package berth.engine.network;

import berth.engine.sys.Command;
import berth.engine.sys.Posix;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Links and namespaces through iproute2 and util-linux: bridges, a veth pair per endpoint with one end in the
 * container's network namespace, and the namespaces themselves (nsfs files bind-mounted in a private directory
 * of the exec root, so they outlive the engine for live restore). Each call costs one or two short processes.
 */
final class Links {
  private static final long TIMEOUT_MS = 20_000;
  private static final String IP = Command.find("ip");
  private static final String NSENTER = Command.find("nsenter");
  private static final String UNSHARE = Command.find("unshare");
  /** The alias of every bridge Berth makes (ip link … alias), so it never takes over or deletes another's. */
  static final String MARK = "berth-managed";

  private Links() {}

  /**
   * Whether the engine's network namespace has a link of that name. Read from /proc/self/net/dev, which
   * follows the reading process's namespace, not from /sys/class/net, which shows the namespace sysfs was
   * mounted in (the host's, for an engine started in a private namespace with the host's /sys).
   */
  static boolean exists(String ifName) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/net/dev"), StandardCharsets.US_ASCII)) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).strip().equals(ifName)) {
          return true;
        }
      }
      return false;
    } catch (IOException e) {
      return Files.exists(Path.of("/sys/class/net", ifName));
    }
  }

  /** Creates the bridge if missing, gives it exactly the gateway address, and brings it up. */
  static void ensureBridge(String name, String gatewayCidr, int mtu) throws IOException {
    StringBuilder b = new StringBuilder();
    if (!exists(name)) {
      b.append("link add name ").append(name).append(" type bridge\n");
      b.append("link set ").append(name).append(" alias ").append(MARK).append('\n');
    } else if (!ours(name)) {
      throw new IOException("the host already has an interface named " + name + " that Berth did not make; "
          + "remove it or give the network another bridge name");
    } else {
      b.append("addr flush dev ").append(name).append('\n');
    }
    b.append("addr add ").append(gatewayCidr).append(" dev ").append(name).append('\n');
    b.append("link set ").append(name).append(" mtu ").append(mtu).append(" up\n");
    ipBatch(null, b.toString());
  }

  /** A bridge Berth made: marked with its alias when created (asked of iproute2, for the reason of {@link #exists}). */
  static boolean ours(String name) {
    if (!exists(name)) {
      return false;
    }
    try {
      Command.Result r = Command.run(List.of(IP, "-o", "-d", "link", "show", "dev", name), null, TIMEOUT_MS);
      if (!r.ok()) {
        return false;
      }
      boolean bridge = false;
      boolean marked = false;
      for (String part : r.out().split("\\\\")) { // -o joins a link's lines with a backslash
        String p = part.strip();
        bridge |= p.startsWith("bridge ");
        marked |= p.equals("alias " + MARK);
      }
      return bridge && marked;
    } catch (IOException e) {
      return false;
    }
  }

  static void deleteLink(String name) throws IOException {
    if (exists(name)) {
      Command.Result r = Command.run(List.of(IP, "link", "del", name), null, TIMEOUT_MS);
      if (!r.ok() && exists(name)) {
        throw new IOException("ip link del " + name + ": " + r.err());
      }
    }
  }

  /**
   * Makes the directory a private bind mount of itself (once), so nsfs files bound inside it do not propagate
   * into other mount namespaces, which would keep the namespaces alive (what {@code ip netns add} does for
   * /run/netns).
   */
  static void preparePrivateDir(Path dir) throws IOException {
    Files.createDirectories(dir);
    if (!isMountPoint(dir)) {
      Posix.mount(dir.toString(), dir, "none", Posix.MS_BIND | Posix.MS_REC, null);
    }
    Posix.mount("none", dir, "none", Posix.MS_PRIVATE | Posix.MS_REC, null);
  }

  private static boolean isMountPoint(Path dir) throws IOException {
    String d = dir.toRealPath().toString();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
      String[] f = line.split(" ");
      if (f.length > 4 && f[4].replace("\\040", " ").equals(d)) {
        return true;
      }
    }
    return false;
  }

  /** A new network namespace, bound at {@code file}, with its loopback up. */
  static void createNetns(Path file) throws IOException {
    deleteNetns(file);
    Files.createFile(file);
    try {
      Command.check(List.of(UNSHARE, "--net=" + file, IP, "link", "set", "lo", "up"), null, TIMEOUT_MS);
    } catch (IOException e) {
      deleteNetns(file);
      throw e;
    }
  }

  /** Unbinds and removes the namespace file; the namespace and its veth ends go when nothing else holds it. */
  static void deleteNetns(Path file) throws IOException {
    try {
      Posix.umount2(file, Posix.MNT_DETACH);
    } catch (IOException e) {
      // not mounted (a create that failed half-way): only the file is left
    }
    Files.deleteIfExists(file);
  }

  /**
   * A veth pair: {@code hostIf} on the bridge, {@code ifName} with {@code cidr} and {@code mac} inside the
   * namespace, and a default route through {@code gateway} when given (not on internal networks).
   */
  static void addEndpoint(Path netns, String bridge, String hostIf, String ifName, String cidr, String mac,
      String gateway, int mtu) throws IOException {
    try {
      // hairpin: a container reaches its own published port through the host
      ipBatch(null, "link add name " + hostIf + " mtu " + mtu + " type veth peer name " + ifName + " mtu " + mtu
          + " address " + mac + " netns " + netns + "\nlink set " + hostIf + " master " + bridge + " up\n"
          + "link set " + hostIf + " type bridge_slave hairpin on\n");
    } catch (IOException e) {
      deleteLink(hostIf); // the pair may exist though a later line failed
      throw e;
    }
    try {
      ipBatch(netns, "addr add " + cidr + " dev " + ifName + "\nlink set " + ifName + " up\n"
          + (gateway == null ? "" : "route add default via " + gateway + " dev " + ifName + "\n"));
    } catch (IOException e) {
      deleteLink(hostIf);
      throw e;
    }
  }

  /** Deletes interfaces inside the namespace, going on past those already gone. */
  static void removeEndpoints(Path netns, List<String> ifNames) throws IOException {
    if (ifNames.isEmpty() || !Files.exists(netns)) {
      return;
    }
    StringBuilder b = new StringBuilder();
    ifNames.forEach(n -> b.append("link del ").append(n).append('\n'));
    Command.run(List.of(NSENTER, "--net=" + netns, IP, "-force", "-batch", "-"),
        b.toString().getBytes(StandardCharsets.UTF_8), TIMEOUT_MS);
  }

  /** The names of the links in the namespace but lo. */
  static List<String> interfaces(Path netns) throws IOException {
    String links = Command.check(List.of(NSENTER, "--net=" + netns, IP, "-o", "link", "show"), null, TIMEOUT_MS);
    List<String> out = new java.util.ArrayList<>();
    for (String line : links.split("\n")) {
      String[] f = line.split(": ", 3);
      if (f.length >= 2) {
        String name = f[1].contains("@") ? f[1].substring(0, f[1].indexOf('@')) : f[1];
        if (!name.equals("lo")) {
          out.add(name);
        }
      }
    }
    return out;
  }

  /** Points the namespace's default route at {@code gateway} through {@code ifName}. */
  static void defaultRoute(Path netns, String gateway, String ifName) throws IOException {
    ipBatch(netns, "route replace default via " + gateway + " dev " + ifName + "\n");
  }

  /** The first name prefix0, prefix1 … that no link in the namespace has. */
  static String freeName(Path netns, String prefix) throws IOException {
    List<String> links = interfaces(netns);
    for (int i = 0; ; i++) {
      if (!links.contains(prefix + i)) {
        return prefix + i;
      }
    }
  }

  /** {@code ip -o -4 addr show} inside the namespace. */
  static String addresses(Path netns) throws IOException {
    return Command.check(List.of(NSENTER, "--net=" + netns, IP, "-o", "-4", "addr", "show"), null, TIMEOUT_MS);
  }

  /** Deletes an endpoint's interface inside the namespace (its host end goes with it). */
  static void removeEndpoint(Path netns, String ifName) throws IOException {
    ipBatch(netns, "link del " + ifName + "\n");
  }

  private static void ipBatch(Path netns, String commands) throws IOException {
    List<String> argv = netns == null ? List.of(IP, "-batch", "-")
        : List.of(NSENTER, "--net=" + netns, IP, "-batch", "-");
    Command.check(argv, commands.getBytes(StandardCharsets.UTF_8), TIMEOUT_MS);
  }
}
