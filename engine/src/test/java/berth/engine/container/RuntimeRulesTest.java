package berth.engine.container;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import berth.engine.api.types.ContainerConfig;
import berth.engine.api.types.HostConfig;
import berth.engine.errdefs.EngineException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The small rules of running containers that need no runtime: signals, log options, detach keys, status text. */
class RuntimeRulesTest {
  @Test
  void signalsByNameNumberAndRealtime() {
    assertEquals("15", Signals.normalize("TERM"));
    assertEquals("15", Signals.normalize("SIGTERM"));
    assertEquals("15", Signals.normalize("sigterm"));
    assertEquals("9", Signals.normalize("9"));
    assertEquals("34", Signals.normalize("RTMIN"));
    assertEquals("37", Signals.normalize("SIGRTMIN+3"));
    assertEquals("62", Signals.normalize("RTMAX-2"));
    assertEquals("Invalid signal: NOPE", assertThrows(EngineException.class, () -> Signals.normalize("NOPE"))
        .getMessage());
    assertThrows(EngineException.class, () -> Signals.normalize("65"));
    assertThrows(EngineException.class, () -> Signals.normalize("0"));
  }

  @Test
  void logSizesAreBinaryMultiples() {
    assertEquals(10L << 20, LogSettings.parseSize("10m"));
    assertEquals(1024, LogSettings.parseSize("1k"));
    assertEquals(1536, LogSettings.parseSize("1.5kb"));
    assertEquals(100, LogSettings.parseSize("100"));
    assertEquals(2L << 30, LogSettings.parseSize("2GiB"));
    assertThrows(EngineException.class, () -> LogSettings.parseSize("ten"));
    assertThrows(EngineException.class, () -> LogSettings.parseSize("-1k"));
  }

  @Test
  void logOptionsMergeWithTheEngineDefaultsLikeDockerd() {
    LogSettings.Defaults d = new LogSettings.Defaults("json-file", Map.of("max-size", "10m", "max-file", "3"));
    // no driver named: the default driver, the default options, the container's options over them
    assertEquals(new LogSettings("json-file", 1L << 20, 3),
        LogSettings.of(new HostConfig.LogConfig("", Map.of("max-size", "1m")), d));
    assertEquals(new LogSettings("json-file", 10L << 20, 3), LogSettings.of(null, d));
    // another driver: the defaults' options do not apply
    assertEquals(new LogSettings("local", 20L << 20, 5), LogSettings.of(new HostConfig.LogConfig("local", null), d));
    assertEquals(new LogSettings("none", 0, 1), LogSettings.of(new HostConfig.LogConfig("none", null), d));
    assertNull(new LogSettings("none", 0, 1).path(Path.of("/c"), "x"));
    assertEquals(Path.of("/c/abc-json.log"), new LogSettings("json-file", 0, 1).path(Path.of("/c"), "abc"));
    EngineException e = assertThrows(EngineException.class,
        () -> LogSettings.of(new HostConfig.LogConfig("syslogx", null), d));
    assertEquals("failed to create task for container: logger: no log driver named 'syslogx' is registered",
        e.getMessage());
    assertEquals("max-file cannot be less than 1", assertThrows(EngineException.class,
        () -> LogSettings.parse("json-file", Map.of("max-file", "0"))).getMessage());
    assertEquals("max-file can only be used with max-size", assertThrows(EngineException.class,
        () -> LogSettings.parse("json-file", Map.of("max-file", "2"))).getMessage());
    assertEquals("unknown log opt 'max-size' for none log driver", assertThrows(EngineException.class,
        () -> LogSettings.parse("none", Map.of("max-size", "1m"))).getMessage());
  }

  @Test
  void detachKeySyntax() {
    assertArrayEquals(new byte[] {16, 17}, AttachPump.parseDetachKeys(null));
    assertArrayEquals(new byte[] {16, 17}, AttachPump.parseDetachKeys("ctrl-p,ctrl-q"));
    assertArrayEquals(new byte[] {'a', 0, 27, 31}, AttachPump.parseDetachKeys("a,ctrl-@,ctrl-[,ctrl-_"));
    assertEquals("Invalid detach keys (ctrl-pp) provided",
        assertThrows(EngineException.class, () -> AttachPump.parseDetachKeys("ctrl-pp")).getMessage());
    assertThrows(EngineException.class, () -> AttachPump.parseDetachKeys("ab"));
  }

  @Test
  void humanDurationsAsDockerPrintsThem() {
    assertEquals("Less than a second", ContainerService.humanDuration(300));
    assertEquals("1 second", ContainerService.humanDuration(1500));
    assertEquals("59 seconds", ContainerService.humanDuration(59_000));
    assertEquals("About a minute", ContainerService.humanDuration(61_000));
    assertEquals("5 minutes", ContainerService.humanDuration(5 * 60_000));
    assertEquals("About an hour", ContainerService.humanDuration(3_600_000));
    assertEquals("3 hours", ContainerService.humanDuration(3 * 3_600_000));
    assertEquals("3 days", ContainerService.humanDuration(3 * 86_400_000L));
    assertEquals("3 weeks", ContainerService.humanDuration(21 * 86_400_000L));
  }

  @Test
  void healthTestForms() {
    assertEquals(List.of("/bin/sh", "-c", "curl -f x || exit 1"),
        Health.command(health(List.of("CMD-SHELL", "curl -f x || exit 1"))));
    assertEquals(List.of("true", "x"), Health.command(health(List.of("CMD", "true", "x"))));
    assertNull(Health.command(health(List.of("NONE"))));
    assertNull(Health.command(health(List.of())));
    assertNull(Health.command(null));
  }

  private static ContainerConfig.HealthConfig health(List<String> test) {
    return new ContainerConfig.HealthConfig(test, null, null, null, null, null);
  }

  @Test
  void anUpdateChangesOnlyWhatItSets() {
    HostConfig base = berth.engine.api.http.ApiJson.MAPPER.convertValue(
        Map.of("Memory", 64L << 20, "CpuShares", 512, "RestartPolicy", Map.of("Name", "always")), HostConfig.class);
    HostConfig changes = berth.engine.api.http.ApiJson.MAPPER.convertValue(
        Map.of("Memory", 0, "CpuShares", 256, "PidsLimit", 10, "RestartPolicy", Map.of("Name", "")),
        HostConfig.class);
    HostConfig merged = ContainerService.mergeUpdate(base, changes);
    assertEquals(64L << 20, merged.memory(), "zero means unchanged, as the CLI sends zeros");
    assertEquals(256L, merged.cpuShares());
    assertEquals(10L, merged.pidsLimit());
    assertEquals("always", merged.restartPolicy().name(), "an empty policy name keeps the policy");
  }
}
