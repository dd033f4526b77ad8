package berth.engine.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class PlatformTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static JsonNode manifests(String json) throws Exception {
    return JSON.readTree(json);
  }

  @Test
  void defaultIsLinuxAmd64AndAliasesNormalise() {
    assertEquals(new Platform("linux", "amd64", null), Platform.parse(null));
    assertEquals(new Platform("linux", "amd64", null), Platform.parse(""));
    assertEquals(new Platform("linux", "amd64", null), Platform.parse("linux/x86_64"));
    assertEquals(new Platform("linux", "arm64", null), Platform.parse("linux/aarch64"));
    assertEquals(new Platform("linux", "arm64", null), Platform.parse("linux/arm64/v8"));
    assertEquals(new Platform("linux", "arm", "v7"), Platform.parse("linux/arm/v7"));
    assertThrows(EngineException.class, () -> Platform.parse("linux//"));
    assertThrows(EngineException.class, () -> Platform.parse("a/b/c/d"));
  }

  @Test
  void choosesTheEnginePlatformWhateverTheOrder() throws Exception {
    JsonNode ms = manifests("[{\"digest\":\"arm\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
        + "{\"digest\":\"att\",\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
        + "{\"digest\":\"amd\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]");
    assertEquals("amd", Platform.DEFAULT.choose(ms).path("digest").asText());
    assertEquals("arm", Platform.parse("linux/arm64").choose(ms).path("digest").asText());
    assertNull(Platform.parse("linux/s390x").choose(ms));
    assertNull(Platform.parse("windows/amd64").choose(ms));
  }

  @Test
  void variantMustMatchWhenAsked() throws Exception {
    JsonNode ms = manifests("[{\"digest\":\"v6\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
        + "{\"digest\":\"v7\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}}]");
    assertEquals("v7", Platform.parse("linux/arm/v7").choose(ms).path("digest").asText());
    assertEquals("v6", Platform.parse("linux/arm").choose(ms).path("digest").asText());
  }

  @Test
  void anIndexWithoutPlatformsGivesItsOnlyEntry() throws Exception {
    assertEquals("only", Platform.DEFAULT.choose(manifests("[{\"digest\":\"only\"}]")).path("digest").asText());
    assertNull(Platform.DEFAULT.choose(manifests("[{\"digest\":\"a\"},{\"digest\":\"b\"}]")));
  }
}
