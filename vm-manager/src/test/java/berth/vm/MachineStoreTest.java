package berth.vm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MachineStoreTest {
  @TempDir
  Path home;

  @Test
  void aCreatedMachineReadsBackTheSame() throws Exception {
    MachineStore store = new MachineStore(home);
    MachineConfig c = MachineConfigs.fill(MachineConfig.EMPTY.withCpus(1).withMemory("1GiB")
        .withShares(List.of(new MachineConfig.Share("/srv", "/mnt/srv"))).withKernelArgs(List.of("berth.debug")),
        MachineConfigs.BUILTIN);
    Machine m = store.create("dev", c);
    assertEquals(home.resolve("machines/dev"), m.dir().path());
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(m.dir().path())));
    assertTrue(Files.isRegularFile(home.resolve("machines/dev/machine.json")));
    assertEquals(m, new MachineStore(home).get("dev"));
    assertEquals(List.of("dev"), store.names());
    assertEquals(home.resolve("machines/dev/data.qcow2"), m.dir().dataDisk());
    assertEquals(home.resolve("machines/dev/id_ecdsa.pub"), m.dir().sshPublicKey());
  }

  @Test
  void unsetFieldsStayUnsetOnDisk() throws Exception {
    MachineStore store = new MachineStore(home);
    store.create("m", MachineConfig.EMPTY.withCpus(3));
    assertEquals("{\n  \"cpus\" : 3\n}", Files.readString(home.resolve("machines/m/machine.json")));
    assertEquals(MachineConfig.EMPTY.withCpus(3), store.get("m").config());
  }

  @Test
  void aNameInUseIsAConflictAndKeepsTheFirstMachine() throws Exception {
    MachineStore store = new MachineStore(home);
    store.create("dev", MachineConfig.EMPTY.withCpus(1));
    MachineException e = assertThrows(MachineException.class, () -> store.create("dev", MachineConfig.EMPTY.withCpus(2)));
    assertEquals(MachineException.Kind.CONFLICT, e.kind());
    assertTrue(e.getMessage().contains("a machine named \"dev\" already exists"), e.getMessage());
    assertEquals(1, store.get("dev").config().cpus());
  }

  @Test
  void aBadNameIsRefusedBeforeAnythingIsMade() {
    MachineStore store = new MachineStore(home);
    assertEquals(MachineException.Kind.INVALID,
        assertThrows(MachineException.class, () -> store.create("../escape", MachineConfig.EMPTY)).kind());
    assertTrue(Files.notExists(home.resolve("escape")));
  }

  @Test
  void missingIsNotFoundAndCorruptIsBroken() throws Exception {
    MachineStore store = new MachineStore(home);
    assertEquals(Optional.empty(), store.find("nope"));
    assertEquals(MachineException.Kind.NOT_FOUND, assertThrows(MachineException.class, () -> store.get("nope")).kind());
    store.create("bad", MachineConfig.EMPTY);
    Files.writeString(home.resolve("machines/bad/machine.json"), "{\"cpus\": 1, \"colour\": \"red\"}");
    MachineException e = assertThrows(MachineException.class, () -> store.get("bad"));
    assertEquals(MachineException.Kind.BROKEN, e.kind());
    assertTrue(e.getMessage().contains("colour"), e.getMessage());
  }

  @Test
  void deleteAllRemovesTheDirectoryAndIsIdempotent() throws Exception {
    MachineStore store = new MachineStore(home);
    Machine m = store.create("gone", MachineConfig.EMPTY);
    Files.writeString(m.dir().consoleLog(), "boot");
    m.dir().deleteAll();
    m.dir().deleteAll();
    assertTrue(Files.notExists(m.dir().path()));
    assertEquals(List.of(), store.names());
  }
}
