package berth.engine.network;

import berth.engine.config.Cidr;
import berth.engine.config.EngineConfig;
import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Addresses: subnets for new networks, carved from the configured pools, skipping those that overlap another
 * network or a route the host already has (so Berth runs beside another engine or a VPN); and addresses for
 * endpoints within a network. Not thread-safe: {@link NetworkService} holds its lock.
 */
final class Ipam {
  private final List<EngineConfig.AddressPool> pools;
  private final Map<String, TreeSet<Long>> used = new HashMap<>();

  Ipam(List<EngineConfig.AddressPool> pools) {
    this.pools = pools;
  }

  /** The first subnet of the pools that overlaps none of {@code taken}; 403 as Docker when none is left. */
  Cidr nextSubnet(List<Cidr> taken) {
    for (EngineConfig.AddressPool p : pools) {
      Cidr base = Cidr.parse(p.base());
      int size = p.size() == null ? base.prefix() : p.size();
      long step = 1L << (32 - size);
      long end = base.address() + (1L << (32 - base.prefix()));
      for (long a = base.address(); a < end; a += step) {
        Cidr c = new Cidr(a, size);
        if (taken.stream().noneMatch(t -> overlaps(t, c))) {
          return c;
        }
      }
    }
    throw EngineException.forbidden("all predefined address pools have been fully subnetted");
  }

  static boolean overlaps(Cidr a, Cidr b) {
    int p = Math.min(a.prefix(), b.prefix());
    long mask = p == 0 ? 0 : (0xffffffffL << (32 - p)) & 0xffffffffL;
    return (a.address() & mask) == (b.address() & mask);
  }

  /**
   * The IPv4 routes of the host ({@code /proc/net/route}) except default routes and those through the given
   * interfaces (Berth's own bridges).
   */
  static List<Cidr> hostRoutes(Set<String> except) {
    List<Cidr> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/net/route"), StandardCharsets.US_ASCII)) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 8 || f[0].equals("Iface") || except.contains(f[0])) {
          continue;
        }
        long dst = Long.reverseBytes(Long.parseLong(f[1], 16)) >>> 32;
        long mask = Long.reverseBytes(Long.parseLong(f[7], 16)) >>> 32;
        int prefix = Long.bitCount(mask);
        if (prefix > 0) {
          out.add(new Cidr(dst & mask, prefix));
        }
      }
    } catch (IOException | NumberFormatException e) {
      // no routes known: nothing to dodge
    }
    return out;
  }

  /** Marks an address used (the gateway, or an endpoint restored after an engine restart). */
  void reserve(String network, long ip) {
    used.computeIfAbsent(network, k -> new TreeSet<>()).add(ip);
  }

  /**
   * An address for an endpoint: {@code wanted} if given (403 "Address already in use" when taken), else the
   * first free one of the range, never the subnet's network or broadcast address.
   */
  long allocate(String network, Network.Subnet s, long wanted) {
    TreeSet<Long> u = used.computeIfAbsent(network, k -> new TreeSet<>());
    Cidr subnet = s.cidr();
    long first = subnet.address();
    long last = first + (1L << (32 - subnet.prefix())) - 1;
    if (wanted >= 0) {
      if (!subnet.contains(wanted)) {
        throw EngineException.forbidden("no configured subnet or ip-range contain the IP address %s",
            NetworkAddresses.ip(wanted));
      }
      if (u.contains(wanted) || wanted == first || wanted == last && subnet.prefix() < 31) {
        throw EngineException.forbidden("Address already in use");
      }
      u.add(wanted);
      return wanted;
    }
    Cidr range = s.range();
    long lo = Math.max(range.address(), first + 1);
    long hi = Math.min(range.address() + (1L << (32 - range.prefix())) - 1, last - 1);
    for (long a = lo; a <= hi; a++) {
      if (!u.contains(a)) {
        u.add(a);
        return a;
      }
    }
    throw EngineException.forbidden("no available IPv4 addresses on this network's address pools: %s", subnet);
  }

  void release(String network, long ip) {
    TreeSet<Long> u = used.get(network);
    if (u != null) {
      u.remove(ip);
    }
  }

  void forget(String network) {
    used.remove(network);
  }
}
