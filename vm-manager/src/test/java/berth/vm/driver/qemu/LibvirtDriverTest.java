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
    try (LibvirtDriver d = new LibvirtDriver(tmp, "qemu:///system?socket=" + socket)) {
      Machine m = machine(d);
      MachineState s = d.status(m);
      assertEquals(MachineStatus.BROKEN, s.status());
      assertTrue(s.reasons().get(0).contains(socket.toString()) && s.reasons().get(0).contains("libvirtd -d"), s.toString());
      MachineException e = assertThrows(MachineException.class, () -> d.start(m));
      assertEquals(MachineException.Kind.UNAVAILABLE, e.kind());
      assertTrue(e.getMessage().startsWith("cannot connect to libvirtd at qemu:///system?socket=" + socket), e.getMessage());
      assertEquals(MachineStatus.STOPPED, d.status(new Machine("other", new MachineStore(tmp.resolve("home")).dir("other"), m.config())).status());
    }
  }

  @Test
  void rootGetsTheSystemDaemonOthersTheirOwnSessionAndLibvirtsVariableWins() {
    assertEquals("qemu:///system", LibvirtDriver.defaultUri(null, true));
    assertEquals("qemu:///session", LibvirtDriver.defaultUri(null, false));
    assertEquals("qemu:///session", LibvirtDriver.defaultUri(" ", false));
    assertEquals("qemu:///system", LibvirtDriver.defaultUri("qemu:///system", false));
    assertEquals("qemu:///session", LibvirtDriver.defaultUri("qemu:///session\n", true));
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
    try (LibvirtDriver d = new LibvirtDriver(tmp, "qemu:///session?socket=" + tmp.resolve("no-session.sock"))) {
      Machine m = machine(d);
      MachineException e = assertThrows(MachineException.class, () -> d.start(m));
      assertEquals(MachineException.Kind.UNAVAILABLE, e.kind());
      assertTrue(e.getMessage().contains("this user's own libvirtd") && !e.getMessage().contains("systemctl"),
          e.getMessage());
    }
  }

  @Test
  void aMachineMadeUnderAnotherDaemonIsLeftAloneWithTheWayToReachIt() throws Exception {
    try (LibvirtDriver d = new LibvirtDriver(tmp, "qemu:///session?socket=" + tmp.resolve("none.sock"))) {
      Machine m = machine(d);
      java.nio.file.Files.writeString(m.dir().path().resolve(LibvirtDriver.URI_FILE), "qemu:///system\n");
      MachineState s = d.status(m);
      assertEquals(MachineStatus.BROKEN, s.status());
      assertTrue(s.reasons().get(0).contains("made under libvirt's qemu:///system")
          && s.reasons().get(0).contains("LIBVIRT_DEFAULT_URI=qemu:///system"), s.toString());
      for (org.junit.jupiter.api.function.Executable op : List.<org.junit.jupiter.api.function.Executable>of(
          () -> d.start(m), () -> d.stop(m, java.time.Duration.ofSeconds(1)), () -> d.delete(m), () -> d.sshEndpoint(m))) {
        MachineException e = assertThrows(MachineException.class, op);
        assertEquals(MachineException.Kind.CONFLICT, e.kind(), e.getMessage());
      }
      assertTrue(java.nio.file.Files.isDirectory(m.dir().path()), "delete kept the machine");
    }
  }

  /** A machine "dev" made in this test's own home for driver {@code d}. */
  private Machine machine(LibvirtDriver d) throws java.io.IOException {
    return new MachineStore(tmp.resolve("home")).create("dev",
        d.configure("dev", MachineConfig.EMPTY.withCpus(1).withMemory("1GiB")));
  }
}
