package berth.vm.ssh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MachineKeyTest {
  @TempDir Path dir;

  @Test
  void generatesAnOwnerOnlyOpenSshKeyThatLoadsBack() throws Exception {
    Path key = dir.resolve("id");
    String line = MachineKey.generate(key);
    assertTrue(line.startsWith("ecdsa-sha2-nistp256 AAAA"), line);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
    assertTrue(Files.readString(key).startsWith("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assertEquals(line + "\n", Files.readString(MachineKey.publicKeyFile(key)));
    KeyPair kp = MachineKey.load(key);
    assertTrue(KeyUtils.compareKeys(kp.getPublic(), PublicKeyEntry.parsePublicKeyEntry(line).resolvePublicKey(null, null, null)));
  }

  @Test
  void neverOverwritesAndNamesBadFiles() throws IOException {
    Path key = dir.resolve("id");
    MachineKey.generate(key);
    assertThrows(FileAlreadyExistsException.class, () -> MachineKey.generate(key));
    Files.writeString(dir.resolve("junk"), "not a key\n");
    IOException e = assertThrows(IOException.class, () -> MachineKey.load(dir.resolve("junk")));
    assertTrue(e.getMessage().contains("junk"), e.getMessage());
    assertThrows(IOException.class, () -> MachineKey.load(dir.resolve("missing")));
  }

  @Test
  void thePinnedKeyIsTheFirstKeyLine() {
    assertEquals("ecdsa-sha2-nistp256 AAAAx", PinnedHostKey.firstKey("# c\n\necdsa-sha2-nistp256 AAAAx comment\nssh-rsa B\n"));
    assertEquals("", PinnedHostKey.firstKey("garbage\n"));
  }
}
