package berth.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.content.Digest;
import berth.engine.layer.MountSpec;
import berth.engine.layer.OverlayLayerStore;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TarBuilder;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A container's root filesystem: image layers plus a writable layer, really mounted with overlayfs. */
@Tag("root")
class MountsIT {
  @TempDir Path dir;

  @BeforeAll
  static void root() {
    RequiresRoot.check();
  }

  @Test
  void writableLayerOverImageLayersShowsTheImageAndKeepsWritesInTheUpperDir() throws Exception {
    OverlayLayerStore store = new OverlayLayerStore(dir.resolve("layers"));
    Digest base = store.unpack(new ByteArrayInputStream(new TarBuilder()
        .file("etc/os", "base", 0644).file("gone", "x", 0644).tar())).diffId();
    Digest top = store.unpack(new ByteArrayInputStream(new TarBuilder()
        .file(".wh.gone", "", 0644).file("added", "top", 0644).tar())).diffId();
    MountSpec spec = store.prepare("c1", List.of(base, top));
    Path rootfs = dir.resolve("rootfs");
    Mounts.mount(spec, rootfs);
    try {
      assertTrue(Mounts.isMountPoint(rootfs));
      assertEquals("base", Files.readString(rootfs.resolve("etc/os")));
      assertEquals("top", Files.readString(rootfs.resolve("added")));
      assertFalse(Files.exists(rootfs.resolve("gone")), "the whiteout hides the lower file");
      Files.writeString(rootfs.resolve("written"), "by the container");
      Files.writeString(rootfs.resolve("etc/os"), "changed");
    } finally {
      Mounts.unmount(rootfs);
    }
    assertFalse(Mounts.isMountPoint(rootfs));
    Path upper = store.writableDir("c1");
    assertEquals("by the container", Files.readString(upper.resolve("written")));
    assertEquals("changed", Files.readString(upper.resolve("etc/os")), "copy-up lands in the upper dir");
    assertEquals("base", Files.readString(store.diffDir(base).resolve("etc/os")), "image layers stay untouched");
    Mounts.unmount(rootfs); // not mounted any more: no error
    store.removeWritable("c1");
    assertEquals(List.of(), store.writableKeys());
  }
}
