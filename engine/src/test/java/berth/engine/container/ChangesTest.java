package berth.engine.container;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code docker diff} from an upper dir over lower dirs (whiteouts and opaque dirs need root: ContainerFilesIT). */
class ChangesTest {
  @TempDir
  Path tmp;

  private static final FileTime T0 = FileTime.fromMillis(1_700_000_000_000L);

  @Test
  void addedChangedAndRuncsMountPointsLeftOut() throws IOException {
    Path lower = Files.createDirectories(tmp.resolve("lower"));
    Path upper = Files.createDirectories(tmp.resolve("upper"));
    Files.createDirectories(lower.resolve("etc"));
    Files.writeString(lower.resolve("etc/passwd"), "root\n");
    Files.createDirectories(lower.resolve("usr/lib"));
    Files.setLastModifiedTime(lower.resolve("usr"), T0);
    Files.setLastModifiedTime(lower.resolve("usr/lib"), T0);
    Files.setLastModifiedTime(lower.resolve("etc"), T0);

    // a copied-up /etc with a changed passwd and runc's empty mount points
    Files.createDirectories(upper.resolve("etc"));
    Files.writeString(upper.resolve("etc/passwd"), "root\nme\n");
    Files.createFile(upper.resolve("etc/hosts"));
    Files.createFile(upper.resolve("etc/resolv.conf"));
    Files.createDirectories(upper.resolve("proc"));
    Files.createDirectories(upper.resolve("dev/shm"));
    // a copied-up /usr whose mtime is untouched and a new file deep below
    Files.createDirectories(upper.resolve("usr/lib"));
    Files.writeString(upper.resolve("usr/lib/new.so"), "x");
    Files.setLastModifiedTime(upper.resolve("usr/lib"), T0);
    Files.setLastModifiedTime(upper.resolve("usr"), T0);
    // a new tree
    Files.createDirectories(upper.resolve("data/sub"));
    Files.writeString(upper.resolve("data/sub/f"), "f");

    List<Changes.Change> got = Changes.of(upper, List.of(lower));
    assertEquals(List.of(
        new Changes.Change("/data", Changes.ADDED),
        new Changes.Change("/data/sub", Changes.ADDED),
        new Changes.Change("/data/sub/f", Changes.ADDED),
        new Changes.Change("/etc", Changes.MODIFIED),
        new Changes.Change("/etc/passwd", Changes.MODIFIED),
        new Changes.Change("/usr", Changes.MODIFIED),
        new Changes.Change("/usr/lib", Changes.MODIFIED),
        new Changes.Change("/usr/lib/new.so", Changes.ADDED)), got);
  }

  @Test
  void mountPointsAloneAreNoChange() throws IOException {
    Path lower = Files.createDirectories(tmp.resolve("lower"));
    Path upper = Files.createDirectories(tmp.resolve("upper"));
    Files.createDirectories(upper.resolve("etc"));
    Files.createFile(upper.resolve("etc/hostname"));
    Files.createDirectories(upper.resolve("sys"));
    Files.createFile(upper.resolve(".dockerenv"));
    assertEquals(List.of(), Changes.of(upper, List.of(lower)));
    Files.writeString(upper.resolve("etc/hostname"), "written into the rootfs, not the mount\n");
    assertEquals(List.of(new Changes.Change("/etc", Changes.MODIFIED),
        new Changes.Change("/etc/hostname", Changes.MODIFIED)), Changes.of(upper, List.of(lower)));
  }
}
