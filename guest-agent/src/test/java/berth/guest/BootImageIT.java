package berth.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.RequiresRoot;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest image, built by the repository's own script, boots under QEMU (software emulation) with the
 * kernel command line the machine uses: init loads the engine's modules, delegates the cgroup v2 controllers,
 * formats the blank data disk, and runs the agent on the jlink'ed JRE until it reports ready (engine socket up).
 * An ACPI power-button press (what libvirt's graceful shutdown sends) stops the agent and powers the machine
 * off with the disk unmounted. A second boot on the same disk checks it instead of formatting it, and the
 * agent's host key written by the first boot is still there.
 */
@Tag("root")
class BootImageIT {
  private static final Path MODULE = Path.of(System.getProperty("basedir", "."));
  private static final long BOOT_TIMEOUT_S = 180;

  @TempDir Path tmp;

  @Test
  void theGuestBootsToAReadyAgentOnItsDataDiskAndKeepsTheDiskAcrossBoots() throws Exception {
    RequiresRoot.check();
    Path out = MODULE.resolve("target/image"); // kept between runs: the script rebuilds only on new inputs
    Result build = run(List.of("bash", MODULE.resolve("image/build-boot.sh").toString(), out.toString()), 900);
    assertEquals(0, build.exit, build.output);
    long initrd = Files.size(out.resolve("initrd.img"));
    long opt = Files.size(out.resolve("opt.sqfs"));
    assertTrue(initrd > 5_000_000 && opt > 20_000_000 && initrd + opt < 150L * 1024 * 1024,
        "initrd " + initrd + " + opt.sqfs " + opt + " bytes");

    Path disk = tmp.resolve("data.qcow2");
    assertEquals(0, run(List.of("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "2G"), 60).exit);

    String first = bootUntilReadyThenPressPowerButton(out, disk, "boot1");
    assertTrue(first.contains("BERTH-GUEST data disk: /dev/vda formatted (ext4, label berth-data)"), first);
    assertTrue(first.contains("BERTH-GUEST data disk: /dev/vda mounted at /var/lib/berth"), first);
    assertTrue(first.contains("BERTH-GUEST key: /run/berth/authorized_keys"), first);
    assertTrue(first.contains("BERTH-GUEST opt: /dev/vdb mounted at /opt/berth"), first);
    assertTrue(first.contains("BERTH-GUEST network: eth0 10.0.2.15/24 via 10.0.2.2"), first);
    Matcher cg = Pattern.compile("BERTH-GUEST cgroup2: controllers \\[([^]]*)]").matcher(first);
    assertTrue(cg.find(), first);
    for (String c : List.of("cpu", "io", "memory", "pids", "cpuset")) {
      assertTrue((" " + cg.group(1) + " ").contains(" " + c + " "), c + " not delegated: " + cg.group(1));
    }
    Matcher mods = Pattern.compile("BERTH-GUEST modules: loaded \\[([^]]*)] failed \\[([^]]*)]").matcher(first);
    assertTrue(mods.find(), first);
    assertEquals("", mods.group(2), "modules that failed to load");
    for (String m : List.of("overlay", "veth", "bridge", "br_netfilter", "nf_nat", "nf_tables", "nft_compat",
        "xt_MASQUERADE", "xt_conntrack", "xt_addrtype", "iptable_nat", "virtio_blk", "virtio_net", "ext4")) {
      assertTrue((" " + mods.group(1) + " ").contains(" " + m + " "), m + " not loaded: " + mods.group(1));
    }
    String uuid = fsUuid(disk);
    String hostKey = debugfsCat(disk, "/agent/ssh_host_key");
    assertFalse(hostKey.isBlank(), "the agent's host key is on the data disk");

    String second = bootUntilReadyThenPressPowerButton(out, disk, "boot2");
    assertTrue(second.contains("BERTH-GUEST data disk: /dev/vda checked (e2fsck"), second);
    assertFalse(second.contains("formatted"), second);
    assertEquals(uuid, fsUuid(disk), "the second boot made a new filesystem");
    assertEquals(hostKey, debugfsCat(disk, "/agent/ssh_host_key"), "the host key changed across boots");
  }

  /**
   * Boots with the machine's command line and a blank-or-not data disk, waits for the agent's ready line, presses
   * the ACPI power button through QEMU's monitor and waits for QEMU to exit after the guest's poweroff.
   */
  private String bootUntilReadyThenPressPowerButton(Path image, Path disk, String name) throws Exception {
    Path console = tmp.resolve(name + ".log");
    Path monitor = tmp.resolve(name + ".mon");
    String key = Base64.getEncoder().encodeToString(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEI5lrZ9a7JYlZfCz5xJ3sM2g4sBgyJ2I0n1N5u8f9Ih berth-it"
            .getBytes(StandardCharsets.US_ASCII));
    // Software emulation unless told otherwise (-Dberth.guest.accel=kvm): on these CI machines /dev/kvm exists
    // and opens, yet a KVM guest never gets past the BIOS (nested under Firecracker).
    String accel = System.getProperty("berth.guest.accel", "tcg");
    long start = System.nanoTime();
    Process qemu = new ProcessBuilder("qemu-system-x86_64", "-accel", accel, "-nographic", "-m", "1024", "-smp", "2",
        "-no-reboot", "-kernel", image.resolve("vmlinux").toString(), "-initrd", image.resolve("initrd.img").toString(),
        "-append", "console=ttyS0 panic=-1 quiet berth.key=" + key + " berth.data=/dev/vda",
        // the machine's two disks, as the libvirt driver gives them: the data disk first (vda), then /opt/berth
        "-drive", "file=" + disk + ",format=qcow2,if=none,id=data,cache=unsafe",
        "-device", "virtio-blk-pci,drive=data,serial=berth-data,addr=0x5",
        "-drive", "file=" + image.resolve("opt.sqfs") + ",format=raw,if=none,id=opt,readonly=on",
        "-device", "virtio-blk-pci,drive=opt,serial=berth-opt,addr=0x6",
        "-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0",
        "-object", "rng-random,filename=/dev/urandom,id=rng0", "-device", "virtio-rng-pci,rng=rng0",
        "-monitor", "unix:" + monitor + ",server=on,wait=off")
        .redirectErrorStream(true).redirectOutput(console.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    try {
      String log = waitFor(console, qemu, "BERTH-AGENT READY", BOOT_TIMEOUT_S);
      assertNotNull(log, "no BERTH-AGENT READY within " + BOOT_TIMEOUT_S + " s:\n" + read(console));
      double ready = (System.nanoTime() - start) / 1e9;
      // the engine's own log line: its API socket is where the contract puts it
      assertTrue(log.contains("API listening on unix:///run/berth/docker.sock"), log);
      System.out.printf("BootImageIT %s: BERTH-AGENT READY %.1f s after QEMU started%n", name, ready);
      try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        ch.connect(UnixDomainSocketAddress.of(monitor));
        ch.write(ByteBuffer.wrap("system_powerdown\n".getBytes(StandardCharsets.US_ASCII)));
        assertTrue(qemu.waitFor(120, TimeUnit.SECONDS), "no power-off after the power button:\n" + read(console));
      }
      assertEquals(0, qemu.exitValue());
      String all = read(console);
      assertTrue(all.contains("BERTH-GUEST power button: stopping the agent"), all);
      assertTrue(all.contains("BERTH-GUEST agent: exited 0"), all);
      assertTrue(all.contains("BERTH-GUEST data disk: unmounted"), all);
      assertFalse(all.contains("BERTH-GUEST FAILED"), all);
      return all;
    } finally {
      qemu.destroyForcibly();
      qemu.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static String waitFor(Path console, Process qemu, String marker, long timeoutSeconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    while (System.nanoTime() < deadline) {
      String log = read(console);
      if (log.contains(marker)) {
        return log;
      }
      if (!qemu.isAlive()) {
        return null;
      }
      Thread.sleep(250);
    }
    return null;
  }

  /** The UUID of the disk's filesystem (a reformat would change it), read from a raw copy on the host. */
  private String fsUuid(Path disk) throws Exception {
    Result r = run(List.of("dumpe2fs", "-h", raw(disk).toString()), 60);
    assertEquals(0, r.exit, r.output);
    assertTrue(r.output.contains("Filesystem volume name:   berth-data"), r.output);
    Matcher m = Pattern.compile("Filesystem UUID:\\s+(\\S+)").matcher(r.output);
    assertTrue(m.find(), r.output);
    return m.group(1);
  }

  private String debugfsCat(Path disk, String path) throws Exception {
    Result r = run(List.of("debugfs", "-R", "cat " + path, raw(disk).toString()), 60);
    assertEquals(0, r.exit, r.output);
    return r.output.replaceFirst("^debugfs [^\n]*\n", "");
  }

  private Path raw(Path disk) throws Exception {
    Path raw = tmp.resolve("data.raw");
    Files.deleteIfExists(raw);
    Result r = run(List.of("qemu-img", "convert", "-O", "raw", disk.toString(), raw.toString()), 120);
    assertEquals(0, r.exit, r.output);
    return raw;
  }

  private static String read(Path p) throws IOException {
    return Files.readString(p, StandardCharsets.ISO_8859_1);
  }

  private record Result(int exit, String output) {}

  private static Result run(List<String> cmd, long timeoutSeconds) throws IOException, InterruptedException {
    Path log = Files.createTempFile("berth-boot-", ".log");
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        return new Result(-1, "timed out after " + timeoutSeconds + " s:\n" + read(log));
      }
      return new Result(p.exitValue(), read(log));
    } finally {
      Files.deleteIfExists(log);
    }
  }
}
