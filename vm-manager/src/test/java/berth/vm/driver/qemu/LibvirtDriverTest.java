package berth.vm.driver.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.vm.Machine;
import berth.vm.MachineConfig;
import berth.vm.MachineException;
import berth.vm.MachineState;
import berth.vm.MachineStatus;
import berth.vm.MachineStore;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The libvirt driver's checks that need no VM: config, and libvirtd not being there. */
class LibvirtDriverTest {
  @TempDir
  Path tmp;

  @Test
  void configureFillsDefaultsAndReportsEveryProblem() {
    try (LibvirtDriver d = new LibvirtDriver(tmp)) {
      MachineConfig c = d.configure("dev", MachineConfig.EMPTY.withCpus(1).withMemory("768MiB").withAccel("tcg"));
      assertEquals("libvirt", c.driver());
      assertEquals("64GiB", c.disk());
      MachineException e = assertThrows(MachineException.class, () -> d.configure("-x",
          MachineConfig.EMPTY.withMemory("100MiB").withDriver("wsl2").withAccel("hvf")));
      assertEquals(MachineException.Kind.INVALID, e.kind());
      for (String s : List.of("name \"-x\"", "memory 100MiB is too little", "driver \"wsl2\" is not the libvirt driver",
          "accel \"hvf\" needs macOS")) {
        assertTrue(e.getMessage().contains(s), e.getMessage());
      }
    }
  }

  @Test
  void libvirtdNotRunningIsBrokenInStatusAndAClearErrorOnStart() throws Exception {
    Path socket = tmp.resolve("no-libvirtd.sock");
    MachineStore store = new MachineStore(tmp.resolve("home"));
    try (LibvirtDriver d = new LibvirtDriver(tmp, "qemu:///system?socket=" + socket)) {
      Machine m = store.create("dev", d.configure("dev", MachineConfig.EMPTY.withCpus(1).withMemory("1GiB")));
      MachineState s = d.status(m);
      assertEquals(MachineStatus.BROKEN, s.status());
      assertTrue(s.reasons().get(0).contains(socket.toString()) && s.reasons().get(0).contains("libvirtd -d"), s.toString());
      MachineException e = assertThrows(MachineException.class, () -> d.start(m));
      assertEquals(MachineException.Kind.UNAVAILABLE, e.kind());
      assertTrue(e.getMessage().startsWith("cannot connect to libvirtd at qemu:///system?socket=" + socket), e.getMessage());
      assertEquals(MachineStatus.STOPPED, d.status(new Machine("other", store.dir("other"), m.config())).status());
    }
  }

  @Test
  void rootGetsTheSystemDaemonOthersTheirOwnSessionAndLibvirtsVariableWins() {
    assertEquals("qemu:///system", LibvirtDriver.defaultUri(null, "root"));
    assertEquals("qemu:///session", LibvirtDriver.defaultUri(null, "alice"));
    assertEquals("qemu:///session", LibvirtDriver.defaultUri(" ", "alice"));
    assertEquals("qemu:///system", LibvirtDriver.defaultUri("qemu:///system", "alice"));
    assertEquals("qemu:///session", LibvirtDriver.defaultUri("qemu:///session\n", "root"));
    assertTrue(LibvirtDriver.isSession("qemu:///session"));
    assertTrue(LibvirtDriver.isSession("qemu+ssh://user@host/session?keyfile=/k"));
    assertTrue(!LibvirtDriver.isSession("qemu:///system") && !LibvirtDriver.isSession("qemu:///system?socket=/s"));
    // the share type follows the daemon: QEMU serves 9p itself as the user; virtiofsd needs the system daemon
    try (LibvirtDriver session = new LibvirtDriver(tmp, "qemu:///session");
        LibvirtDriver system = new LibvirtDriver(tmp, "qemu:///system")) {
      assertEquals(java.util.Set.of("9p"), session.features().shareTypes());
      assertEquals(java.util.Set.of("virtiofs"), system.features().shareTypes());
    }
  }

  @Test
  void aSessionDaemonThatCannotBeReachedSaysSo() throws Exception {
    Path socket = tmp.resolve("no-session.sock");
    MachineStore store = new MachineStore(tmp.resolve("home"));
    try (LibvirtDriver d = new LibvirtDriver(tmp, "qemu:///session?socket=" + socket)) {
      Machine m = store.create("dev", d.configure("dev", MachineConfig.EMPTY.withCpus(1).withMemory("1GiB")));
      MachineException e = assertThrows(MachineException.class, () -> d.start(m));
      assertEquals(MachineException.Kind.UNAVAILABLE, e.kind());
      assertTrue(e.getMessage().contains("this user's own libvirtd") && !e.getMessage().contains("systemctl"),
          e.getMessage());
    }
  }
}
