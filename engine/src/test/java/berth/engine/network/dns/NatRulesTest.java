package berth.engine.network.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The iptables-restore batch and the process helpers, without running iptables. */
class NatRulesTest {
  @Test
  void freshNamespaceGetsChainsRulesAndJumps() {
    String b = NatRules.batch(40001, 40002, "*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");
    assertEquals(String.join("\n",
        "*nat",
        ":BERTH_DNS_OUTPUT - [0:0]",
        ":BERTH_DNS_POSTROUTING - [0:0]",
        "-A BERTH_DNS_OUTPUT -d 127.0.0.11/32 -p udp --dport 53 -j DNAT --to-destination 127.0.0.11:40001",
        "-A BERTH_DNS_POSTROUTING -s 127.0.0.11/32 -p udp --sport 40001 -j SNAT --to-source :53",
        "-A BERTH_DNS_OUTPUT -d 127.0.0.11/32 -p tcp --dport 53 -j DNAT --to-destination 127.0.0.11:40002",
        "-A BERTH_DNS_POSTROUTING -s 127.0.0.11/32 -p tcp --sport 40002 -j SNAT --to-source :53",
        "-I OUTPUT -d 127.0.0.11/32 -j BERTH_DNS_OUTPUT",
        "-I POSTROUTING -s 127.0.0.11/32 -j BERTH_DNS_POSTROUTING",
        "COMMIT", ""), b);
  }

  @Test
  void jumpsThatExistAreNotAddedAgain() {
    String saved = "*nat\n" + NatRules.OUTPUT_JUMP + "\n" + NatRules.POSTROUTING_JUMP + "\nCOMMIT\n";
    String b = NatRules.batch(1, 2, saved);
    assertFalse(b.contains("-I OUTPUT"), b);
    assertFalse(b.contains("-I POSTROUTING"), b);
    assertTrue(b.contains(":BERTH_DNS_OUTPUT - [0:0]"), "the chain is still declared, so flushed");
  }
}
