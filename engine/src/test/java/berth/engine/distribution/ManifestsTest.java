package berth.engine.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ManifestsTest {
  private static final String D = "sha256:" + "a".repeat(64);

  private static JsonNode parse(String s) {
    return Manifests.parse(s.getBytes(StandardCharsets.UTF_8), "manifest");
  }

  @Test
  void readsDockerAndOciManifests() {
    JsonNode m = parse("{\"schemaVersion\":2,\"mediaType\":\"" + Manifests.DOCKER_MANIFEST + "\",\"config\":{\"mediaType\":\""
        + Manifests.DOCKER_CONFIG + "\",\"digest\":\"" + D + "\",\"size\":10},\"layers\":[{\"mediaType\":"
        + "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" + D + "\",\"size\":5}]}");
    String t = Manifests.mediaType(m, "text/plain");
    assertEquals(Manifests.DOCKER_MANIFEST, t);
    Manifests.Image img = Manifests.image(m, t);
    assertEquals(1, img.layers().size());
    assertEquals(5, img.layers().get(0).size());
    // OCI manifests may leave mediaType out: the Content-Type says it
    JsonNode oci = parse("{\"schemaVersion\":2,\"config\":{\"digest\":\"" + D + "\",\"size\":1},\"layers\":[]}");
    assertEquals(Manifests.OCI_MANIFEST, Manifests.mediaType(oci, Manifests.OCI_MANIFEST + "; charset=utf-8"));
    assertTrue(Manifests.isIndex(Manifests.mediaType(parse("{\"schemaVersion\":2,\"manifests\":[]}"), null)));
  }

  @Test
  void refusesWhatItCannotRead() {
    EngineException schema1 = assertThrows(EngineException.class, () -> Manifests.mediaType(parse(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v1+prettyjws\"}"), null));
    assertEquals("unsupported manifest media type and no default available: "
        + "application/vnd.docker.distribution.manifest.v1+prettyjws", schema1.getMessage());
    assertThrows(EngineException.class, () -> parse("{\"schemaVersion\":"));
    assertThrows(EngineException.class, () -> parse("[]"));
    assertThrows(EngineException.class, () -> parse("{\"schemaVersion\":1}"));
    JsonNode badLayer = parse("{\"schemaVersion\":2,\"config\":{\"digest\":\"" + D + "\",\"size\":1},\"layers\":"
        + "[{\"mediaType\":\"application/x-evil\",\"digest\":\"" + D + "\",\"size\":1}]}");
    assertThrows(EngineException.class, () -> Manifests.image(badLayer, Manifests.OCI_MANIFEST));
    JsonNode badDigest = parse("{\"schemaVersion\":2,\"config\":{\"digest\":\"md5:x\",\"size\":1},\"layers\":[]}");
    assertThrows(EngineException.class, () -> Manifests.image(badDigest, Manifests.OCI_MANIFEST));
  }
}
