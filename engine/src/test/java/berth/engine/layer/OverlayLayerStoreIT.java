package berth.engine.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.content.Digest;
import berth.engine.sys.Posix;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("root")
class OverlayLayerStoreIT {
  private static final int S_IFMT = 0170000;
  private static final long MS_RDONLY = 1;

  @TempDir Path base;

  @BeforeEach
  void requireRoot() {
    RequiresRoot.check();
  }

  @Test
  void whiteoutsDevicesAndOwnersWorkAsOverlayLowerDirs() throws IOException {
    OverlayLayerStore store = new OverlayLayerStore(base.resolve("layers"));
    byte[] lowerTar = new TarBuilder()
        .dir("etc", 0755)
        .file("etc/keep", "keep", 0644)
        .file("etc/gone", "gone", 0644)
        .dir("opq", 0755)
        .file("opq/old", "old", 0644)
        .device("dev/chr", TarConstants.LF_CHR, 0666, 1, 3)
        .device("dev/blk", TarConstants.LF_BLK, 0660, 7, 0)
        .device("run/fifo", TarConstants.LF_FIFO, 0600, 0, 0)
        .file("bin/su", "su".getBytes(StandardCharsets.UTF_8), 04755, e -> {})
        .file("home/user/f", "f".getBytes(StandardCharsets.UTF_8), 02750, e -> {
          e.setUserId(1000);
          e.setGroupId(1001);
        })
        .add("home/user/link", TarConstants.LF_SYMLINK, 0777, null, e -> {
          e.setLinkName("f");
          e.setUserId(1000);
          e.setGroupId(1001);
        })
        .add("home/user/dir", TarConstants.LF_DIR, 03775, null, e -> {
          e.setUserId(1000);
          e.setGroupId(1001);
        })
        .tar();
    byte[] upperTar = new TarBuilder()
        .file("etc/.wh.gone", "", 0644)
        .file("opq/.wh..wh..opq", "", 0644)
        .file("opq/new", "new", 0644)
        .file(".wh..wh.plnk", "", 0644)
        .tar();
    Digest lower = store.unpack(new ByteArrayInputStream(lowerTar)).diffId();
    Digest upper = store.unpack(new ByteArrayInputStream(TarBuilder.gzip(upperTar))).diffId();
    Path ld = store.diffDir(lower);
    Path ud = store.diffDir(upper);

    // whiteout = char 0:0, opaque = trusted.overlay.opaque=y, AUFS metadata ignored
    assertEquals(Posix.S_IFCHR, mode(ud.resolve("etc/gone")) & S_IFMT);
    assertEquals(0L, ((Number) Files.getAttribute(ud.resolve("etc/gone"), "unix:rdev")).longValue());
    assertFalse(Files.exists(ud.resolve("etc/.wh.gone"), LinkOption.NOFOLLOW_LINKS));
    assertArrayEquals(new byte[] {'y'}, Posix.lgetxattr(ud.resolve("opq"), "trusted.overlay.opaque"));
    assertNull(Posix.lgetxattr(ld.resolve("opq"), "trusted.overlay.opaque"));
    try (Stream<Path> s = Files.list(ud)) {
      assertEquals(List.of("etc", "opq"), s.map(p -> p.getFileName().toString()).sorted().toList());
    }

    // devices, FIFOs, owners and setuid/setgid/sticky bits are kept
    assertEquals(Posix.S_IFCHR | 0666, mode(ld.resolve("dev/chr")));
    assertEquals(Posix.makedev(1, 3), ((Number) Files.getAttribute(ld.resolve("dev/chr"), "unix:rdev")).longValue());
    assertEquals(Posix.S_IFBLK | 0660, mode(ld.resolve("dev/blk")));
    assertEquals(Posix.makedev(7, 0), ((Number) Files.getAttribute(ld.resolve("dev/blk"), "unix:rdev")).longValue());
    assertEquals(Posix.S_IFIFO | 0600, mode(ld.resolve("run/fifo")));
    assertEquals(04755, mode(ld.resolve("bin/su")) & 07777);
    assertEquals(02750, mode(ld.resolve("home/user/f")) & 07777);
    assertEquals(03775, mode(ld.resolve("home/user/dir")) & 07777);
    for (String p : List.of("home/user/f", "home/user/link", "home/user/dir")) {
      assertEquals(1000, Files.getAttribute(ld.resolve(p), "unix:uid", LinkOption.NOFOLLOW_LINKS), p);
      assertEquals(1001, Files.getAttribute(ld.resolve(p), "unix:gid", LinkOption.NOFOLLOW_LINKS), p);
    }

    // overlayfs honours them: lowerdir=upper:lower
    Path merged = Files.createDirectory(base.resolve("merged"));
    Posix.mount("overlay", merged, "overlay", MS_RDONLY, "lowerdir=" + ud + ":" + ld);
    try {
      assertEquals("keep", Files.readString(merged.resolve("etc/keep")));
      assertFalse(Files.exists(merged.resolve("etc/gone"), LinkOption.NOFOLLOW_LINKS));
      assertFalse(Files.exists(merged.resolve("opq/old"), LinkOption.NOFOLLOW_LINKS));
      assertEquals("new", Files.readString(merged.resolve("opq/new")));
      assertEquals("su", Files.readString(merged.resolve("bin/su")));
    } finally {
      Posix.umount2(merged, 0);
    }

    // and writeTar turns them back into AUFS-style entries
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    store.writeTar(upper, out);
    List<String> names = new ArrayList<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(out.toByteArray()))) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        names.add(e.getName());
        assertTrue(e.getExtraPaxHeaders().keySet().stream().noneMatch(k -> k.contains("trusted.overlay")));
      }
    }
    assertEquals(List.of("etc/", "etc/.wh.gone", "opq/", "opq/.wh..wh..opq", "opq/new"), names);

    ByteArrayOutputStream lowerOut = new ByteArrayOutputStream();
    store.writeTar(lower, lowerOut);
    store.delete(lower);
    Digest again = store.unpack(new ByteArrayInputStream(lowerOut.toByteArray())).diffId();
    Path ad = store.diffDir(again);
    assertEquals(Posix.makedev(1, 3), ((Number) Files.getAttribute(ad.resolve("dev/chr"), "unix:rdev")).longValue());
    assertEquals(04755, mode(ad.resolve("bin/su")) & 07777);
    assertEquals(1000, Files.getAttribute(ad.resolve("home/user/link"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void gzipBombFillsTheDiskCleanly() throws Exception {
    Path mnt = Files.createDirectory(base.resolve("tmpfs"));
    Posix.mount("tmpfs", mnt, "tmpfs", 0, "size=32m");
    try {
      long free = Files.getFileStore(mnt).getUsableSpace();
      OverlayLayerStore store = new OverlayLayerStore(mnt.resolve("layers"));
      byte[] bomb = gzippedZeros(1L << 30);
      assertTrue(bomb.length < 4 << 20, "the bomb itself is small: " + bomb.length);

      IOException e = assertThrows(IOException.class, () -> store.unpack(new ByteArrayInputStream(bomb)));
      assertTrue(String.valueOf(e.getMessage()).contains("No space left on device"), e.toString());

      assertEquals(List.of(), store.list());
      try (Stream<Path> s = Files.walk(mnt)) {
        assertEquals(List.of(mnt, mnt.resolve("layers"), mnt.resolve("layers/tmp")), s.sorted().toList());
      }
      assertEquals(free, Files.getFileStore(mnt).getUsableSpace());
    } finally {
      Posix.umount2(mnt, Posix.MNT_DETACH);
    }
  }

  /** A gzipped tar holding one file of {@code size} zero bytes, built in memory (about 1 MiB per GiB). */
  private static byte[] gzippedZeros(long size) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(out, 1 << 16))) {
      TarArchiveEntry e = new TarArchiveEntry("zeros");
      e.setSize(size);
      tar.putArchiveEntry(e);
      byte[] zeros = new byte[1 << 20];
      for (long left = size; left > 0; left -= zeros.length) {
        tar.write(zeros, 0, (int) Math.min(zeros.length, left));
      }
      tar.closeArchiveEntry();
    }
    return out.toByteArray();
  }

  private static int mode(Path p) throws IOException {
    return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
  }
}
