package berth.engine.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import berth.engine.testing.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OverlayLayerStoreTest {
  @TempDir Path base;
  private Path root;
  private Path outside;
  private Path sentinel;
  private OverlayLayerStore store;

  @BeforeEach
  void open() throws IOException {
    root = base.resolve("layers");
    outside = Files.createDirectory(base.resolve("outside"));
    sentinel = Files.writeString(outside.resolve("sentinel"), "original");
    store = new OverlayLayerStore(root);
  }

  private static final String LONG_NAME =
      "deep/" + "d".repeat(120) + "/" + "f".repeat(150) + ".txt";

  private static byte[] sampleTar() {
    return new TarBuilder()
        .dir("./etc/", 0755)
        .file("./etc/hosts", "127.0.0.1 localhost\n", 0644)
        .file("etc/secret", "s3cret", 0600)
        .dir("bin", 0711)
        .file("bin/tool", "#!/bin/sh\necho hi\n", 0755)
        .symlink("bin/link", "/etc/hosts")
        .hardlink("bin/tool-again", "bin/tool")
        .file(LONG_NAME, "long", 0644)
        .file("usr/lib/implicit/parent.so", "elf", 0644)
        .tar();
  }

  @Test
  void unpacksPlainTarWithMetadata() throws IOException {
    byte[] tar = sampleTar();
    UnpackedLayer layer = store.unpack(new ByteArrayInputStream(tar));

    assertEquals(Digest.of(tar), layer.diffId());
    long expectedSize = "127.0.0.1 localhost\n".length() + "s3cret".length()
        + "#!/bin/sh\necho hi\n".length() + "long".length() + "elf".length();
    assertEquals(expectedSize, layer.size());
    assertEquals(expectedSize, store.size(layer.diffId()));
    assertTrue(store.exists(layer.diffId()));
    assertEquals(List.of(layer.diffId()), store.list());

    Path diff = store.diffDir(layer.diffId());
    assertEquals(root.resolve(layer.diffId().hex()).resolve("diff"), diff);
    assertEquals("127.0.0.1 localhost\n", Files.readString(diff.resolve("etc/hosts")));
    assertEquals("rw-------", perms(diff.resolve("etc/secret")));
    assertEquals("rwx--x--x", perms(diff.resolve("bin")));
    assertEquals("rwxr-xr-x", perms(diff.resolve("bin/tool")));
    assertTrue(Files.isSymbolicLink(diff.resolve("bin/link")));
    assertEquals("/etc/hosts", Files.readSymbolicLink(diff.resolve("bin/link")).toString());
    assertEquals(Files.getAttribute(diff.resolve("bin/tool"), "unix:ino"),
        Files.getAttribute(diff.resolve("bin/tool-again"), "unix:ino"));
    assertEquals(2, Files.getAttribute(diff.resolve("bin/tool"), "unix:nlink"));
    assertEquals("long", Files.readString(diff.resolve(LONG_NAME)));
    assertEquals("elf", Files.readString(diff.resolve("usr/lib/implicit/parent.so")));
    assertEquals("rwxr-xr-x", perms(diff.resolve("usr/lib/implicit")));
    // PAX mtime keeps nanoseconds, for files, symlinks and directories alike.
    FileTime want = FileTime.from(TarBuilder.MTIME);
    assertEquals(want, Files.getLastModifiedTime(diff.resolve("etc/hosts")));
    assertEquals(want, Files.getLastModifiedTime(diff.resolve("bin"), LinkOption.NOFOLLOW_LINKS));
    assertEquals(want, Files.getLastModifiedTime(diff.resolve("bin/link"), LinkOption.NOFOLLOW_LINKS));
    assertEquals(want, Files.getLastModifiedTime(diff.resolve("etc")));
    assertTmpEmpty();
  }

  @Test
  void laterEntriesReplaceEarlierOnes() throws IOException {
    byte[] tar = new TarBuilder()
        .file("a", "first", 0644)
        .file("a", "second", 0600)
        .dir("d", 0755)
        .file("d/child", "x", 0644)
        .file("d", "now a file", 0644)
        .dir("e", 0700)
        .dir("e", 0755)
        .tar();
    Path diff = store.diffDir(store.unpack(new ByteArrayInputStream(tar)).diffId());
    assertEquals("second", Files.readString(diff.resolve("a")));
    assertEquals("rw-------", perms(diff.resolve("a")));
    assertEquals("now a file", Files.readString(diff.resolve("d")));
    assertEquals("rwxr-xr-x", perms(diff.resolve("e")));
  }

  @Test
  void xattrsFromPaxHeadersAreSet() throws IOException {
    byte[] tar = new TarBuilder()
        .file("f", "x".getBytes(StandardCharsets.UTF_8), 0644,
            TarBuilder.pax(Map.of("SCHILY.xattr.user.berth", "value")))
        .tar();
    Path diff = store.diffDir(store.unpack(new ByteArrayInputStream(tar)).diffId());
    assertArrayEquals("value".getBytes(StandardCharsets.UTF_8),
        berth.engine.sys.Posix.lgetxattr(diff.resolve("f"), "user.berth"));
  }

  @Test
  void binaryXattrValuesSurviveWriteTarAndUnpack() throws IOException {
    // security.capability values are binary; they must not pass through a UTF-8 String.
    byte[] value = {0x01, 0x00, 0x00, 0x02, (byte) 0xff, (byte) 0xc3, 0x28, 0x00, (byte) 0x80};
    Digest d = store.unpack(new ByteArrayInputStream(new TarBuilder().file("f", "x", 0644).tar())).diffId();
    berth.engine.sys.Posix.lsetxattr(store.diffDir(d).resolve("f"), "user.bin", value);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    store.writeTar(d, out);
    store.delete(d);
    Digest again = store.unpack(new ByteArrayInputStream(out.toByteArray())).diffId();
    assertArrayEquals(value, berth.engine.sys.Posix.lgetxattr(store.diffDir(again).resolve("f"), "user.bin"));
  }

  @Test
  void compressedLayersHaveTheDiffIdOfTheirTar() throws IOException {
    byte[] tar = sampleTar();
    Digest plain = Digest.of(tar);
    assertEquals(plain, store.unpack(new ByteArrayInputStream(TarBuilder.gzip(tar))).diffId());
    store.delete(plain);
    assertFalse(store.exists(plain));
    assertEquals(plain, store.unpack(new ByteArrayInputStream(TarBuilder.zstd(tar))).diffId());
    store.delete(plain);
    // concatenated gzip members are one stream, as `cat a.gz b.gz` makes
    byte[] half1 = TarBuilder.gzip(Arrays.copyOf(tar, 1000));
    byte[] half2 = TarBuilder.gzip(Arrays.copyOfRange(tar, 1000, tar.length));
    byte[] both = Arrays.copyOf(half1, half1.length + half2.length);
    System.arraycopy(half2, 0, both, half1.length, half2.length);
    assertEquals(plain, store.unpack(new ByteArrayInputStream(both)).diffId());
    assertEquals("long", Files.readString(store.diffDir(plain).resolve(LONG_NAME)));
  }

  @Test
  void diffIdCoversBytesAfterTheEndBlocks() throws IOException {
    byte[] tar = new TarBuilder().file("a", "x", 0644).tar();
    byte[] padded = Arrays.copyOf(tar, tar.length + 4096);
    assertEquals(Digest.of(padded), store.unpack(new ByteArrayInputStream(padded)).diffId());
  }

  @Test
  void unpackingTheSameLayerTwiceIsIdempotent() throws IOException {
    byte[] tar = sampleTar();
    UnpackedLayer first = store.unpack(new ByteArrayInputStream(tar));
    Path marker = store.diffDir(first.diffId()).resolve("etc/hosts");
    Object inode = Files.getAttribute(marker, "unix:ino");
    UnpackedLayer second = store.unpack(new ByteArrayInputStream(TarBuilder.gzip(tar)));
    assertEquals(first, second);
    assertEquals(inode, Files.getAttribute(marker, "unix:ino"), "the existing copy is kept");
    assertEquals(List.of(first.diffId()), store.list());
    assertTmpEmpty();
  }

  @Test
  void endBlocksOnlyIsAnEmptyLayer() throws IOException {
    byte[] tar = new byte[1024];
    UnpackedLayer layer = store.unpack(new ByteArrayInputStream(tar));
    assertEquals(Digest.of(tar), layer.diffId());
    assertEquals(0, layer.size());
    try (Stream<Path> s = Files.list(store.diffDir(layer.diffId()))) {
      assertEquals(0, s.count());
    }
  }

  @Test
  void deleteRemovesLayerAndToleratesAbsence() throws IOException {
    Digest d = store.unpack(new ByteArrayInputStream(sampleTar())).diffId();
    store.delete(d);
    assertFalse(store.exists(d));
    assertFalse(Files.exists(root.resolve(d.hex())));
    store.delete(d);
    assertEquals(List.of(), store.list());
    assertEquals(ErrorKind.NOT_FOUND, assertThrows(EngineException.class, () -> store.size(d)).kind());
    assertEquals(ErrorKind.NOT_FOUND, assertThrows(EngineException.class,
        () -> store.writeTar(d, new ByteArrayOutputStream())).kind());
  }

  @Test
  void writeTarReproducesTheLayer() throws IOException {
    Digest d = store.unpack(new ByteArrayInputStream(sampleTar())).diffId();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    store.writeTar(d, out);
    byte[] tar = out.toByteArray();

    Map<String, TarArchiveEntry> entries = new java.util.LinkedHashMap<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        entries.put(e.getName(), e);
      }
    }
    assertEquals(List.of("bin/", "bin/link", "bin/tool", "bin/tool-again", "deep/",
        "deep/" + "d".repeat(120) + "/", LONG_NAME, "etc/", "etc/hosts", "etc/secret",
        "usr/", "usr/lib/", "usr/lib/implicit/", "usr/lib/implicit/parent.so"),
        List.copyOf(entries.keySet()));
    assertTrue(entries.get("bin/tool-again").isLink());
    assertEquals("bin/tool", entries.get("bin/tool-again").getLinkName());
    assertEquals("/etc/hosts", entries.get("bin/link").getLinkName());
    assertEquals(0600, entries.get("etc/secret").getMode());
    assertEquals(TarBuilder.MTIME.getEpochSecond(),
        entries.get("etc/hosts").getLastModifiedTime().toInstant().getEpochSecond());

    // The tar unpacks again into an equal layer, and writing is deterministic.
    Digest again = store.unpack(new ByteArrayInputStream(tar)).diffId();
    assertEquals(Digest.of(tar), again);
    ByteArrayOutputStream out2 = new ByteArrayOutputStream();
    store.writeTar(again, out2);
    assertArrayEquals(tar, out2.toByteArray());
    assertEquals("#!/bin/sh\necho hi\n", Files.readString(store.diffDir(again).resolve("bin/tool")));
  }

  // ---- hostile and malformed layers: INVALID_PARAMETER, nothing left anywhere ----

  @Test
  void dotDotEscapeIsRejected() throws IOException {
    assertRejected(new TarBuilder().file("a/../../../../outside/sentinel", "pwned", 0644).tar(),
        "invalid layer: path escapes layer root: a/../../../../outside/sentinel");
  }

  @Test
  void absolutePathThatEscapesIsRejected() throws IOException {
    assertRejected(new TarBuilder().file("/../outside/sentinel", "pwned", 0644).tar(),
        "invalid layer: path escapes layer root: /../outside/sentinel");
  }

  @Test
  void absolutePathsAreMadeRelative() throws IOException {
    byte[] tar = new TarBuilder().file("/etc/motd", "hi", 0644).tar();
    Path diff = store.diffDir(store.unpack(new ByteArrayInputStream(tar)).diffId());
    assertEquals("hi", Files.readString(diff.resolve("etc/motd")));
  }

  @Test
  void writingThroughASymlinkParentIsRejected() throws IOException {
    assertRejected(new TarBuilder()
            .symlink("a", outside.toString())
            .file("a/sentinel", "pwned", 0644).tar(),
        "invalid layer: path traverses a symlink: a/sentinel");
  }

  @Test
  void symlinkParentIsRejectedForDirectoriesToo() throws IOException {
    assertRejected(new TarBuilder()
            .symlink("a", outside.toString())
            .dir("a/newdir", 0755).tar(),
        "invalid layer: path traverses a symlink: a/newdir/");
    assertFalse(Files.exists(outside.resolve("newdir")));
  }

  @Test
  void hardLinkOutsideTheLayerIsRejected() throws IOException {
    assertRejected(new TarBuilder().hardlink("h", "../../../../outside/sentinel").tar(),
        "invalid layer: hard link target escapes layer root: h -> ../../../../outside/sentinel");
    assertRejected(new TarBuilder().hardlink("h", outside.resolve("sentinel").toString()).tar(),
        "invalid layer: hard link target is not an earlier entry of the layer: h -> "
            + outside.resolve("sentinel"));
  }

  @Test
  void hardLinkThroughAnEscapingSymlinkIsRejected() throws IOException {
    assertRejected(new TarBuilder()
            .symlink("a", outside.toString())
            .hardlink("h", "a/sentinel").tar(),
        "invalid layer: hard link target is not an earlier entry of the layer: h -> a/sentinel");
    assertEquals(1, Files.getAttribute(sentinel, "unix:nlink"));
  }

  @Test
  void hardLinkToASymlinkLinksTheSymlinkItself() throws IOException {
    // link(2) does not follow the last component, so this cannot reach the target.
    byte[] tar = new TarBuilder()
        .symlink("s", sentinel.toString())
        .hardlink("h", "s")
        .file("h2", "x", 0644)
        .tar();
    Path diff = store.diffDir(store.unpack(new ByteArrayInputStream(tar)).diffId());
    assertTrue(Files.isSymbolicLink(diff.resolve("h")));
    assertEquals(1, Files.getAttribute(sentinel, "unix:nlink"));
    assertEquals("original", Files.readString(sentinel));
  }

  @Test
  void hardLinkToADirectoryIsRejected() throws IOException {
    assertRejected(new TarBuilder().dir("d", 0755).hardlink("h", "d").tar(),
        "invalid layer: hard link to a directory: h -> d");
  }

  @Test
  void whiteoutNamedDotDotIsRejected() throws IOException {
    assertRejected(new TarBuilder().file("a/.wh...", "", 0644).tar(),
        "invalid layer: invalid whiteout name: a/.wh...");
  }

  @Test
  void truncatedTarIsRejected() throws IOException {
    byte[] tar = new TarBuilder().file("big", new byte[5000], 0644, e -> {}).tar();
    assertRejected(Arrays.copyOf(tar, 512 + 3000), "invalid layer: Truncated TAR archive");
    assertRejected(Arrays.copyOf(tar, 300), "invalid layer: unexpected end of tar stream (truncated header)");
  }

  @Test
  void truncatedGzipIsRejected() throws IOException {
    byte[] gz = TarBuilder.gzip(sampleTar());
    assertRejected(Arrays.copyOf(gz, gz.length / 2), null);
    assertRejected(Arrays.copyOf(gz, gz.length - 4), null);
  }

  @Test
  void truncatedZstdIsRejected() throws IOException {
    byte[] z = TarBuilder.zstd(sampleTar());
    assertRejected(Arrays.copyOf(z, z.length / 2), null);
  }

  @Test
  void emptyBlobIsRejected() throws IOException {
    assertRejected(new byte[0], "invalid layer: empty");
  }

  @Test
  void garbageIsRejected() throws IOException {
    byte[] junk = new byte[64 * 1024];
    new Random(42).nextBytes(junk);
    junk[0] = 'x';
    assertRejected(junk, null);
    assertRejected("this is not a tar file at all, just a line of text\n".getBytes(StandardCharsets.UTF_8), null);
  }

  @Test
  void badHeaderChecksumIsRejected() throws IOException {
    byte[] tar = new TarBuilder().file("a", "x", 0644).tar();
    tar[0] = 'b'; // the name changes but the stored checksum does not
    assertRejected(tar, "invalid layer: invalid tar header checksum");
  }

  @Test
  void failingSourceIsAnIoErrorNotAnInvalidLayer() throws IOException {
    byte[] gz = TarBuilder.gzip(sampleTar());
    InputStream failing = new InputStream() {
      int pos;

      @Override
      public int read() throws IOException {
        if (pos >= gz.length / 2) {
          throw new IOException("connection reset");
        }
        return gz[pos++] & 0xff;
      }
    };
    IOException e = assertThrows(IOException.class, () -> store.unpack(failing));
    assertEquals("connection reset", e.getMessage());
    assertStoreUntouched();
  }

  @Test
  void failureAfterManyEntriesLeavesNothing() throws IOException {
    TarBuilder b = new TarBuilder();
    for (int i = 0; i < 50; i++) {
      b.file("dir" + (i % 5) + "/file" + i, "content " + i, 0400);
      b.dir("ro" + i, 0555);
    }
    b.file("z/../../escape", "x", 0644);
    assertRejected(b.tar(), "invalid layer: path escapes layer root: z/../../escape");
  }

  @Test
  void leftoverTempDirsAreRemovedOnOpen() throws IOException {
    Path stale = Files.createDirectories(root.resolve("tmp/crashed/diff/x"));
    Files.writeString(stale.resolve("f"), "half");
    new OverlayLayerStore(root);
    assertTmpEmpty();
  }

  @Test
  void cleanNormalisesNames() {
    assertEquals("a/b", TarUnpacker.clean("./a/./b/"));
    assertEquals("a/b", TarUnpacker.clean("/a//b"));
    assertEquals("b", TarUnpacker.clean("a/../b"));
    assertEquals("", TarUnpacker.clean("./"));
    assertEquals(ErrorKind.INVALID_PARAMETER,
        assertThrows(EngineException.class, () -> TarUnpacker.clean("a/../../b")).kind());
  }

  private void assertRejected(byte[] blob, String message) throws IOException {
    EngineException e = assertThrows(EngineException.class,
        () -> store.unpack(new ByteArrayInputStream(blob)));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind(), e.getMessage());
    if (message != null) {
      assertEquals(message, e.getMessage());
    } else {
      assertTrue(e.getMessage().startsWith("invalid layer: "), e.getMessage());
    }
    assertStoreUntouched();
  }

  private void assertStoreUntouched() throws IOException {
    try (Stream<Path> s = Files.list(root)) {
      assertEquals(List.of(root.resolve("tmp")), s.toList());
    }
    assertTmpEmpty();
    assertEquals("original", Files.readString(sentinel));
    try (Stream<Path> s = Files.list(outside)) {
      assertEquals(List.of(sentinel), s.toList());
    }
    try (Stream<Path> s = Files.list(base)) {
      assertEquals(2, s.count());
    }
  }

  private void assertTmpEmpty() throws IOException {
    try (Stream<Path> s = Files.list(root.resolve("tmp"))) {
      assertEquals(List.of(), s.toList());
    }
  }

  private static String perms(Path p) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  @SuppressWarnings("unused")
  private static final byte UNUSED = TarConstants.LF_NORMAL;
}
