package berth.engine.content;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class DigestTest {
  private static final String EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  @Test
  void ofBytesIsSha256() {
    assertEquals("sha256:" + EMPTY, Digest.of(new byte[0]).toString());
    assertEquals("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        Digest.of("hello".getBytes(StandardCharsets.UTF_8)).toString());
  }

  @Test
  void parseRoundTripsAndExposesParts() {
    Digest d = Digest.parse("sha256:" + EMPTY);
    assertEquals(EMPTY, d.hex());
    assertEquals("sha256", d.algorithm());
    assertEquals("e3b0c44298fc", d.shortId());
    assertEquals(d, Digest.ofHex(EMPTY));
    assertEquals(d.hashCode(), Digest.ofHex(EMPTY).hashCode());
    assertEquals(0, d.compareTo(Digest.ofHex(EMPTY)));
    assertNotEquals(d, Digest.of(new byte[] {1}));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "", "sha256:", EMPTY, "sha256:" + "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
      "sha512:" + EMPTY, "sha256:" + EMPTY + "0", "sha256:" + "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      " sha256:" + EMPTY, "sha256:" + EMPTY + "\n"})
  void parseRejectsAnythingButSha256LowerHex(String s) {
    EngineException e = assertThrows(EngineException.class, () -> Digest.parse(s));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertEquals("invalid digest: " + s, e.getMessage());
  }

  @Test
  void isValidHexAndOfHexValidate() {
    assertTrue(Digest.isValidHex(EMPTY));
    assertFalse(Digest.isValidHex(null));
    assertFalse(Digest.isValidHex(EMPTY.substring(1)));
    assertFalse(Digest.isValidHex(EMPTY.toUpperCase()));
    assertEquals(ErrorKind.INVALID_PARAMETER,
        assertThrows(EngineException.class, () -> Digest.ofHex("abc")).kind());
  }

  @Test
  void ordersByHex() {
    Digest a = Digest.ofHex("0".repeat(64));
    Digest b = Digest.ofHex("f".repeat(64));
    assertTrue(a.compareTo(b) < 0);
    assertTrue(b.compareTo(a) > 0);
  }
}
