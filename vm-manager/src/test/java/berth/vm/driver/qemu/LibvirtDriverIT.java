package berth.vm.driver.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.RequiresRoot;
import berth.vm.Machine;
import berth.vm.MachineConfig;
import berth.vm.MachineException;
import berth.vm.MachineStatus;
import berth.vm.MachineStore;
import berth.vm.driver.MachineDriver;
import berth.vm.driver.MachineDriverContract;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;

/**
 * The machine contract against real libvirtd and QEMU (software emulation), booting the guest image the
 * repository's script builds; plus the faults that need libvirt: a broken boot image or data disk and a
 * foreign domain are refused with no domain left behind.
 */
@Tag("root")
class LibvirtDriverIT extends MachineDriverContract {
  private static final Path MODULE = Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
  private static final Path IMAGE = MODULE.resolve("../guest-agent/target/image").normalize();

  @BeforeAll
  static void bootImage() throws Exception {
    RequiresRoot.check();
    // kept between runs: the script rebuilds only when its inputs change
    Tools.Result r = Tools.run(List.of("bash", MODULE.resolve("../guest-agent/image/build-boot.sh").normalize().toString(),
        IMAGE.toString()), 600);
    assertEquals(0, r.exit(), r.output());
  }

  @Override
  protected MachineDriver newDriver() {
    return new LibvirtDriver(IMAGE, LibvirtDriver.SYSTEM_URI);
  }

  @Override
  protected MachineConfig config(Path scratch) throws IOException {
    Path share = Files.createDirectories(scratch.resolve("share"));
    return MachineConfig.EMPTY.withAccel("tcg").withCpus(1).withMemory("768MiB").withDisk("2GiB")
        .withShares(List.of(new MachineConfig.Share(share.toString(), "/mnt/share")));
  }

  @Override
  protected String bootMarker() {
    return "BERTH-AGENT READY";
  }

  @Override
  protected void assertBooted(String console) {
    // the share, a virtiofs device at its fixed slot on q35's root bus, is mounted at its guest path
    assertTrue(console.matches("(?s).*BERTH-GUEST share: \\S+ at /mnt/share.*"), console);
    assertFalse(console.contains("BERTH-GUEST FAILED"), console);
  }

  @Override
  protected String cleanStopMarker() {
    return "BERTH-GUEST agent: exited 0"; // the power button reached the agent, which stopped the engine
  }

  @Override
  protected void killFromOutside(Machine m) throws Exception {
    long pid = Long.parseLong(Files.readString(Path.of("/run/libvirt/qemu/" + LibvirtDriver.domainName(m) + ".pid")).strip());
    ProcessHandle qemu = ProcessHandle.of(pid).orElseThrow();
    assertTrue(qemu.info().commandLine().orElse("").contains("guest=" + LibvirtDriver.domainName(m)));
    qemu.destroyForcibly(); // SIGKILL
    qemu.onExit().get();
  }

  @Override
  protected void assertNothingLeft(Machine m) throws Exception {
    assertTrue(Files.notExists(m.dir().path()), "machine directory left: " + m.dir());
    Connect c = new Connect(LibvirtDriver.SYSTEM_URI);
    try {
      assertNull(domain(c, LibvirtDriver.domainName(m)), "domain left");
    } finally {
      c.close();
    }
    List<String> left = processesMentioning("guest=" + LibvirtDriver.domainName(m) + ",", scratch.resolve("share").toString());
    assertEquals(List.of(), left, "qemu or virtiofsd processes left");
  }

  @Test
  void aMissingOrCorruptBootImageIsNamedAndLeavesNoDomain() throws Exception {
    Path badImage = Files.createDirectories(scratch.resolve("image"));
    Files.writeString(badImage.resolve("vmlinux"), "not a kernel");
    try (LibvirtDriver d = new LibvirtDriver(badImage, LibvirtDriver.SYSTEM_URI)) {
      Machine m = newMachine(d, "badimage");
      MachineException e = assertThrows(MachineException.class, () -> d.start(m));
      assertEquals(MachineException.Kind.BROKEN, e.kind());
      assertTrue(e.getMessage().contains(badImage.resolve("vmlinux") + " is corrupt: not an ELF kernel")
          && e.getMessage().contains(badImage.resolve("initrd.img") + " does not exist"), e.getMessage());
      assertEquals(MachineStatus.BROKEN, d.status(m).status());
      assertNoDomain(m);
      d.delete(m);
    }
  }

  @Test
  void aCorruptOrMissingDataDiskIsRefusedAndLeavesNoDomain() throws Exception {
    try (LibvirtDriver d = new LibvirtDriver(IMAGE, LibvirtDriver.SYSTEM_URI)) {
      Machine m = newMachine(d, "baddisk");
      Files.writeString(m.dir().dataDisk(), "QFI\u00fb but not really a qcow2 image");
      MachineException e = assertThrows(MachineException.class, () -> d.start(m));
      assertTrue(e.getMessage().contains("the data disk " + m.dir().dataDisk() + " is not a readable qcow2 image"),
          e.getMessage());
      assertNoDomain(m);
      Files.delete(m.dir().dataDisk());
      e = assertThrows(MachineException.class, () -> d.start(m));
      assertTrue(e.getMessage().contains("the data disk " + m.dir().dataDisk() + " is missing"), e.getMessage());
      assertEquals(MachineStatus.BROKEN, d.status(m).status());
      assertNoDomain(m);
      d.delete(m);
    }
  }

  @Test
  void aDomainBerthDidNotMakeIsNeverTouched() throws Exception {
    try (LibvirtDriver d = new LibvirtDriver(IMAGE, LibvirtDriver.SYSTEM_URI)) {
      Machine m = newMachine(d, "foreign");
      Connect c = new Connect(LibvirtDriver.SYSTEM_URI);
      Domain foreign = c.domainDefineXML("<domain type='qemu'><name>" + LibvirtDriver.domainName(m) + "</name>"
          + "<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>");
      try {
        assertEquals(MachineException.Kind.CONFLICT, assertThrows(MachineException.class, () -> d.start(m)).kind());
        assertEquals(MachineException.Kind.CONFLICT, assertThrows(MachineException.class, () -> d.delete(m)).kind());
        assertEquals(MachineStatus.BROKEN, d.status(m).status());
        assertTrue(d.status(m).reasons().get(0).contains("exists that Berth did not make"), d.status(m).toString());
        assertTrue(Files.isDirectory(m.dir().path()), "a refused delete keeps the machine");
        assertEquals(LibvirtDriver.domainName(m), c.domainLookupByName(LibvirtDriver.domainName(m)).getName());
      } finally {
        foreign.undefine();
        c.close();
      }
      d.delete(m);
      assertNoDomain(m);
    }
  }

  @Test
  void theKvmProbeBootsAKernelAndSoWouldTellAHangingAccelerator() throws Exception {
    // the probe's mechanics, shown with TCG: it must see the kernel's banner; on this host /dev/kvm is absent
    // or hangs, which is why "auto" probes instead of trusting the device file
    BootImage boot = BootImage.in(IMAGE);
    long t0 = System.nanoTime();
    assertTrue(Accel.probe("tcg", boot.kernel(), "qemu-system-x86_64"));
    System.out.printf("[probe] tcg boot probe: %.2f s%n", (System.nanoTime() - t0) / 1e9);
    assertEquals("qemu", Accel.domainType("tcg", boot.kernel(), "qemu-system-x86_64"));
    if (!Accel.kvmDevice()) {
      assertEquals("qemu", Accel.domainType("auto", boot.kernel(), "qemu-system-x86_64"));
    }
  }

  private Machine newMachine(LibvirtDriver d, String prefix) throws Exception {
    String name = prefix + "-" + Long.toHexString(System.nanoTime() & 0xfffff);
    Machine m = new MachineStore(scratch.resolve("home")).create(name,
        d.configure(name, MachineConfig.EMPTY.withAccel("tcg").withCpus(1).withMemory("768MiB").withDisk("1GiB")));
    d.create(m);
    makeSshKey(m);
    return m;
  }

  private static void assertNoDomain(Machine m) throws LibvirtException {
    Connect c = new Connect(LibvirtDriver.SYSTEM_URI);
    try {
      assertNull(domain(c, LibvirtDriver.domainName(m)), "domain left behind");
    } finally {
      c.close();
    }
  }

  private static Domain domain(Connect c, String name) throws LibvirtException {
    try {
      return c.domainLookupByName(name);
    } catch (LibvirtException e) {
      return null;
    }
  }

  private static List<String> processesMentioning(String... needles) throws IOException {
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).map(p -> {
        try {
          return new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
          return "";
        }
      }).filter(cmd -> Stream.of(needles).anyMatch(cmd::contains)).toList();
    }
  }
}
