package berth.engine.testing;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/** Builds small tar streams in memory for tests, PAX format with long names allowed. */
public final class TarBuilder {
  public static final Instant MTIME = Instant.parse("2021-03-04T05:06:07.1234567Z");

  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final TarArchiveOutputStream tar;

  public TarBuilder() {
    tar = new TarArchiveOutputStream(bytes, StandardCharsets.UTF_8.name());
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    tar.setAddPaxHeadersForNonAsciiNames(true);
  }

  public TarBuilder dir(String name, int mode) {
    return add(name, TarConstants.LF_DIR, mode, null, e -> {});
  }

  public TarBuilder file(String name, String content, int mode) {
    return file(name, content.getBytes(StandardCharsets.UTF_8), mode, e -> {});
  }

  public TarBuilder file(String name, byte[] content, int mode, Consumer<TarArchiveEntry> tweak) {
    return add(name, TarConstants.LF_NORMAL, mode, content, tweak);
  }

  public TarBuilder symlink(String name, String target) {
    return add(name, TarConstants.LF_SYMLINK, 0777, null, e -> e.setLinkName(target));
  }

  public TarBuilder hardlink(String name, String target) {
    return add(name, TarConstants.LF_LINK, 0644, null, e -> e.setLinkName(target));
  }

  public TarBuilder device(String name, byte type, int mode, int major, int minor) {
    return add(name, type, mode, null, e -> {
      e.setDevMajor(major);
      e.setDevMinor(minor);
    });
  }

  /** Adds any entry; {@code tweak} can set owners, times, link names or PAX headers. */
  public TarBuilder add(String name, byte type, int mode, byte[] content, Consumer<TarArchiveEntry> tweak) {
    TarArchiveEntry e = new TarArchiveEntry(name, type, true);
    e.setMode(mode);
    e.setLastModifiedTime(FileTime.from(MTIME));
    if (content != null) {
      e.setSize(content.length);
    }
    tweak.accept(e);
    try {
      tar.putArchiveEntry(e);
      if (content != null) {
        tar.write(content);
      }
      tar.closeArchiveEntry();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    return this;
  }

  /** Adds PAX headers, e.g. {@code SCHILY.xattr.user.k}, to an entry. */
  public static Consumer<TarArchiveEntry> pax(Map<String, String> headers) {
    return e -> headers.forEach(e::addPaxHeader);
  }

  /** The finished tar, with its end-of-archive blocks. */
  public byte[] tar() {
    try {
      tar.close();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    return bytes.toByteArray();
  }

  public static byte[] gzip(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    return out.toByteArray();
  }

  public static byte[] zstd(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ZstdOutputStream z = new ZstdOutputStream(out)) {
      z.write(data);
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    return out.toByteArray();
  }
}
