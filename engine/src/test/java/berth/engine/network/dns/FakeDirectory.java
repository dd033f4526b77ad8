package berth.engine.network.dns;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A directory for tests: names and reverse names per container, upstreams for all. */
final class FakeDirectory implements EmbeddedDns.Directory {
  final Map<String, List<Inet4Address>> names = new ConcurrentHashMap<>();
  final Map<String, String> reverse = new ConcurrentHashMap<>();
  volatile List<InetSocketAddress> upstreams = List.of();
  final List<String> asked = java.util.Collections.synchronizedList(new ArrayList<>());

  FakeDirectory name(String name, String... addrs) {
    List<Inet4Address> list = new ArrayList<>();
    for (String a : addrs) {
      list.add(v4(a));
    }
    names.put(name, list);
    return this;
  }

  FakeDirectory ptr(String addr, String name) {
    reverse.put(addr, name);
    return this;
  }

  static Inet4Address v4(String a) {
    try {
      return (Inet4Address) InetAddress.getByName(a);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(a, e);
    }
  }

  @Override
  public List<Inet4Address> lookup(String containerId, String name) {
    asked.add(containerId + " " + name);
    if (name.equals("boom")) {
      throw new IllegalStateException("directory failure");
    }
    return names.get(name);
  }

  @Override
  public String reverse(String containerId, Inet4Address address) {
    asked.add(containerId + " ptr " + address.getHostAddress());
    return reverse.get(address.getHostAddress());
  }

  @Override
  public List<InetSocketAddress> upstreams(String containerId) {
    return upstreams;
  }
}
