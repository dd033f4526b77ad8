package berth.engine.build;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorOutputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The builder's pure parts: ADD's archive detection, a failed RUN's output tail, the context size limit. */
class BuilderPartsTest {
  @TempDir
  Path dir;

  private static byte[] tar(boolean ustar) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(b)) {
      byte[] data = "hello\n".getBytes(StandardCharsets.UTF_8);
      TarArchiveEntry e = new TarArchiveEntry("hello.txt");
      e.setSize(data.length);
      t.putArchiveEntry(e);
      t.write(data);
      t.closeArchiveEntry();
    }
    byte[] out = b.toByteArray();
    if (!ustar) { // a v7 header: no magic, checksum recomputed
      java.util.Arrays.fill(out, 257, 265, (byte) 0);
      long sum = 0;
      for (int i = 0; i < 512; i++) {
        sum += i >= 148 && i < 156 ? ' ' : out[i] & 0xff;
      }
      byte[] field = String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(field, 0, out, 148, 8);
    }
    return out;
  }

  private interface Wrap {
    OutputStream wrap(OutputStream o) throws IOException;
  }

  private Path file(String name, byte[] raw, Wrap w) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (OutputStream o = w.wrap(b)) {
      o.write(raw);
    }
    return Files.write(dir.resolve(name), b.toByteArray());
  }

  @Test
  void addUnpacksTarsCompressedWithGzipBzip2OrXzAndCopiesEverythingElse() throws IOException {
    byte[] tar = tar(true);
    for (Path p : new Path[] {file("a.tar", tar, o -> o), file("a.tar.gz", tar, GZIPOutputStream::new),
        file("a.tar.bz2", tar, BZip2CompressorOutputStream::new), file("a.tar.xz", tar, XZCompressorOutputStream::new),
        file("v7.tar", tar(false), o -> o), file("named-oddly.bin", tar, XZCompressorOutputStream::new)}) {
      assertTrue(Copier.isArchive(p), p.toString());
      if (!p.getFileName().toString().equals("v7.tar")) {
        assertArrayEquals(tar, tarOf(p), "decompressed back to the tar: " + p);
      }
    }
    byte[] text = "just text, not a tar\n".repeat(40).getBytes(StandardCharsets.UTF_8);
    for (Path p : new Path[] {file("notes.txt", text, o -> o), file("notes.txt.gz", text, GZIPOutputStream::new),
        file("notes.xz", text, XZCompressorOutputStream::new), file("corrupt.xz",
        new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3}, o -> o), file("empty", new byte[0], o -> o)}) {
      assertFalse(Copier.isArchive(p), p + " is copied as a file, as dockerd does");
    }
  }

  /** The decompressed bytes of an archive file (for the v7 tar, itself). */
  private static byte[] tarOf(Path p) throws IOException {
    try (InputStream in = Copier.decompress(Files.newInputStream(p))) {
      return in.readAllBytes();
    }
  }

  @Test
  void aFailedRunsErrorEndsWithItsLastTenOutputLines() {
    StringBuilder out = new StringBuilder();
    for (int i = 1; i <= 15; i++) {
      out.append("line ").append(i).append('\n');
    }
    out.append("\n\n");
    String tail = Builder.lastLines(out);
    assertTrue(tail.startsWith("\nlast output:\n  line 6\n"), tail);
    assertTrue(tail.endsWith("  line 15"), tail);
    assertEquals(10, tail.split("\n  ").length - 1, tail);
    assertEquals("", Builder.lastLines(""));
    assertEquals("", Builder.lastLines("\n \n"));
    assertEquals("\nlast output:\n  no newline", Builder.lastLines("no newline"));
  }

  @Test
  void aContextOverTheLimitIsRefusedAndNothingIsLeft() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(b)) {
      for (String n : new String[] {"Dockerfile", "big"}) {
        byte[] data = n.equals("big") ? new byte[200_000] : "FROM scratch\n".getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry e = new TarArchiveEntry(n);
        e.setSize(data.length);
        t.putArchiveEntry(e);
        t.write(data);
        t.closeArchiveEntry();
      }
    }
    byte[] ctx = b.toByteArray();
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    EngineException e = assertThrows(EngineException.class,
        () -> BuildContext.spool(new ByteArrayInputStream(ctx), tmp, "Dockerfile", 100_000));
    assertTrue(e.getMessage().startsWith("the build context is larger than this engine accepts (100000 bytes"),
        e.getMessage());
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (OutputStream o = new GZIPOutputStream(gz)) {
      o.write(ctx);
    }
    assertTrue(gz.size() < 100_000);
    assertThrows(EngineException.class, () -> BuildContext.spool(new ByteArrayInputStream(gz.toByteArray()), tmp,
        "Dockerfile", 100_000), "the limit counts what the gzip unpacks to");
    try (var left = Files.list(tmp)) {
      assertEquals(0, left.count(), "the spooled part is removed");
    }
    try (BuildContext ok = BuildContext.spool(new ByteArrayInputStream(ctx), tmp, "Dockerfile", 1_000_000)) {
      assertEquals(200_000, Files.size(ok.files().resolve("big")));
    }
  }
}
