package berth.engine.network.dns;

import berth.engine.sys.Command;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The nat rules inside a container's network namespace that put the resolver at 127.0.0.11:53 while
 * it really listens on random ports, moby's DOCKER_OUTPUT / DOCKER_POSTROUTING scheme: locally made
 * packets to 127.0.0.11:53 are DNATed to the listeners, and packets from the listeners get source
 * port 53 (conntrack already rewrites replies; the SNAT rule is moby's belt and braces). Port 53 stays
 * free for the container's own servers. The rules live in two chains of our own, flushed and refilled
 * on every install, jumped to once from OUTPUT and POSTROUTING.
 */
final class NatRules {
  static final String RESOLVER = "127.0.0.11";
  static final String OUTPUT_CHAIN = "BERTH_DNS_OUTPUT";
  static final String POSTROUTING_CHAIN = "BERTH_DNS_POSTROUTING";
  static final String OUTPUT_JUMP = "-A OUTPUT -d " + RESOLVER + "/32 -j " + OUTPUT_CHAIN;
  static final String POSTROUTING_JUMP = "-A POSTROUTING -s " + RESOLVER + "/32 -j " + POSTROUTING_CHAIN;
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  private NatRules() {}

  /** Installs (or refreshes) the rules in the namespace at {@code netns} for these listener ports. */
  static void install(Path netns, int udpPort, int tcpPort) throws IOException {
    String nsenter = find("nsenter");
    String save = run(List.of(nsenter, "--net=" + netns, find("iptables-save"), "-t", "nat"), null);
    run(List.of(nsenter, "--net=" + netns, find("iptables-restore"), "-w", "--noflush"),
        batch(udpPort, tcpPort, save));
  }

  /**
   * The iptables-restore input: our chains declared (which flushes them when they exist), their
   * rules, and the jumps from OUTPUT and POSTROUTING unless {@code current} (iptables-save's nat
   * table) has them already.
   */
  static String batch(int udpPort, int tcpPort, String current) {
    Set<String> have = new LinkedHashSet<>(current.lines().map(String::strip).toList());
    StringBuilder b = new StringBuilder();
    b.append("*nat\n");
    b.append(':').append(OUTPUT_CHAIN).append(" - [0:0]\n");
    b.append(':').append(POSTROUTING_CHAIN).append(" - [0:0]\n");
    for (String proto : List.of("udp", "tcp")) {
      int port = proto.equals("udp") ? udpPort : tcpPort;
      b.append("-A ").append(OUTPUT_CHAIN).append(" -d ").append(RESOLVER).append("/32 -p ").append(proto)
          .append(" --dport 53 -j DNAT --to-destination ").append(RESOLVER).append(':').append(port).append('\n');
      b.append("-A ").append(POSTROUTING_CHAIN).append(" -s ").append(RESOLVER).append("/32 -p ").append(proto)
          .append(" --sport ").append(port).append(" -j SNAT --to-source :53\n");
    }
    if (!have.contains(OUTPUT_JUMP)) {
      b.append(OUTPUT_JUMP.replaceFirst("^-A", "-I")).append('\n');
    }
    if (!have.contains(POSTROUTING_JUMP)) {
      b.append(POSTROUTING_JUMP.replaceFirst("^-A", "-I")).append('\n');
    }
    b.append("COMMIT\n");
    return b.toString();
  }

  static String find(String name) {
    return Command.find(name);
  }

  /** Runs {@code cmd} with {@code stdin} (null: none); its stdout, or an error with its stderr. */
  static String run(List<String> cmd, String stdin) throws IOException {
    return Command.check(cmd, stdin == null ? null : stdin.getBytes(StandardCharsets.UTF_8), TIMEOUT.toMillis());
  }
}
