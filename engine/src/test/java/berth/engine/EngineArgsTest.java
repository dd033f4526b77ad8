package berth.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EngineArgsTest {
  @Test
  void theBenchmarksCommandLineAndDockerdsOtherFlagsAreRead() {
    EngineMain m = new EngineMain();
    assertNull(m.parse("--data-root", "/d", "--host", "unix:///s.sock", "--config-file", "/c.json", "-H=tcp://0.0.0.0:2376",
        "--log-opt", "max-size=10m", "--log-opt=max-file=3", "--insecure-registry", "r:5000", "--registry-mirror=http://m",
        "--max-concurrent-downloads", "6", "--max-concurrent-uploads=2", "-D", "--live-restore=false", "--tlsverify",
        "--tlscacert", "ca.pem", "--tlscert", "c.pem", "--tlskey", "k.pem", "-p", "/run/e.pid", "--exec-root", "/x",
        "--log-driver", "local"));
    assertEquals("/d", m.dataRoot);
    assertEquals(List.of("unix:///s.sock", "tcp://0.0.0.0:2376"), m.hosts);
    assertEquals(Path.of("/c.json"), m.configFile);
    assertEquals(Map.of("max-size", "10m", "max-file", "3"), m.logOpts);
    assertEquals(List.of("r:5000"), m.insecureRegistries);
    assertEquals(List.of("http://m"), m.registryMirrors);
    assertEquals(6, m.maxConcurrentDownloads);
    assertEquals(2, m.maxConcurrentUploads);
    assertEquals(Boolean.TRUE, m.debug);
    assertEquals(Boolean.FALSE, m.liveRestore);
    assertEquals(Boolean.TRUE, m.tlsVerify);
    assertEquals("ca.pem", m.tlsCaCert);
    assertEquals("c.pem", m.tlsCert);
    assertEquals("k.pem", m.tlsKey);
    assertEquals("/run/e.pid", m.pidFile);
    assertEquals("/x", m.execRoot);
    assertEquals("local", m.logDriver);
  }

  @Test
  void flagsNotGivenStayUnsetSoTheConfigFileDecides() {
    EngineMain m = new EngineMain();
    assertNull(m.parse("--data-root=/d"));
    assertNull(m.debug);
    assertNull(m.liveRestore);
    assertNull(m.hosts);
    assertNull(m.logOpts);
  }

  @Test
  void badCommandLinesSayWhatIsWrong() {
    assertEquals("unknown flag: --bogus", new EngineMain().parse("--data-root", "/d", "--bogus"));
    assertEquals("flag needs an argument: --host", new EngineMain().parse("--host"));
    assertEquals("unexpected argument: extra", new EngineMain().parse("extra"));
    assertEquals("--max-concurrent-downloads wants a number, not many",
        new EngineMain().parse("--max-concurrent-downloads", "many"));
    assertEquals("--log-opt wants key=value, not max-size", new EngineMain().parse("--log-opt", "max-size"));
    assertEquals("--debug takes true or false, not yes", new EngineMain().parse("--debug=yes"));
  }

  @Test
  void helpAndVersionEndParsingWithoutAnError() {
    assertEquals("", new EngineMain().parse("--version"));
    assertEquals("", new EngineMain().parse("-h"));
    assertTrue(EngineMain.USAGE.contains("--data-root DIR"));
  }
}
