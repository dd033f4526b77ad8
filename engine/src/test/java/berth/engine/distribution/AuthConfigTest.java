package berth.engine.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class AuthConfigTest {
  @Test
  void headerIsBase64UrlJson() {
    String json = "{\"username\":\"alice\",\"password\":\"p?>/~\",\"serveraddress\":\"127.0.0.1:5000\"}";
    AuthConfig a = AuthConfig.fromHeader(Base64.getUrlEncoder().encodeToString(json.getBytes(StandardCharsets.UTF_8)));
    assertEquals("alice", a.username());
    assertEquals("p?>/~", a.password());
    assertTrue(a.hasPassword());
    assertEquals("Basic " + Base64.getEncoder().encodeToString("alice:p?>/~".getBytes(StandardCharsets.UTF_8)), a.basic());
    // standard base64 (with + and /) is read too, as dockerd's decoder is lenient about it
    AuthConfig b = AuthConfig.fromHeader(Base64.getEncoder().encodeToString(json.getBytes(StandardCharsets.UTF_8)));
    assertEquals("p?>/~", b.password());
  }

  @Test
  void emptyHeaderOrEmptyObjectIsAnonymous() {
    assertSame(AuthConfig.ANONYMOUS, AuthConfig.fromHeader(null));
    assertSame(AuthConfig.ANONYMOUS, AuthConfig.fromHeader(""));
    assertFalse(AuthConfig.fromHeader(Base64.getUrlEncoder().encodeToString("{}".getBytes())).hasPassword());
  }

  @Test
  void legacyAuthFieldFillsUserAndPassword() {
    String auth = Base64.getEncoder().encodeToString("bob:s:cret".getBytes(StandardCharsets.UTF_8));
    AuthConfig a = AuthConfig.fromJson(("{\"auth\":\"" + auth + "\"}").getBytes(StandardCharsets.UTF_8));
    assertEquals("bob", a.username());
    assertEquals("s:cret", a.password());
  }

  @Test
  void garbageIsInvalidAndSecretsNeverPrint() {
    assertThrows(EngineException.class, () -> AuthConfig.fromHeader("%%%"));
    assertThrows(EngineException.class, () -> AuthConfig.fromHeader(Base64.getUrlEncoder().encodeToString("[1".getBytes())));
    AuthConfig a = new AuthConfig("u", "hunter2", null, "s", "tok", null);
    assertFalse(a.toString().contains("hunter2"));
    assertFalse(a.toString().contains("tok"));
  }

  @Test
  void buildRegistryConfigPicksTheEntryOfTheImagesDomain() {
    String hub = Base64.getEncoder().encodeToString("hubuser:hubpw".getBytes(StandardCharsets.UTF_8));
    String json = "{\"https://index.docker.io/v1/\":{\"auth\":\"" + hub + "\"},"
        + "\"localhost:5000\":{\"username\":\"alice\",\"password\":\"pw\",\"serveraddress\":\"localhost:5000\"},"
        + "\"http://10.0.0.1:5000\":{\"username\":\"carol\",\"password\":\"x\"}}";
    String header = Base64.getUrlEncoder().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    assertEquals("hubuser", AuthConfig.forDomain(header, "docker.io").username());
    assertEquals("hubpw", AuthConfig.forDomain(header, "docker.io").password());
    assertEquals("alice", AuthConfig.forDomain(header, "localhost:5000").username());
    assertEquals("carol", AuthConfig.forDomain(header, "10.0.0.1:5000").username());
    assertSame(AuthConfig.ANONYMOUS, AuthConfig.forDomain(header, "localhost:5001"));
    assertSame(AuthConfig.ANONYMOUS, AuthConfig.forDomain(null, "docker.io"));
    assertSame(AuthConfig.ANONYMOUS, AuthConfig.forDomain(Base64.getUrlEncoder().encodeToString("{}".getBytes()), "docker.io"));
    assertThrows(EngineException.class, () -> AuthConfig.forDomain("%%%", "docker.io"));
    assertThrows(EngineException.class, () -> AuthConfig.forDomain(Base64.getUrlEncoder().encodeToString("[1]".getBytes()), "x"));
  }
}
