package berth.vm.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import berth.vm.Machine;
import berth.vm.MachineConfig;
import berth.vm.MachineState;
import berth.vm.MachineStatus;
import berth.vm.MachineStore;
import berth.vm.ssh.MachineKey;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link MachineDriver} must do with a real VM (containerd's SnapshotterSuite pattern): a subclass
 * supplies the driver, a config for its host, how the guest shows it booted, how to kill the VM from outside,
 * and how to check the host holds nothing of the machine afterwards.
 */
public abstract class MachineDriverContract {
  /** Per boot: software emulation on a shared 2-core machine can be slow. */
  protected static final Duration BOOT = Duration.ofSeconds(180);
  /** Long enough for the guest's engine to stop under software emulation. */
  protected static final Duration STOP_GRACE = Duration.ofSeconds(90);

  @TempDir
  protected Path scratch;
  private MachineDriver driver;
  private Machine machine;

  /** A new driver for this test; the contract closes it. */
  protected abstract MachineDriver newDriver();

  /** The config to boot with (accel, memory, a share under {@code scratch}, extra kernel arguments). */
  protected abstract MachineConfig config(Path scratch) throws IOException;

  /** A line the guest prints on its console each time it boots. */
  protected abstract String bootMarker();

  /** What the guest's console shows after a graceful stop (its agent stopped cleanly). */
  protected abstract String cleanStopMarker();

  /** Checks what the guest's console shows once it has booted (its devices, shares...); nothing by default. */
  protected void assertBooted(String console) {}

  /** Kills the machine's VM process the way a user or the OOM killer would, behind the driver's back. */
  protected abstract void killFromOutside(Machine m) throws Exception;

  /** Asserts the host keeps nothing of the deleted machine: no VM definition, no processes, no files. */
  protected abstract void assertNothingLeft(Machine m) throws Exception;

  @AfterEach
  void deleteWhateverIsLeft() throws IOException {
    if (driver != null) {
      try {
        if (machine != null) {
          driver.delete(machine);
        }
      } finally {
        driver.close();
      }
    }
  }

  @Test
  void aMachineLivesThroughItsWholeLifeCycle() throws Exception {
    driver = newDriver();
    MachineStore store = new MachineStore(scratch.resolve("home"));
    String name = "contract-" + Long.toHexString(System.nanoTime() & 0xfffff);
    machine = store.create(name, driver.configure(name, config(scratch)));
    Machine m = machine;

    // create twice: the second leaves the first's disk alone
    driver.create(m);
    Path disk = m.dir().dataDisk();
    assertTrue(Files.isRegularFile(disk));
    Files.setLastModifiedTime(disk, FileTime.fromMillis(1_000_000_000_000L));
    driver.create(m);
    assertEquals(FileTime.fromMillis(1_000_000_000_000L), Files.getLastModifiedTime(disk));
    makeSshKey(m);
    assertEquals(MachineState.of(MachineStatus.STOPPED), driver.status(m));

    long t0 = System.nanoTime();
    RunningMachine running = driver.start(m);
    log("start (define + boot QEMU)", t0);
    assertEquals(MachineStatus.RUNNING, driver.status(m).status(), driver.status(m).toString());
    SshEndpoint ssh = driver.sshEndpoint(m);
    assertEquals("127.0.0.1", ssh.host());
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(ssh.host(), ssh.port()), 5000); // the VM's forward listens on the host
    }
    t0 = System.nanoTime();
    awaitConsole(m, bootMarker());
    log("boot to the guest's marker", t0);
    assertBooted(Files.readString(driver.consoleLog(m), StandardCharsets.ISO_8859_1));

    // start while running is a no-op: same VM, same handle, same port
    assertSame(running.exited(), driver.start(m).exited());
    assertEquals(ssh, driver.sshEndpoint(m));
    assertFalse(running.exited().isDone());

    t0 = System.nanoTime();
    driver.stop(m, STOP_GRACE);
    log("stop (graceful)", t0);
    assertEquals(MachineState.of(MachineStatus.STOPPED), driver.status(m));
    assertEquals(0, running.exited().get(10, TimeUnit.SECONDS));
    // a graceful stop, not the forced one after the grace period: the guest says so on its console
    String console = Files.readString(driver.consoleLog(m), StandardCharsets.ISO_8859_1);
    assertTrue(console.contains(cleanStopMarker()), "no \"" + cleanStopMarker() + "\" after stop:\n" + console);
    assertTrue(System.nanoTime() - t0 < STOP_GRACE.toNanos(), "stop took the whole grace period: forced, not clean");
    t0 = System.nanoTime();
    driver.stop(m, STOP_GRACE); // stop while stopped: a no-op
    assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5));

    // start again: the previous boot's console log is kept aside, the new one shows the new boot
    running = driver.start(m);
    awaitConsole(m, bootMarker());
    assertTrue(driver.status(m).status() == MachineStatus.RUNNING);

    // killed from outside: status says so, the handle reports it, a start recovers
    killFromOutside(m);
    MachineState killed = awaitStatus(m, s -> s.status() != MachineStatus.RUNNING);
    assertEquals(MachineStatus.STOPPED, killed.status(), killed.toString());
    assertTrue(killed.reasons().toString().contains("unexpectedly"), killed.toString());
    assertEquals(1, running.exited().get(10, TimeUnit.SECONDS));
    t0 = System.nanoTime();
    driver.start(m);
    log("start after a kill", t0);
    awaitConsole(m, bootMarker());
    assertEquals(MachineState.of(MachineStatus.RUNNING), driver.status(m));

    t0 = System.nanoTime();
    driver.delete(m);
    log("delete (running)", t0);
    assertNothingLeft(m);
    driver.delete(m); // idempotent
    assertEquals(MachineStatus.STOPPED, driver.status(m).status());
    machine = null;
  }

  /** The machine's SSH key pair, made as a machine's creation makes it (before the driver's create). */
  protected static void makeSshKey(Machine m) throws IOException {
    if (!Files.exists(m.dir().sshPublicKey())) {
      MachineKey.generate(m.dir().sshKey());
    }
  }

  protected void awaitConsole(Machine m, String marker) throws Exception {
    Path log = driver.consoleLog(m);
    long deadline = System.nanoTime() + BOOT.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log, StandardCharsets.ISO_8859_1).contains(marker)) {
        return;
      }
      Thread.sleep(250);
    }
    fail("no \"" + marker + "\" on the console within " + BOOT.toSeconds() + " s; status " + driver.status(m)
        + "; console:\n" + (Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "(no log)"));
  }

  private MachineState awaitStatus(Machine m, Predicate<MachineState> done) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    MachineState s = driver.status(m);
    while (!done.test(s) && System.nanoTime() < deadline) {
      Thread.sleep(200);
      s = driver.status(m);
    }
    return s;
  }

  private static void log(String what, long t0) {
    System.out.printf("[contract] %s: %.2f s%n", what, (System.nanoTime() - t0) / 1e9);
  }
}
