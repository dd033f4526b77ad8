package berth.engine.content;

import berth.engine.errdefs.EngineException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * A sha256 content digest such as {@code sha256:<64 lowercase hex>}; an immutable value type
 * (jib's {@code DescriptorDigest}). Only sha256 is accepted, as Docker does for image content.
 */
public final class Digest implements Comparable<Digest> {
  private static final String ALGORITHM = "sha256";
  private static final String PREFIX = ALGORITHM + ":";
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private final String hex;

  private Digest(String hex) {
    this.hex = hex;
  }

  /** Parses {@code sha256:<hex>}; throws INVALID_PARAMETER "invalid digest: ..." otherwise. */
  public static Digest parse(String s) {
    if (s == null || !s.startsWith(PREFIX) || !isValidHex(s.substring(PREFIX.length()))) {
      throw EngineException.invalid("invalid digest: %s", s);
    }
    return new Digest(s.substring(PREFIX.length()));
  }

  /** A digest from its 64 lowercase hex characters; throws INVALID_PARAMETER otherwise. */
  public static Digest ofHex(String hex) {
    if (!isValidHex(hex)) {
      throw EngineException.invalid("invalid digest: %s", hex);
    }
    return new Digest(hex);
  }

  /** The sha256 digest of {@code data}. */
  public static Digest of(byte[] data) {
    MessageDigest md = newSha256();
    return fromBytes(md.digest(data));
  }

  /** Whether {@code s} is exactly 64 lowercase hex characters. */
  public static boolean isValidHex(String s) {
    if (s == null || s.length() != 64) {
      return false;
    }
    for (int i = 0; i < 64; i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  /** A fresh sha256 {@link MessageDigest}: Nettle's where it loads (see {@link NativeSha256}), else the JDK's. */
  public static MessageDigest newSha256() {
    if (NativeSha256.AVAILABLE) {
      return new NativeSha256();
    }
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JRE has no SHA-256", e);
    }
  }

  /** The digest whose raw 32 bytes are {@code sha256} (what {@link MessageDigest#digest()} returns). */
  public static Digest fromBytes(byte[] sha256) {
    if (sha256.length != 32) {
      throw new IllegalArgumentException("a sha256 digest has 32 bytes, not " + sha256.length);
    }
    char[] out = new char[64];
    for (int i = 0; i < 32; i++) {
      out[2 * i] = HEX[(sha256[i] >> 4) & 0xf];
      out[2 * i + 1] = HEX[sha256[i] & 0xf];
    }
    return new Digest(new String(out));
  }

  /** The 64 lowercase hex characters. */
  public String hex() {
    return hex;
  }

  /** Always {@code "sha256"}. */
  public String algorithm() {
    return ALGORITHM;
  }

  /** The first 12 hex characters, as {@code docker images} shows IDs. */
  public String shortId() {
    return hex.substring(0, 12);
  }

  @Override
  public String toString() {
    return PREFIX + hex;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Digest d && d.hex.equals(hex);
  }

  @Override
  public int hashCode() {
    return hex.hashCode();
  }

  @Override
  public int compareTo(Digest o) {
    return hex.compareTo(o.hex);
  }
}
