package berth.engine.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.config.ConfigLoader.InvalidConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** parse → merge with flags → fill defaults → validate, for a daemon.json-shaped file. */
class ConfigLoaderTest {
  @TempDir
  Path dir;

  private Path file(String json) throws IOException {
    return Files.writeString(dir.resolve("daemon.json"), json);
  }

  private static EngineConfig flags(String dataRoot, Boolean debug, List<String> hosts) {
    return new EngineConfig(dataRoot, null, hosts, null, null, null, null, null, null, debug, null, null, null, null, null, null, null, null, null);
  }

  private static String failure(ThrowingLoad load) {
    return assertThrows(InvalidConfigException.class, load::run).getMessage();
  }

  @FunctionalInterface
  private interface ThrowingLoad {
    void run() throws Exception;
  }

  @Test
  void unknownKeyIsRefusedAndNamed() throws IOException {
    Path f = file("{\"debug\": true, \"experimental-zorb\": 1, \"graph\": \"/x\"}");
    String m = failure(() -> ConfigLoader.parse(f));
    assertTrue(m.contains("don't match any configuration option"), m);
    assertTrue(m.contains("experimental-zorb"), m);
    assertTrue(m.contains("graph"), m);
    assertFalse(m.contains("debug"), m);
  }

  @Test
  void wronglyTypedValueNamesTheKey() throws IOException {
    Path f = file("{\"debug\": \"yes\"}");
    String m = failure(() -> ConfigLoader.parse(f));
    assertTrue(m.startsWith("invalid value for configuration option debug:"), m);

    Path g = file("{\"hosts\": \"unix:///run/b.sock\"}");
    assertTrue(failure(() -> ConfigLoader.parse(g)).startsWith("invalid value for configuration option hosts:"));

    Path h = file("{\"default-address-pools\": [{\"base\": \"10.0.0.0/8\", \"size\": \"big\"}]}");
    assertTrue(failure(() -> ConfigLoader.parse(h)).startsWith(
        "invalid value for configuration option default-address-pools:"));
  }

  @Test
  void malformedJsonIsRefusedNamingTheFile() throws IOException {
    Path f = file("{\"debug\": true,");
    String m = failure(() -> ConfigLoader.parse(f));
    assertTrue(m.startsWith("invalid JSON in config file " + f), m);
  }

  @Test
  void fileThatIsNotAJsonObjectIsRefused() throws IOException {
    for (String json : List.of("[1]", "[]", "42", "\"debug\"", "true")) {
      Path f = file(json);
      String m = failure(() -> ConfigLoader.parse(f));
      assertEquals("config file " + f + " must hold a JSON object", m, json);
    }
  }

  @Test
  void emptyFileEmptyObjectAndNullSetNothing() throws Exception {
    assertEquals(EngineConfig.empty(), ConfigLoader.parse(file("")));
    assertEquals(EngineConfig.empty(), ConfigLoader.parse(file("  \n")));
    assertEquals(EngineConfig.empty(), ConfigLoader.parse(file("null")));
    assertEquals(EngineConfig.empty(), ConfigLoader.parse(file("{}")));
  }

  @Test
  void missingFileIsRefusedNamingIt() {
    Path f = dir.resolve("absent.json");
    assertTrue(failure(() -> ConfigLoader.parse(f)).startsWith("unable to read config file " + f));
  }

  @Test
  void keySetInFileAndByFlagIsAConflictNamingIt() throws IOException {
    Path f = file("{\"debug\": true, \"data-root\": \"/srv/berth\", \"log-driver\": \"local\"}");
    String m = failure(() -> ConfigLoader.load(f, flags("/data", false, null)));
    assertTrue(m.startsWith("the following directives are specified both as a flag and in the configuration file: "), m);
    assertTrue(m.contains("debug: (from flag: false, from file: true)"), m);
    assertTrue(m.contains("data-root: (from flag: /data, from file: /srv/berth)"), m);
    assertFalse(m.contains("log-driver"), m);
  }

  @Test
  void flagsAndFileMergeWhenTheySetDifferentKeys() throws Exception {
    Path f = file("{\"log-driver\": \"local\", \"insecure-registries\": [\"10.0.0.0/8\"]}");
    EngineConfig c = ConfigLoader.load(f, flags("/data", true, null));
    assertEquals("/data", c.dataRoot());
    assertEquals(Boolean.TRUE, c.debug());
    assertEquals("local", c.logDriver());
    assertEquals(List.of("10.0.0.0/8"), c.insecureRegistries());
  }

  @Test
  void defaultsAreFilledIntoEveryUnsetKey() throws Exception {
    EngineConfig c = ConfigLoader.load(null, EngineConfig.empty());
    assertEquals("/var/lib/berth", c.dataRoot());
    assertEquals(List.of("unix:///run/berth/docker.sock"), c.hosts());
    assertEquals("json-file", c.logDriver());
    assertEquals(Map.of(), c.logOpts());
    assertEquals(Boolean.FALSE, c.liveRestore());
    assertEquals(Boolean.FALSE, c.debug());
    assertEquals(List.of(), c.registryMirrors());
    assertEquals(new EngineConfig.AddressPool("172.17.0.0/16", 16), c.defaultAddressPools().get(0));
    assertEquals(new EngineConfig.AddressPool("192.168.0.0/16", 20),
        c.defaultAddressPools().get(c.defaultAddressPools().size() - 1));
    assertNull(c.tlsCert());
  }

  @Test
  void valuesFromTheFileAreKeptOverDefaults() throws Exception {
    Path f = file("{\"data-root\": \"/srv/berth\", \"hosts\": [\"unix:///tmp/b.sock\"], "
        + "\"default-address-pools\": [{\"base\": \"10.10.0.0/16\", \"size\": 24}], \"log-opts\": {\"max-size\": \"10m\"}}");
    EngineConfig c = ConfigLoader.load(f, EngineConfig.empty());
    assertEquals("/srv/berth", c.dataRoot());
    assertEquals(List.of("unix:///tmp/b.sock"), c.hosts());
    assertEquals(List.of(new EngineConfig.AddressPool("10.10.0.0/16", 24)), c.defaultAddressPools());
    assertEquals(Map.of("max-size", "10m"), c.logOpts());
  }

  @Test
  void validationReportsEveryBadFieldAtOnce() throws IOException {
    Path f = file("{\"log-driver\": \"syslog\", \"registry-mirrors\": [\"ftp://mirror.example.com\"], "
        + "\"default-address-pools\": [{\"base\": \"10.0.0.0/33\", \"size\": 24}], \"data-root\": \"relative/dir\"}");
    String m = failure(() -> ConfigLoader.load(f, EngineConfig.empty()));
    assertTrue(m.startsWith("invalid configuration: "), m);
    assertTrue(m.contains("log-driver: unknown log driver \"syslog\""), m);
    assertTrue(m.contains("registry-mirrors: invalid mirror \"ftp://mirror.example.com\""), m);
    assertTrue(m.contains("default-address-pools: invalid base \"10.0.0.0/33\""), m);
    assertTrue(m.contains("data-root: must be an absolute path, got \"relative/dir\""), m);
  }

  @Test
  void poolSizeMustLieBetweenTheBasePrefixAnd30() throws IOException {
    Path f = file("{\"default-address-pools\": [{\"base\": \"10.0.0.0/16\", \"size\": 8}, "
        + "{\"base\": \"10.1.0.0/16\", \"size\": 31}, {\"base\": \"10.2.0.0/16\"}]}");
    String m = failure(() -> ConfigLoader.load(f, EngineConfig.empty()));
    assertTrue(m.contains("size 8 for base 10.0.0.0/16"), m);
    assertTrue(m.contains("size 31 for base 10.1.0.0/16"), m);
    assertTrue(m.contains("size null for base 10.2.0.0/16"), m);
  }

  @Test
  void unknownLogOptAndSchemedInsecureRegistryAreReported() throws IOException {
    Path f = file("{\"log-opts\": {\"max-size\": \"1m\", \"bogus\": \"x\"}, "
        + "\"insecure-registries\": [\"https://r.example.com\", \"10.0.0.0/99\", \"r.example.com:5000\"]}");
    String m = failure(() -> ConfigLoader.load(f, EngineConfig.empty()));
    assertTrue(m.contains("log-opts: unknown log opt 'bogus'"), m);
    assertTrue(m.contains("insecure-registries: \"https://r.example.com\" must be a host[:port] or a CIDR"), m);
    assertTrue(m.contains("insecure-registries: invalid CIDR \"10.0.0.0/99\""), m);
    assertFalse(m.contains("r.example.com:5000"), m);
    assertFalse(m.contains("max-size"), m);
  }

  @Test
  void tcpHostWithoutMutualTlsIsRefused() throws IOException {
    Path f = file("{\"hosts\": [\"unix:///run/b.sock\", \"tcp://0.0.0.0:2375\"]}");
    String m = failure(() -> ConfigLoader.load(f, EngineConfig.empty()));
    assertTrue(m.contains("hosts: a tcp:// address needs mutual TLS: set tlsverify, tlscacert, tlscert and tlskey"), m);

    Path g = file("{\"hosts\": [\"tcp://0.0.0.0:2376\"], \"tlsverify\": false, \"tlscacert\": \"/ca.pem\", "
        + "\"tlscert\": \"/cert.pem\", \"tlskey\": \"/key.pem\"}");
    assertTrue(failure(() -> ConfigLoader.load(g, EngineConfig.empty())).contains("needs mutual TLS"));
  }

  @Test
  void tcpHostWithMutualTlsIsAccepted() throws Exception {
    Path f = file("{\"hosts\": [\"tcp://127.0.0.1:2376\"], \"tlsverify\": true, \"tlscacert\": \"/ca.pem\", "
        + "\"tlscert\": \"/cert.pem\", \"tlskey\": \"/key.pem\"}");
    assertEquals(List.of("tcp://127.0.0.1:2376"), ConfigLoader.load(f, EngineConfig.empty()).hosts());
  }

  @Test
  void relativeUnixSocketAndUnknownSchemeAreRefused() throws IOException {
    Path f = file("{\"hosts\": [\"unix://run/b.sock\", \"fd://\"]}");
    String m = failure(() -> ConfigLoader.load(f, EngineConfig.empty()));
    assertTrue(m.contains("hosts: unix socket address must be absolute (unix:///path), got \"unix://run/b.sock\""), m);
    assertTrue(m.contains("hosts: unsupported address \"fd://\""), m);
  }

  @Test
  void cidrParsesAndMasksToItsNetwork() {
    assertEquals("172.17.0.0/16", Cidr.parse("172.17.0.0/16").toString());
    assertEquals("10.0.0.0/8", Cidr.parse("10.1.2.3/8").toString());
    assertEquals("192.168.1.7/32", Cidr.parse("192.168.1.7/32").toString());
    assertEquals("0.0.0.0/0", Cidr.parse("255.1.2.3/0").toString());
    assertEquals(16, Cidr.parse("172.17.0.0/16").prefix());
    assertEquals(0xAC110000L, Cidr.parse("172.17.9.9/16").address());
  }

  @Test
  void malformedCidrsAreNull() {
    for (String bad : List.of("10.0.0.0", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0/8", "10.0.0.0.0/8", "256.0.0.0/8",
        "a.b.c.d/8", "10.0.0.0/x", "10..0.0/8", "1234.0.0.0/8", "/8", "10.0.0.0/")) {
      assertNull(Cidr.parse(bad), bad);
    }
  }

  @Test
  void cidrContainsExactlyItsAddresses() {
    Cidr c = Cidr.parse("172.17.0.0/16");
    assertTrue(c.contains(Cidr.parseIp("172.17.0.0")));
    assertTrue(c.contains(Cidr.parseIp("172.17.255.255")));
    assertFalse(c.contains(Cidr.parseIp("172.18.0.0")));
    assertFalse(c.contains(Cidr.parseIp("172.16.255.255")));
    assertTrue(Cidr.parse("0.0.0.0/0").contains(Cidr.parseIp("8.8.8.8")));
    Cidr host = Cidr.parse("10.0.0.1/32");
    assertTrue(host.contains(Cidr.parseIp("10.0.0.1")));
    assertFalse(host.contains(Cidr.parseIp("10.0.0.2")));
  }

  @Test
  void parseIpGivesAnUnsignedValueOrMinusOne() {
    assertEquals(0xFFFFFFFFL, Cidr.parseIp("255.255.255.255"));
    assertEquals(0L, Cidr.parseIp("0.0.0.0"));
    assertEquals(-1, Cidr.parseIp("1.2.3"));
    assertEquals(-1, Cidr.parseIp("1.2.3.-4"));
  }
}
