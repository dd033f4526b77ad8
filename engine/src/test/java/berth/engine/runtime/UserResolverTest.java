package berth.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserResolverTest {
  @TempDir Path tmp;
  Path rootfs;

  @BeforeEach
  void image() throws IOException {
    rootfs = Files.createDirectories(tmp.resolve("rootfs"));
    Files.createDirectories(rootfs.resolve("etc"));
    Files.writeString(rootfs.resolve("etc/passwd"), """
        root:x:0:0:root:/root:/bin/sh
        # a comment line
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
        alice:x:1000:1000:Alice:/home/alice:/bin/sh
        bob:x:1001:100::/home/bob:/bin/sh
        1234:x:2000:2000:numeric name:/home/n:/bin/sh
        """);
    Files.writeString(rootfs.resolve("etc/group"), """
        root:x:0:
        wheel:x:10:alice,root
        users:x:100:alice
        audio:x:29:bob
        alice:x:1000:
        staff:x:50:
        """);
  }

  private UserResolver.ExecUser resolve(String spec, String... groupAdd) throws IOException {
    return UserResolver.resolve(rootfs, spec, List.of(groupAdd));
  }

  @Test
  void emptyUserIsRootWithItsGroups() throws IOException {
    assertEquals(new UserResolver.ExecUser(0, 0, List.of(0L, 10L), "/root"), resolve(""));
  }

  @Test
  void aNameGivesItsIdsHomeAndSupplementaryGroups() throws IOException {
    assertEquals(new UserResolver.ExecUser(1000, 1000, List.of(1000L, 10L, 100L), "/home/alice"), resolve("alice"));
  }

  @Test
  void aNumericUserIsAlwaysAUidEvenWhenANameLooksTheSame() throws IOException {
    assertEquals(1000, resolve("1000").uid());
    assertEquals(List.of(1000L, 10L, 100L), resolve("1000").additionalGids());
    // "1234" is numeric, so it is uid 1234 (no entry), not the user named "1234".
    assertEquals(new UserResolver.ExecUser(1234, 0, List.of(0L), "/"), resolve("1234"));
  }

  @Test
  void aUidWithoutEntryKeepsGidZero() throws IOException {
    assertEquals(new UserResolver.ExecUser(4242, 0, List.of(0L), "/"), resolve("4242"));
    assertEquals(new UserResolver.ExecUser(4242, 4343, List.of(4343L), "/"), resolve("4242:4343"));
  }

  @Test
  void nameColonGroupSetsTheGroupAndDropsSupplementaryOnes() throws IOException {
    assertEquals(new UserResolver.ExecUser(1000, 50, List.of(50L), "/home/alice"), resolve("alice:staff"));
    assertEquals(new UserResolver.ExecUser(1000, 77, List.of(77L), "/home/alice"), resolve("alice:77"));
    assertEquals(new UserResolver.ExecUser(1001, 10, List.of(10L), "/home/bob"), resolve("1001:wheel"));
  }

  @Test
  void groupAddAppendsByNameOrNumber() throws IOException {
    assertEquals(List.of(100L, 29L, 50L, 5555L), resolve("bob", "staff", "5555").additionalGids());
  }

  @Test
  void unknownNamesAreDockersErrors() {
    EngineException e = assertThrows(EngineException.class, () -> resolve("mallory"));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertEquals("unable to find user mallory: no matching entries in passwd file", e.getMessage());
    e = assertThrows(EngineException.class, () -> resolve("alice:nogroup"));
    assertEquals("unable to find group nogroup: no matching entries in group file", e.getMessage());
    e = assertThrows(EngineException.class, () -> resolve("alice", "nogroup"));
    assertEquals("Unable to find group nogroup: no matching entries in group file", e.getMessage());
  }

  @Test
  void idsOutOfRangeAreRejected() {
    EngineException e = assertThrows(EngineException.class, () -> resolve("4294967296"));
    assertEquals("uids and gids must be in range 0-2147483647", e.getMessage());
  }

  @Test
  void withoutPasswdFileOnlyNumbersWork() throws IOException {
    Files.delete(rootfs.resolve("etc/passwd"));
    Files.delete(rootfs.resolve("etc/group"));
    assertEquals(new UserResolver.ExecUser(0, 0, List.of(0L), "/"), resolve(""));
    assertEquals(new UserResolver.ExecUser(33, 44, List.of(44L), "/"), resolve("33:44"));
    EngineException e = assertThrows(EngineException.class, () -> resolve("alice"));
    assertEquals("unable to find user alice: no matching entries in passwd file", e.getMessage());
  }

  @Test
  void aSymlinkPointingOutsideTheRootfsIsNotFollowed() throws IOException {
    Path outside = Files.createDirectories(tmp.resolve("host-etc"));
    Files.writeString(outside.resolve("passwd"), "mallory:x:0:0::/root:/bin/sh\n");
    Files.delete(rootfs.resolve("etc/passwd"));
    // Absolute target: read as <rootfs>/.../host-etc/passwd, which does not exist.
    Files.createSymbolicLink(rootfs.resolve("etc/passwd"), outside.resolve("passwd"));
    EngineException e = assertThrows(EngineException.class, () -> resolve("mallory"));
    assertEquals("unable to find user mallory: no matching entries in passwd file", e.getMessage());

    // Relative target climbing out: ".." stops at the rootfs.
    Files.delete(rootfs.resolve("etc/passwd"));
    Files.createSymbolicLink(rootfs.resolve("etc/passwd"), Path.of("../../host-etc/passwd"));
    assertThrows(EngineException.class, () -> resolve("mallory"));
  }

  @Test
  void aSymlinkInsideTheRootfsIsFollowedWithinIt() throws IOException {
    Files.createDirectories(rootfs.resolve("usr/share/base"));
    Files.move(rootfs.resolve("etc/passwd"), rootfs.resolve("usr/share/base/passwd"));
    // Absolute target, as images write it: resolved against the rootfs, not the host.
    Files.createSymbolicLink(rootfs.resolve("etc/passwd"), Path.of("/usr/share/base/passwd"));
    assertEquals(1000, resolve("alice").uid());
    // A symlinked directory on the way.
    Files.move(rootfs.resolve("etc"), rootfs.resolve("etc.real"));
    Files.createSymbolicLink(rootfs.resolve("etc"), Path.of("etc.real"));
    assertEquals(1001, resolve("bob").uid());
  }

  @Test
  void resolveInRootNeverLeavesTheRoot() throws IOException {
    Files.createSymbolicLink(rootfs.resolve("up"), Path.of("../../../../.."));
    assertEquals(rootfs.resolve("etc/passwd"), UserResolver.resolveInRoot(rootfs, "/up/etc/passwd"));
    assertEquals(rootfs.resolve("etc/passwd"), UserResolver.resolveInRoot(rootfs, "/../../etc/passwd"));
    Files.createSymbolicLink(rootfs.resolve("loop"), Path.of("/loop"));
    assertThrows(IOException.class, () -> UserResolver.resolveInRoot(rootfs, "/loop/x"));
  }
}
