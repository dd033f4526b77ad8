package berth.engine.api.types;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.http.ApiJson;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ContainerCreateRequestTest {

  private static ContainerCreateRequest read(String json) throws Exception {
    return ApiJson.MAPPER.readValue(json, ContainerCreateRequest.class);
  }

  /** A body written after what `docker run` of CLI v28 sends (every field present, Go zero values). */
  @Test
  void readsTheBodyTheDockerCliSends() throws Exception {
    ContainerCreateRequest r;
    try (InputStream in = getClass().getResourceAsStream("create-docker-cli-v28.json")) {
      r = ApiJson.MAPPER.readValue(in, ContainerCreateRequest.class);
    }
    ContainerConfig c = r.config();
    assertEquals("", c.hostname());
    assertEquals("app:staff", c.user());
    assertTrue(c.tty());
    assertTrue(c.openStdin());
    assertTrue(c.attachStdin());
    assertEquals(List.of("FOO=bar", "EMPTY="), c.env());
    assertEquals(List.of("sh", "-c", "echo hi"), c.cmd());
    assertNull(c.entrypoint());
    assertEquals("busybox:1.36", c.image());
    assertEquals("/srv", c.workingDir());
    assertEquals(Map.of("com.example.team", "infra"), c.labels());
    assertEquals("SIGQUIT", c.stopSignal());
    assertEquals(20, c.stopTimeout());
    assertTrue(c.exposedPorts().containsKey("80/tcp"));
    assertTrue(c.volumes().containsKey("/scratch"));
    assertEquals(List.of("CMD-SHELL", "wget -q -O- localhost || exit 1"), c.healthcheck().test());
    assertEquals(30_000_000_000L, c.healthcheck().interval());
    assertEquals(3, c.healthcheck().retries());

    HostConfig h = r.hostConfig();
    assertEquals(List.of("/data:/data:ro", "cache:/cache"), h.binds());
    assertEquals(new HostConfig.LogConfig("json-file", Map.of("max-size", "10m")), h.logConfig());
    assertEquals("bridge", h.networkMode());
    assertEquals(List.of(new HostConfig.PortBinding("127.0.0.1", "8080")), h.portBindings().get("80/tcp"));
    assertEquals(new HostConfig.RestartPolicy("on-failure", 3), h.restartPolicy());
    assertTrue(h.autoRemove());
    assertEquals(List.of(50, 200), h.consoleSize());
    assertEquals(List.of("NET_ADMIN", "cap_sys_time"), h.capAdd());
    assertEquals(List.of("MKNOD"), h.capDrop());
    assertEquals("private", h.cgroupnsMode());
    assertEquals(List.of("1.1.1.1"), h.dns());
    assertEquals(List.of("ndots:2"), h.dnsOptions());
    assertEquals(List.of("example.com"), h.dnsSearch());
    assertEquals(List.of("db:10.0.0.5", "host.docker.internal:host-gateway"), h.extraHosts());
    assertEquals(List.of("audio"), h.groupAdd());
    assertEquals("private", h.ipcMode());
    assertEquals(100, h.oomScoreAdj());
    assertEquals("", h.pidMode());
    assertEquals("", h.utsMode());
    assertFalse(h.privileged());
    assertTrue(h.readonlyRootfs());
    assertEquals(List.of("no-new-privileges", "apparmor=unconfined"), h.securityOpt());
    assertEquals(Map.of("/run", "size=64m,mode=1777"), h.tmpfs());
    assertEquals(134217728L, h.shmSize());
    assertEquals(Map.of("net.ipv4.ip_forward", "1"), h.sysctls());
    assertEquals(512L, h.cpuShares());
    assertEquals(536870912L, h.memory());
    assertEquals(1_500_000_000L, h.nanoCpus());
    assertEquals("0-1", h.cpusetCpus());
    assertEquals(268435456L, h.memoryReservation());
    assertEquals(1073741824L, h.memorySwap());
    assertNull(h.memorySwappiness());
    assertFalse(h.oomKillDisable());
    assertEquals(100L, h.pidsLimit());
    assertEquals(List.of(new HostConfig.Ulimit("nofile", 1024L, 4096L)), h.ulimits());
    assertEquals(List.of(new HostConfig.DeviceMapping("/dev/fuse", "/dev/fuse", "rwm")), h.devices());
    assertEquals(List.of("c 10:200 rwm"), h.deviceCgroupRules());
    assertEquals(List.of(new HostConfig.ThrottleDevice("/dev/sda", 1048576L)), h.blkioDeviceReadBps());
    assertEquals(0L, h.ioMaximumIops());
    assertNull(h.maskedPaths());
    assertNull(h.readonlyPaths());
    assertTrue(h.init());
    assertEquals(Map.of("org.example/owner", "ops"), h.annotations());

    Mount bind = h.mounts().get(0);
    assertEquals("bind", bind.type());
    assertEquals("/etc/ssl", bind.target());
    assertTrue(bind.readOnly());
    assertEquals("rslave", bind.bindOptions().propagation());
    assertTrue(bind.bindOptions().createMountpoint());
    Mount volume = h.mounts().get(1);
    assertEquals("local", volume.volumeOptions().driverConfig().name());
    assertEquals("app", volume.volumeOptions().subpath());
    Mount tmpfs = h.mounts().get(2);
    assertEquals(1048576L, tmpfs.tmpfsOptions().sizeBytes());
    assertEquals(1023, tmpfs.tmpfsOptions().mode());
    assertEquals(List.of(List.of("exec")), tmpfs.tmpfsOptions().options());

    NetworkingConfig.EndpointSettings bridge = r.networkingConfig().endpointsConfig().get("bridge");
    assertEquals("172.17.0.9", bridge.ipamConfig().ipv4Address());
    assertEquals(List.of("web"), bridge.aliases());
    assertEquals("02:42:ac:11:00:09", bridge.macAddress());
  }

  @Test
  void aStringCmdAndEntrypointAreOneElementLists() throws Exception {
    ContainerCreateRequest r = read("{\"Image\":\"busybox\",\"Cmd\":\"echo hi\",\"Entrypoint\":\"/bin/sh\"}");
    assertEquals(List.of("echo hi"), r.config().cmd());
    assertEquals(List.of("/bin/sh"), r.config().entrypoint());
  }

  @Test
  void anEmptyEntrypointStaysDistinctFromNone() throws Exception {
    assertEquals(List.of(), read("{\"Entrypoint\":[]}").config().entrypoint());
    assertNull(read("{\"Entrypoint\":null}").config().entrypoint());
    assertNull(read("{}").config().entrypoint());
  }

  @Test
  void aMinimalBodyHasNoHostConfig() throws Exception {
    ContainerCreateRequest r = read("{\"Image\":\"busybox\"}");
    assertEquals("busybox", r.config().image());
    assertNull(r.hostConfig());
    assertNull(r.networkingConfig());
  }

  @Test
  void namesThatAreNotPlainPascalCaseRoundTrip() throws Exception {
    ContainerCreateRequest r = read("{\"HostConfig\":{\"UTSMode\":\"host\",\"IOMaximumIOps\":7,"
        + "\"ContainerIDFile\":\"/tmp/id\"}}");
    assertEquals("host", r.hostConfig().utsMode());
    assertEquals(7L, r.hostConfig().ioMaximumIops());
    JsonNode back = ApiJson.MAPPER.valueToTree(r);
    assertEquals("host", back.get("HostConfig").get("UTSMode").asText());
    assertEquals(7, back.get("HostConfig").get("IOMaximumIOps").asInt());
    assertEquals("/tmp/id", back.get("HostConfig").get("ContainerIDFile").asText());
    assertNotNull(back.get("Image"), "config fields are written at the top level");
    assertNull(back.get("Config"));
  }
}
