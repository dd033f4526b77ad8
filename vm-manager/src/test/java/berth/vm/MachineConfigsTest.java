package berth.vm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MachineConfigsTest {
  private static final MachineConfigs.Host HOST = new MachineConfigs.Host(4, 8L << 30);

  @TempDir
  Path tmp;

  @Test
  void fillTakesUpperFieldsAndLowerForTheRest() {
    MachineConfig user = MachineConfig.EMPTY.withCpus(1).withKernelArgs(List.of("berth.debug"));
    MachineConfig filled = MachineConfigs.fill(user, MachineConfigs.BUILTIN);
    assertEquals(1, filled.cpus());
    assertEquals("2GiB", filled.memory());
    assertEquals("64GiB", filled.disk());
    assertEquals("libvirt", filled.driver());
    assertEquals("auto", filled.accel());
    assertEquals(List.of("berth.debug"), filled.kernelArgs());
    assertEquals(List.of(), filled.shares());
  }

  @Test
  void fillReplacesListsWholeAndDefaultsShareTargetsToTheirSource() {
    MachineConfig lower = MachineConfigs.fill(
        MachineConfig.EMPTY.withShares(List.of(new MachineConfig.Share("/a", null))), MachineConfigs.BUILTIN);
    MachineConfig upper = MachineConfig.EMPTY.withShares(List.of(new MachineConfig.Share("/b", null)));
    MachineConfig filled = MachineConfigs.fill(upper, lower);
    assertEquals(List.of(new MachineConfig.Share("/b", "/b")), filled.shares());
    assertEquals(List.of(new MachineConfig.Share("/a", "/a")), lower.shares());
  }

  @Test
  void aGoodConfigHasNoProblems() throws Exception {
    Path share = Files.createDirectory(tmp.resolve("src"));
    MachineConfig c = MachineConfigs.fill(MachineConfig.EMPTY.withMemory("512MiB").withDisk("1G")
        .withShares(List.of(new MachineConfig.Share(share.toString(), "/mnt/src"))), MachineConfigs.BUILTIN);
    assertEquals(List.of(), MachineConfigs.problems("dev-1", c, HOST));
    assertEquals(512, c.memoryMib());
    assertEquals(1L << 30, c.diskBytes());
  }

  @Test
  void validateReportsEveryProblemAtOnce() throws Exception {
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    MachineConfig c = MachineConfigs.fill(MachineConfig.EMPTY.withCpus(9).withMemory("256MiB").withDisk("lots")
        .withAccel("warp").withKernelArgs(List.of("berth.key=abc", "two words"))
        .withShares(List.of(new MachineConfig.Share("relative/dir", null),
            new MachineConfig.Share(file.toString(), "/x"),
            new MachineConfig.Share(tmp.resolve("gone").toString(), "/x"),
            new MachineConfig.Share(tmp.toString(), "/with space"))), MachineConfigs.BUILTIN);
    MachineException e = assertThrows(MachineException.class, () -> MachineConfigs.validate("Bad Name!", c, HOST));
    assertEquals(MachineException.Kind.INVALID, e.kind());
    String m = e.getMessage();
    for (String expected : List.of("name \"Bad Name!\" is not a valid machine name", "cpus 9 is more than this host has (4)",
        "memory 256MiB is too little: the guest needs at least 512MiB", "disk: size \"lots\" is not a number with a unit",
        "accel \"warp\" is not one of", "kernel argument \"berth.key=abc\" is set by Berth itself",
        "kernel argument \"two words\" is empty or holds blanks",
        "share source \"relative/dir\" is not an absolute path", "share target \"relative/dir\" is not an absolute guest path", "\" is not a directory", "gone\" does not exist",
        "share target \"/x\" is used by two shares", "share target \"/with space\" is not an absolute guest path")) {
      assertTrue(m.contains(expected), "missing <" + expected + "> in:\n" + m);
    }
    assertEquals(13, m.lines().filter(l -> l.startsWith("  - ")).count(), m);
  }

  @Test
  void aShareMayNotCoverTheGuestsOwnDirectories() {
    for (String t : List.of("/var", "/var/lib", "/var/lib/berth/x", "/opt", "/run", "/usr/local", "/proc", "/etc/x")) {
      assertTrue(MachineConfigs.guestSystemPath(t).isPresent(), t);
    }
    // what Docker Desktop users share: their home, /tmp, /Users, /Volumes, macOS's /var/folders, /mnt, /srv
    for (String t : List.of("/home/u/src", "/tmp/x", "/Users/u", "/Volumes/disk", "/var/folders/ab", "/mnt/data", "/srv",
        "/opt/tools", "/data")) {
      assertEquals(java.util.Optional.empty(), MachineConfigs.guestSystemPath(t), t);
    }
  }

  @Test
  void memoryBeyondTheHostIsAProblem() {
    MachineConfig c = MachineConfigs.fill(MachineConfig.EMPTY.withMemory("16GiB"), MachineConfigs.BUILTIN);
    assertEquals(List.of("memory 16GiB is more than this host has (8192MiB)"), MachineConfigs.problems("m", c, HOST));
  }

  @Test
  void sizesUseBinaryUnits() {
    assertEquals(512L << 20, MachineConfigs.bytes("512MiB"));
    assertEquals(512L << 20, MachineConfigs.bytes("512M"));
    assertEquals(2L << 30, MachineConfigs.bytes("2GiB"));
    assertEquals(2L << 30, MachineConfigs.bytes("2gb"));
    assertEquals(1L << 40, MachineConfigs.bytes("1T"));
    assertThrows(IllegalArgumentException.class, () -> MachineConfigs.bytes("2048")); // no unit: ambiguous
    assertThrows(IllegalArgumentException.class, () -> MachineConfigs.bytes("-1G"));
    assertThrows(IllegalArgumentException.class, () -> MachineConfigs.bytes("99999999999999999999G"));
  }
}
