package berth.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Docker's reference normalisation (distribution/reference ParseNormalizedNamed and FamiliarString). */
class ReferenceTest {
  private static final String HEX = "0123456789abcdef".repeat(4);
  private static final String DIGEST = "sha256:" + HEX;

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // input                                  | name                                | tag    | digest   | familiar
      "busybox                                  | docker.io/library/busybox           | -      | -        | busybox",
      "busybox:1.36                             | docker.io/library/busybox           | 1.36   | -        | busybox:1.36",
      "library/busybox                          | docker.io/library/busybox           | -      | -        | busybox",
      "docker.io/library/busybox                | docker.io/library/busybox           | -      | -        | busybox",
      "docker.io/busybox                        | docker.io/library/busybox           | -      | -        | busybox",
      "index.docker.io/busybox                  | docker.io/library/busybox           | -      | -        | busybox",
      "index.docker.io/library/busybox:latest   | docker.io/library/busybox           | latest | -        | busybox:latest",
      "user/repo                                | docker.io/user/repo                 | -      | -        | user/repo",
      "docker.io/user/repo:v2                   | docker.io/user/repo                 | v2     | -        | user/repo:v2",
      "docker.io/library/a/b                    | docker.io/library/a/b               | -      | -        | library/a/b",
      "localhost                                | docker.io/library/localhost         | -      | -        | localhost",
      "localhost:5000                           | docker.io/library/localhost         | 5000   | -        | localhost:5000",
      "localhost/x                              | localhost/x                         | -      | -        | localhost/x",
      "localhost:5000/a/b:tag                   | localhost:5000/a/b                  | tag    | -        | localhost:5000/a/b:tag",
      "registry.example.com/library/busybox     | registry.example.com/library/busybox| -      | -        | registry.example.com/library/busybox",
      "Registry.Example.com/ns/img              | Registry.Example.com/ns/img         | -      | -        | Registry.Example.com/ns/img",
      "[::1]:5000/ns/img:v1                     | [::1]:5000/ns/img                   | v1     | -        | [::1]:5000/ns/img:v1",
      "a__b/c-d--e/f.g_h                        | docker.io/a__b/c-d--e/f.g_h         | -      | -        | a__b/c-d--e/f.g_h",
  })
  void normalisesAsDockerDoes(String input, String name, String tag, String digest, String familiar) {
    Reference r = Reference.parse(input);
    assertEquals(name, r.name());
    assertEquals(tag, r.tag());
    assertEquals(digest, r.digest());
    assertEquals(familiar, r.familiar());
  }

  @Test
  void digestReferenceKeepsRegistryPortAndPath() {
    Reference r = Reference.parse("registry.example.com:443/ns/img@" + DIGEST);
    assertEquals("registry.example.com:443", r.domain());
    assertEquals("ns/img", r.path());
    assertNull(r.tag());
    assertEquals(DIGEST, r.digest());
    assertEquals("registry.example.com:443/ns/img@" + DIGEST, r.toString());
    assertEquals("registry.example.com:443/ns/img@" + DIGEST, r.familiar());
  }

  @Test
  void tagAndDigestTogetherAreBothKept() {
    Reference r = Reference.parse("busybox:1.36@" + DIGEST);
    assertEquals("1.36", r.tag());
    assertEquals(DIGEST, r.digest());
    assertEquals("docker.io/library/busybox:1.36@" + DIGEST, r.toString());
    assertEquals("busybox:1.36@" + DIGEST, r.familiar());
  }

  @Test
  void familiarNameDropsLibraryOnlyForSingleComponentOfficialImages() {
    assertEquals("busybox", Reference.parse("docker.io/library/busybox").familiarName());
    assertEquals("library/a/b", Reference.parse("docker.io/library/a/b").familiarName());
    assertEquals("libraryx/a", Reference.parse("libraryx/a").familiarName());
    assertEquals("localhost:5000/library/a", Reference.parse("localhost:5000/library/a").familiarName());
  }

  @Test
  void defaultTagIsLatestOnlyWithoutTagOrDigest() {
    assertEquals("docker.io/library/busybox:latest", Reference.parse("busybox").withDefaultTag().toString());
    assertEquals("busybox:latest", Reference.parse("busybox").withDefaultTag().familiar());
    assertEquals("1.36", Reference.parse("busybox:1.36").withDefaultTag().tag());
    assertNull(Reference.parse("busybox@" + DIGEST).withDefaultTag().tag());
    assertEquals("busybox:v9", Reference.parse("busybox@" + DIGEST).withTag("v9").familiar());
    assertEquals("busybox@" + DIGEST, Reference.parse("busybox:1").withDigest(DIGEST).familiar());
  }

  @Test
  void uppercaseRepositoryIsInvalidAndSaysLowercase() {
    EngineException e = assertThrows(EngineException.class, () -> Reference.parse("Foo"));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertEquals("invalid reference format: repository name (library/Foo) must be lowercase", e.getMessage());
    assertTrue(assertThrows(EngineException.class, () -> Reference.parse("localhost:5000/Ns/img")).getMessage()
        .contains("must be lowercase"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"a//b", "a:", ":tag", "", "/a", "a/", "a@sha256:abc", "a@md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "-a", "a-", "a..b",
      "a___b", "a:-tag", "a:.tag", "a:t@g", "a b", "a/b c", "busybox:1.36:extra", "exa_mple.com:5000/a",
      "example.com:port/a"})
  void malformedReferencesAreInvalid(String s) {
    EngineException e = assertThrows(EngineException.class, () -> Reference.parse(s), s);
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertTrue(e.getMessage().startsWith("invalid reference format"), e.getMessage());
  }

  @Test
  void nullIsInvalid() {
    assertThrows(EngineException.class, () -> Reference.parse(null));
  }

  @Test
  void sixtyFourHexRepositoryNameIsRejected() {
    EngineException e = assertThrows(EngineException.class, () -> Reference.parse(HEX));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertEquals("invalid repository name (" + HEX + "), cannot specify 64-byte hexadecimal strings", e.getMessage());
    // 63 hex digits are an ordinary name
    assertEquals("docker.io/library/" + HEX.substring(1), Reference.parse(HEX.substring(1)).name());
  }

  @Test
  void tagMayHave128CharactersButNot129() {
    String t128 = "t".repeat(128);
    assertEquals(t128, Reference.parse("busybox:" + t128).tag());
    assertThrows(EngineException.class, () -> Reference.parse("busybox:" + t128 + "x"));
  }

  @Test
  void repositoryNameMayNotExceed255Characters() {
    String path = "a".repeat(255 - "docker.io/".length() - "x/".length());
    assertEquals(255, Reference.parse("x/" + path).name().length());
    EngineException e = assertThrows(EngineException.class, () -> Reference.parse("x/" + path + "a"));
    assertEquals("invalid reference format: repository name must not be more than 255 characters", e.getMessage());
  }

  @Test
  void looksLikeIdAcceptsFullOrShortHexWithOrWithoutAlgorithm() {
    assertTrue(Reference.looksLikeId(DIGEST));
    assertTrue(Reference.looksLikeId(HEX));
    assertTrue(Reference.looksLikeId("sha256:0123ab"));
    assertTrue(Reference.looksLikeId("0123ab"));
    assertFalse(Reference.looksLikeId("busybox"));
    assertFalse(Reference.looksLikeId("0123AB"));
    assertFalse(Reference.looksLikeId(""));
    assertFalse(Reference.looksLikeId("sha256:"));
    assertFalse(Reference.looksLikeId(HEX + "0"));
    assertFalse(Reference.looksLikeId("sha512:" + HEX));
  }
}
