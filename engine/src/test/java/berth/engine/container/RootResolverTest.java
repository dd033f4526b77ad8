package berth.engine.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Chroot-like resolution of container paths: symlinks and {@code ..} never leave the root or a mount's source. */
class RootResolverTest {
  @TempDir
  Path tmp;
  Path root;
  Path vol;
  Path hostsFile;
  RootResolver fs;

  @BeforeEach
  void layout() throws IOException {
    root = Files.createDirectories(tmp.resolve("rootfs"));
    vol = Files.createDirectories(tmp.resolve("volume"));
    hostsFile = Files.writeString(tmp.resolve("hosts"), "127.0.0.1 localhost\n");
    Files.createDirectories(root.resolve("etc"));
    Files.createDirectories(root.resolve("data/inner"));
    Files.writeString(root.resolve("etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    Files.createSymbolicLink(root.resolve("x"), Path.of("/"));
    Files.createSymbolicLink(root.resolve("y"), Path.of("../../../../etc"));
    Files.createSymbolicLink(root.resolve("loop"), Path.of("loop"));
    Files.createSymbolicLink(root.resolve("etc/rel"), Path.of("passwd"));
    Files.createSymbolicLink(vol.resolve("up"), Path.of("../../../.."));
    fs = new RootResolver(root, List.of(new RootResolver.Mount("/data", vol, false),
        new RootResolver.Mount("/etc/hosts", hostsFile, true)));
  }

  @Test
  void dotDotStopsAtTheRoot() throws IOException {
    RootResolver.Resolved r = fs.resolve("/../../../etc/passwd", false);
    assertEquals("/etc/passwd", r.containerPath());
    assertEquals(root.resolve("etc/passwd"), r.hostPath());
  }

  @Test
  void absoluteSymlinkToSlashIsTheContainersRoot() throws IOException {
    assertEquals(root.resolve("etc/passwd"), fs.resolve("/x/etc/passwd", false).hostPath());
    assertEquals(root, fs.resolve("/x", true).hostPath());
    assertEquals(root.resolve("x"), fs.resolve("/x", false).hostPath(), "the last component is kept as a link");
  }

  @Test
  void relativeSymlinkClimbingOutIsClampedAtTheRoot() throws IOException {
    RootResolver.Resolved r = fs.resolve("/y/passwd", false);
    assertEquals("/etc/passwd", r.containerPath());
    assertTrue(r.hostPath().startsWith(root));
  }

  @Test
  void relativeSymlinkResolvesFromItsDirectory() throws IOException {
    assertEquals("/etc/passwd", fs.resolve("/etc/rel", true).containerPath());
  }

  @Test
  void pathsUnderAMountResolveInItsSourceLongestDestinationFirst() throws IOException {
    RootResolver.Resolved r = fs.resolve("/data/inner/f", false);
    assertEquals(vol.resolve("inner/f"), r.hostPath(), "the mount's source, not the rootfs's /data");
    assertEquals("/data", r.mount().destination());
    assertEquals(hostsFile, fs.resolve("/etc/hosts", false).hostPath());
    assertTrue(fs.resolve("/etc/hosts", false).mount().readOnly());
    assertNull(fs.resolve("/etc/passwd", false).mount());
  }

  @Test
  void aSymlinkInsideAMountClimbsToTheContainersRootNotTheHosts() throws IOException {
    RootResolver.Resolved r = fs.resolve("/data/up/etc/passwd", false);
    assertEquals("/etc/passwd", r.containerPath());
    assertEquals(root.resolve("etc/passwd"), r.hostPath());
  }

  @Test
  void symlinkLoopIsAnError() {
    EngineException e = assertThrows(EngineException.class, () -> fs.resolve("/loop/a", false));
    assertTrue(e.getMessage().contains("too many levels of symbolic links"), e.getMessage());
  }

  @Test
  void missingComponentsAreAppendedAsGiven() throws IOException {
    RootResolver.Resolved r = fs.resolve("/nope/a/../b", false);
    assertEquals("/nope/b", r.containerPath());
    assertFalse(RootResolver.exists(r.hostPath()));
  }

  @Test
  void mountedChildrenAndMountPoints() {
    assertEquals(java.util.Set.of("data"), fs.mountedChildren("/"));
    assertEquals(java.util.Set.of("hosts"), fs.mountedChildren("/etc"));
    assertTrue(fs.isMountPoint("/etc/hosts"));
    assertFalse(fs.isMountPoint("/etc"));
  }

  @Test
  void archiveNamesThatClimbOutAreCaught() {
    assertTrue(ContainerFiles.escapes("../x"));
    assertTrue(ContainerFiles.escapes("a/../../x"));
    assertFalse(ContainerFiles.escapes("a/../b"));
    assertFalse(ContainerFiles.escapes("./a/./b/"));
    assertEquals("/a/b", RootResolver.clean("../../a/./b/"));
  }

  @Test
  void goFileModeMatchesGo() {
    assertEquals(2147484141L, ContainerFiles.goFileMode(0040755), "os.ModeDir|0755");
    assertEquals((1L << 27) | 0777, ContainerFiles.goFileMode(0120777));
    assertEquals(0644, ContainerFiles.goFileMode(0100644));
    assertEquals((1L << 26) | (1L << 21) | 0666, ContainerFiles.goFileMode(0020666));
    assertEquals((1L << 31) | (1L << 20) | 0777, ContainerFiles.goFileMode(0041777));
  }

  @Test
  void readsBindMountsFromAnOciSpec() throws IOException {
    Path spec = tmp.resolve("config.json");
    Files.writeString(spec, "{\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        + "{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/var/x/hosts\",\"options\":[\"rbind\",\"ro\"]},"
        + "{\"destination\":\"/data/\",\"source\":\"/srv/d\",\"options\":[\"rbind\"]}]}");
    assertEquals(List.of(new RootResolver.Mount("/etc/hosts", Path.of("/var/x/hosts"), true),
        new RootResolver.Mount("/data", Path.of("/srv/d"), false)), ContainerView.readMounts(spec));
    assertEquals(List.of(), ContainerView.readMounts(tmp.resolve("absent.json")));
  }
}
