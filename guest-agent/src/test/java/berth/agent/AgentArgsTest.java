package berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class AgentArgsTest {
  @Test
  void initsCommandLineIsRead() {
    Agent a = new Agent();
    assertNull(a.parse("--data-root", "/var/lib/berth", "--engine-socket", "/run/berth/docker.sock", "--ssh-port", "22",
        "--authorized-keys", "/run/berth/authorized_keys", "--host-key=/var/lib/berth/agent/ssh_host_key"));
    assertEquals(Path.of("/var/lib/berth"), a.dataRoot);
    assertEquals(Path.of("/run/berth/docker.sock"), a.engineSocket);
    assertEquals(Path.of("/var/lib/berth/agent/ssh_host_key"), a.hostKey);
    assertEquals(22, a.sshPort);
    assertEquals("0.0.0.0", a.sshAddress);
    assertFalse(a.debug);
  }

  @Test
  void badCommandLinesSayWhatIsWrong() {
    assertEquals("missing required options --engine-socket, --authorized-keys, --host-key",
        new Agent().parse("--data-root", "/d"));
    assertEquals("missing value for --host-key", new Agent().parse("--host-key"));
    assertEquals("unknown option --reboot", new Agent().parse("--reboot"));
    assertTrue(new Agent().parse("--ssh-port", "ssh").contains("wants a number"));
  }
}
