package berth.engine.layer;

import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.io.InputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;

/**
 * How a layer blob is compressed, told apart by its magic bytes as moby's
 * {@code pkg/archive.DetectCompression} does; anything unrecognised is taken as a plain tar.
 */
public enum Compression {
  NONE,
  GZIP,
  ZSTD,
  BZIP2,
  XZ;

  /** The number of leading bytes {@link #detect} looks at. */
  public static final int MAGIC_LENGTH = 6;

  /** The compression whose magic starts {@code head}, which holds {@code len} valid bytes. */
  public static Compression detect(byte[] head, int len) {
    if (startsWith(head, len, 0x1f, 0x8b, 0x08)) {
      return GZIP;
    }
    if (startsWith(head, len, 0x28, 0xb5, 0x2f, 0xfd)) {
      return ZSTD;
    }
    if (startsWith(head, len, 'B', 'Z', 'h')) {
      return BZIP2;
    }
    if (startsWith(head, len, 0xfd, '7', 'z', 'X', 'Z', 0x00)) {
      return XZ;
    }
    return NONE;
  }

  /**
   * Wraps {@code in} in a decompressor (concatenated gzip and bzip2 members are all read); the
   * returned stream closes {@code in}. XZ is recognised but not supported: INVALID_PARAMETER.
   */
  public InputStream decompress(InputStream in) throws IOException {
    return switch (this) {
      case NONE -> in;
      case GZIP -> new GzipCompressorInputStream(in, true);
      case ZSTD -> new ZstdCompressorInputStream(in);
      case BZIP2 -> new BZip2CompressorInputStream(in, true);
      case XZ -> throw EngineException.invalid("invalid layer: xz compression is not supported");
    };
  }

  private static boolean startsWith(byte[] head, int len, int... magic) {
    if (len < magic.length) {
      return false;
    }
    for (int i = 0; i < magic.length; i++) {
      if ((head[i] & 0xff) != magic[i]) {
        return false;
      }
    }
    return true;
  }
}
