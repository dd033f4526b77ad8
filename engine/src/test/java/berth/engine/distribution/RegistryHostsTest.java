package berth.engine.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.image.Reference;
import java.util.List;
import org.junit.jupiter.api.Test;

class RegistryHostsTest {
  private static List<String> bases(RegistryHosts h, String image) {
    return h.endpoints(Reference.parse(image).domain()).stream().map(e -> e.base().toString()).toList();
  }

  @Test
  void dockerHubNamesGoToRegistry1WithTheLibraryPrefix() {
    RegistryHosts h = new RegistryHosts(List.of(), List.of(), null);
    assertEquals(List.of("https://registry-1.docker.io"), bases(h, "busybox"));
    assertEquals(List.of("https://registry-1.docker.io"), bases(h, "docker.io/library/busybox:1.36"));
    assertEquals(List.of("https://registry-1.docker.io"), bases(h, "index.docker.io/user/app"));
    assertEquals("library/busybox", Reference.parse("busybox").path());
    assertEquals("user/app", Reference.parse("user/app").path());
  }

  @Test
  void mirrorsComeFirstForDockerHubOnly() {
    RegistryHosts h = new RegistryHosts(List.of(), List.of("http://127.0.0.1:5001/", "https://mirror.example:443"), null);
    List<RegistryHosts.Endpoint> eps = h.endpoints("docker.io");
    assertEquals(List.of("http://127.0.0.1:5001", "https://mirror.example:443", "https://registry-1.docker.io"),
        eps.stream().map(e -> e.base().toString()).toList());
    assertTrue(eps.get(0).mirror());
    assertFalse(eps.get(2).mirror());
    assertEquals(List.of("https://quay.io"), bases(h, "quay.io/org/app"));
  }

  @Test
  void plainHttpOnlyForInsecureRegistriesAndLoopback() {
    RegistryHosts h = new RegistryHosts(List.of("registry.lan:5000", "10.1.0.0/16"), List.of(), null);
    assertEquals(List.of("https://localhost:5000", "http://localhost:5000"), bases(h, "localhost:5000/a"));
    assertEquals(List.of("https://127.0.0.1:5000", "http://127.0.0.1:5000"), bases(h, "127.0.0.1:5000/a"));
    assertEquals(List.of("https://127.8.9.10:5000", "http://127.8.9.10:5000"), bases(h, "127.8.9.10:5000/a"));
    assertEquals(List.of("https://registry.lan:5000", "http://registry.lan:5000"), bases(h, "registry.lan:5000/a"));
    assertEquals(List.of("https://registry.lan:5001"), bases(h, "registry.lan:5001/a"));
    assertEquals(List.of("https://10.1.2.3:443", "http://10.1.2.3:443"), bases(h, "10.1.2.3:443/a"));
    assertEquals(List.of("https://10.2.0.1"), bases(h, "10.2.0.1/a"));
    assertEquals(List.of("https://128.0.0.1:5000"), bases(h, "128.0.0.1:5000/a"));
  }

  @Test
  void loginDomainOfServerAddresses() {
    assertEquals("docker.io", Registry.loginDomain(null));
    assertEquals("docker.io", Registry.loginDomain("https://index.docker.io/v1/"));
    assertEquals("127.0.0.1:5000", Registry.loginDomain("127.0.0.1:5000"));
    assertEquals("127.0.0.1:5000", Registry.loginDomain("http://127.0.0.1:5000/v2/"));
    assertEquals("reg.example", Registry.loginDomain("reg.example/some/path"));
  }
}
