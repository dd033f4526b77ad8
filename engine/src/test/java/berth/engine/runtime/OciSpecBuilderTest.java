package berth.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.http.ApiJson;
import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OciSpecBuilderTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String ID = "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e";
  static final OciSpecBuilder.HostFacts HOST = new OciSpecBuilder.HostFacts(4, OciSpecBuilder.KNOWN_CAPABILITIES,
      "6.1.0-18-amd64", true, "buildhost", "amd64");
  static final JsonNode BUSYBOX = json("""
      {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]}""");
  static final Path ROOTFS = Path.of("/var/lib/berth/containers/" + ID + "/rootfs");

  // ---- helpers ----

  static JsonNode json(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ContainerCreateRequest request(String body) {
    try {
      return ApiJson.MAPPER.readValue(body, ContainerCreateRequest.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static OciSpec build(String body) {
    return build(body, BUSYBOX, HOST, in -> in);
  }

  static OciSpec build(String body, JsonNode image, OciSpecBuilder.HostFacts host,
      UnaryOperator<OciSpecBuilder.Inputs> more) {
    var in = OciSpecBuilder.Inputs.of(ID, request(body), image, ROOTFS, UserResolver.ExecUser.root());
    return new OciSpecBuilder(host).build(more.apply(in));
  }

  /** The spec as runc reads it. */
  static JsonNode spec(String body) {
    return json(build(body).toJson());
  }

  static JsonNode spec(String body, JsonNode image) {
    return json(build(body, image, HOST, in -> in).toJson());
  }

  static String invalid(String body) {
    return invalid(body, HOST);
  }

  static String invalid(String body, OciSpecBuilder.HostFacts host) {
    EngineException e = assertThrows(EngineException.class, () -> build(body, BUSYBOX, host, in -> in));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind(), e.getMessage());
    return e.getMessage();
  }

  static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    if (array != null) {
      array.forEach(n -> out.add(n.isTextual() ? n.asText() : n.toString()));
    }
    return out;
  }

  static JsonNode mount(JsonNode spec, String destination) {
    for (JsonNode m : spec.get("mounts")) {
      if (m.get("destination").asText().equals(destination)) {
        return m;
      }
    }
    return null;
  }

  static List<String> destinations(JsonNode spec) {
    List<String> out = new ArrayList<>();
    spec.get("mounts").forEach(m -> out.add(m.get("destination").asText()));
    return out;
  }

  static List<String> namespaces(JsonNode spec) {
    List<String> out = new ArrayList<>();
    spec.get("linux").get("namespaces").forEach(n -> out.add(n.get("type").asText()
        + (n.has("path") ? "=" + n.get("path").asText() : "")));
    return out;
  }

  // ---- a plain run ----

  /** {@code docker run busybox echo hi}: the golden file was reviewed against moby's oci/defaults.go and oci_linux.go. */
  @Test
  void plainBusyboxRunIsDockersSpec() throws IOException {
    JsonNode spec = spec("{\"Image\":\"busybox\",\"Cmd\":[\"echo\",\"hi\"]}");
    JsonNode expected;
    try (InputStream in = getClass().getResourceAsStream("busybox-echo-hi.json")) {
      expected = JSON.readTree(in);
    }
    ObjectNode withoutSeccomp = spec.deepCopy();
    // the default RLIMIT_NOFILE depends on the engine's own hard limit; the file holds Docker's 1048576
    ((ObjectNode) withoutSeccomp.get("process").get("rlimits").get(0)).put("hard", 1048576).put("soft", 1048576);
    JsonNode seccomp = ((ObjectNode) withoutSeccomp.get("linux")).remove("seccomp");
    assertEquals(expected.toPrettyString(), withoutSeccomp.toPrettyString());
    // The filter is the default profile resolved for the default capabilities on this kernel.
    JsonNode resolved = json(new OciSpec(null, null, null, null, null, null, new OciSpec.Linux(null, null, null, null,
        null, SeccompProfile.builtin().resolve(OciSpecBuilder.DEFAULT_CAPABILITIES, "6.1.0", "amd64"), null, null,
        null)).toJson()).get("linux").get("seccomp");
    assertEquals(resolved, seccomp);
  }

  // ---- process ----

  @Test
  void entrypointAndCmdFollowDockersPrecedence() {
    String image = "{\"Entrypoint\":[\"/entry\"],\"Cmd\":[\"default\"]}";
    String[][] table = {
        // image, request (JSON fragment), expected args (or the error)
        {"{\"Cmd\":[\"sh\"]}", "", "[sh]"},
        {"{\"Cmd\":[\"sh\"]}", "\"Cmd\":[\"echo\",\"hi\"]", "[echo, hi]"},
        {"{\"Cmd\":\"sh\"}", "", "[sh]"},
        {image, "", "[/entry, default]"},
        {image, "\"Cmd\":[\"x\"]", "[/entry, x]"},
        {image, "\"Entrypoint\":[\"/other\"]", "[/other]"},
        {image, "\"Entrypoint\":\"/other\",\"Cmd\":[\"y\"]", "[/other, y]"},
        {image, "\"Entrypoint\":[]", "[default]"},
        {image, "\"Entrypoint\":[],\"Cmd\":[\"z\"]", "[z]"},
        {image, "\"Entrypoint\":[\"\"],\"Cmd\":[\"ls\"]", "[ls]"},
        {image, "\"Entrypoint\":[\"\"]", "no command specified"},
        {"{}", "", "no command specified"},
        {"{\"Entrypoint\":null,\"Cmd\":null}", "\"Cmd\":[]", "no command specified"},
    };
    for (String[] row : table) {
      String body = "{" + row[1] + "}";
      String got;
      try {
        got = build(body, json(row[0]), HOST, in -> in).process().args().toString();
      } catch (EngineException e) {
        assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
        got = e.getMessage();
      }
      assertEquals(row[2], got, "image " + row[0] + ", request " + body);
    }
  }

  @Test
  void envIsImageEnvMergedWithRequestEnv() {
    JsonNode image = json("{\"Cmd\":[\"sh\"],\"Env\":[\"PATH=/img/bin\",\"A=1\",\"B=2\",\"D=4\"]}");
    JsonNode spec = spec("{\"Env\":[\"B=20\",\"C=3\",\"A\"]}", image);
    // Request wins per key, "A" (no "=") unsets A, the image's PATH replaces the default.
    assertEquals(List.of("PATH=/img/bin", "HOSTNAME=3f4e5d6c7b8a", "B=20", "C=3", "D=4"),
        strings(spec.get("process").get("env")));
  }

  @Test
  void envGetsDefaultPathHostnameAndTermWithATty() {
    JsonNode spec = spec("{\"Tty\":true,\"Hostname\":\"web\",\"Env\":[\"HOSTNAME=override\"]}", json("{\"Cmd\":[\"sh\"]}"));
    assertEquals(List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=override",
        "TERM=xterm"), strings(spec.get("process").get("env")));
    assertTrue(spec.get("process").get("terminal").asBoolean());
    assertEquals("web", spec.get("hostname").asText());
  }

  @Test
  void consoleSizeIsSetForATty() {
    JsonNode spec = spec("{\"Tty\":true,\"HostConfig\":{\"ConsoleSize\":[50,200]}}");
    assertEquals(json("{\"height\":50,\"width\":200}"), spec.get("process").get("consoleSize"));
    assertNull(spec("{\"HostConfig\":{\"ConsoleSize\":[50,200]}}").get("process").get("consoleSize"));
  }

  @Test
  void workingDirComesFromRequestThenImageThenRoot() {
    assertEquals("/", spec("{}").get("process").get("cwd").asText());
    JsonNode image = json("{\"Cmd\":[\"sh\"],\"WorkingDir\":\"/app\"}");
    assertEquals("/app", spec("{}", image).get("process").get("cwd").asText());
    assertEquals("/srv/x", spec("{\"WorkingDir\":\"/srv/./x/\"}", image).get("process").get("cwd").asText());
    assertEquals("the working directory 'srv' is invalid, it needs to be an absolute path",
        invalid("{\"WorkingDir\":\"srv\"}"));
  }

  @Test
  void userComesFromTheResolverAndRequestUserBeatsImageUser(@TempDir Path rootfs) throws IOException {
    Files.createDirectories(rootfs.resolve("etc"));
    Files.writeString(rootfs.resolve("etc/passwd"), "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n"
        + "app:x:1000:1000::/app:/bin/sh\n");
    Files.writeString(rootfs.resolve("etc/group"), "root:x:0:\nwww:x:33:\nlog:x:4:app\napp:x:1000:\n");
    JsonNode image = json("{\"Cmd\":[\"sh\"],\"User\":\"www\"}");
    var req = request("{\"User\":\"app\",\"HostConfig\":{\"GroupAdd\":[\"www\",\"999\"]}}");
    assertEquals("app", OciSpecBuilder.effectiveUser(req.config(), image));
    assertEquals("www", OciSpecBuilder.effectiveUser(request("{}").config(), image));
    assertEquals("", OciSpecBuilder.effectiveUser(request("{}").config(), null));

    var user = UserResolver.resolve(rootfs, OciSpecBuilder.effectiveUser(req.config(), image),
        req.hostConfig().groupAdd());
    OciSpec spec = new OciSpecBuilder(HOST).build(OciSpecBuilder.Inputs.of(ID, req, image, rootfs, user));
    assertEquals(json("{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,4,33,999]}"),
        json(spec.toJson()).get("process").get("user"));
  }

  @Test
  void noNewPrivilegesFromSecurityOpt() {
    assertNull(spec("{}").get("process").get("noNewPrivileges"));
    for (String opt : List.of("no-new-privileges", "no-new-privileges=true", "no-new-privileges:true",
        "no-new-privileges=1")) {
      assertTrue(spec("{\"HostConfig\":{\"SecurityOpt\":[\"" + opt + "\"]}}").get("process").get("noNewPrivileges")
          .asBoolean(), opt);
    }
    assertNull(spec("{\"HostConfig\":{\"SecurityOpt\":[\"no-new-privileges=false\"]}}").get("process")
        .get("noNewPrivileges"));
  }

  @Test
  void securityOptsAreCheckedAsDockerDoes() {
    // AppArmor and SELinux labels are accepted (and have no effect here).
    spec("{\"HostConfig\":{\"SecurityOpt\":[\"apparmor=docker-default\",\"label=disable\",\"label:level:s0\"]}}");
    assertEquals("invalid --security-opt 1: \"foo\"", invalid("{\"HostConfig\":{\"SecurityOpt\":[\"foo\"]}}"));
    assertEquals("invalid --security-opt 2: \"foo=bar\"",
        invalid("{\"HostConfig\":{\"SecurityOpt\":[\"foo=bar\"]}}"));
    assertEquals("invalid --security-opt 2: \"no-new-privileges=maybe\"",
        invalid("{\"HostConfig\":{\"SecurityOpt\":[\"no-new-privileges=maybe\"]}}"));
  }

  @Test
  void rlimitsDefaultNofileAndUlimits() {
    long n = OciSpecBuilder.DEFAULT_NOFILE;
    assertEquals(json("[{\"type\":\"RLIMIT_NOFILE\",\"hard\":" + n + ",\"soft\":" + n + "}]"),
        spec("{}").get("process").get("rlimits"));
    JsonNode r = spec("{\"HostConfig\":{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":2048},"
        + "{\"Name\":\"core\",\"Soft\":-1,\"Hard\":-1}]}}").get("process").get("rlimits");
    assertEquals(json("[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2048,\"soft\":1024},"
        + "{\"type\":\"RLIMIT_CORE\",\"hard\":18446744073709551615,\"soft\":18446744073709551615}]"), r);
    assertEquals("invalid ulimit type: bogus\n"
            + "ulimit soft limit must be less than or equal to hard limit: 10 > 5",
        invalid("{\"HostConfig\":{\"Ulimits\":[{\"Name\":\"bogus\",\"Soft\":1,\"Hard\":1},"
            + "{\"Name\":\"nproc\",\"Soft\":10,\"Hard\":5}]}}"));
  }

  @Test
  void oomScoreAdjIsPassedAndRangeChecked() {
    assertEquals(0, spec("{}").get("process").get("oomScoreAdj").asInt());
    assertEquals(500, spec("{\"HostConfig\":{\"OomScoreAdj\":500}}").get("process").get("oomScoreAdj").asInt());
    assertEquals("Invalid value 1001, range for oom score adj is [-1000, 1000]",
        invalid("{\"HostConfig\":{\"OomScoreAdj\":1001}}"));
  }

  @Test
  void initRunsDockerInitFromTheGivenBinary() {
    OciSpec spec = build("{\"Cmd\":[\"sleep\",\"1\"],\"HostConfig\":{\"Init\":true}}", BUSYBOX, HOST,
        in -> in.withInitBinary(Path.of("/usr/libexec/berth/tini")));
    assertEquals(List.of("/sbin/docker-init", "--", "sleep", "1"), spec.process().args());
    assertTrue(spec.mounts().contains(new OciSpec.Mount("/sbin/docker-init", "bind", "/usr/libexec/berth/tini",
        List.of("bind", "ro"))));
    EngineException e = assertThrows(EngineException.class,
        () -> build("{\"HostConfig\":{\"Init\":true}}", BUSYBOX, HOST, in -> in));
    assertEquals(ErrorKind.UNAVAILABLE, e.kind());
    // No init in a shared PID namespace: it already has one.
    assertEquals(List.of("sh"), build("{\"HostConfig\":{\"Init\":true,\"PidMode\":\"host\"}}").process().args());
  }

  // ---- capabilities ----

  static List<String> caps(String hostConfig) {
    JsonNode c = spec("{\"HostConfig\":" + hostConfig + "}").get("process").get("capabilities");
    assertEquals(c.get("bounding"), c.get("effective"));
    assertEquals(c.get("bounding"), c.get("permitted"));
    assertEquals(0, c.get("inheritable").size());
    assertEquals(0, c.get("ambient").size());
    return strings(c.get("bounding"));
  }

  @Test
  void defaultCapabilitiesAreDockers() {
    assertEquals(List.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL", "CAP_AUDIT_WRITE"), caps("{}"));
  }

  @Test
  void capAddAndDropTakeAnyCaseWithOrWithoutPrefix() {
    assertEquals(List.of("CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE",
        "CAP_NET_ADMIN", "CAP_SYS_TIME"),
        caps("{\"CapAdd\":[\"net_admin\",\"CAP_SYS_TIME\",\"cap_audit_write\"],\"CapDrop\":[\"chown\",\"Cap_Kill\"]}"));
    // A capability both dropped and added is kept: moby drops from the defaults, then adds.
    assertTrue(caps("{\"CapAdd\":[\"CHOWN\"],\"CapDrop\":[\"CHOWN\"]}").contains("CAP_CHOWN"));
  }

  @Test
  void capAllAddsEverythingButTheDropped() {
    List<String> all = caps("{\"CapAdd\":[\"ALL\"],\"CapDrop\":[\"SYS_ADMIN\",\"mknod\"]}");
    assertEquals(OciSpecBuilder.KNOWN_CAPABILITIES.size() - 2, all.size());
    assertFalse(all.contains("CAP_SYS_ADMIN"));
    assertFalse(all.contains("CAP_MKNOD"));
    assertEquals(List.of("CAP_NET_BIND_SERVICE"), caps("{\"CapDrop\":[\"all\"],\"CapAdd\":[\"NET_BIND_SERVICE\"]}"));
    assertEquals(List.of(), caps("{\"CapDrop\":[\"ALL\"]}"));
  }

  @Test
  void unknownCapabilitiesAreRejected() {
    assertEquals("unknown capability: \"CAP_FOO\"\nunknown capability: \"CAP_BAR\"",
        invalid("{\"HostConfig\":{\"CapAdd\":[\"foo\"],\"CapDrop\":[\"CAP_BAR\"]}}"));
    var noBpf = new OciSpecBuilder.HostFacts(4, OciSpecBuilder.KNOWN_CAPABILITIES.subList(0, 38), "6.1", true, "h",
        "amd64");
    assertEquals("capability not supported by your kernel or not available in the current environment: \"CAP_BPF\"",
        invalid("{\"HostConfig\":{\"CapAdd\":[\"BPF\"]}}", noBpf));
  }

  // ---- privileged, read-only ----

  @Test
  void privilegedGetsEverything() {
    var host = new OciSpecBuilder.HostFacts(4, OciSpecBuilder.KNOWN_CAPABILITIES.subList(0, 38), "6.1", true, "h",
        "amd64");
    var sda = new OciSpec.Device("/dev/sda", "b", 8, 0, 0660, 0L, 6L);
    JsonNode spec = json(build("{\"HostConfig\":{\"Privileged\":true}}", BUSYBOX, host,
        in -> in.withDevices(List.of(new OciSpecBuilder.DeviceMapping(sda, "rwm")))).toJson());
    assertEquals(OciSpecBuilder.KNOWN_CAPABILITIES.subList(0, 38),
        strings(spec.get("process").get("capabilities").get("bounding")));
    JsonNode linux = spec.get("linux");
    assertNull(linux.get("seccomp"));
    assertEquals(0, linux.get("maskedPaths").size());
    assertEquals(0, linux.get("readonlyPaths").size());
    assertEquals(json("[{\"allow\":true,\"access\":\"rwm\"}]"), linux.get("resources").get("devices"));
    assertEquals(json("[{\"path\":\"/dev/sda\",\"type\":\"b\",\"major\":8,\"minor\":0,\"fileMode\":432,\"uid\":0,"
        + "\"gid\":6}]"), linux.get("devices"));
    assertEquals(List.of("nosuid", "noexec", "nodev"), strings(mount(spec, "/sys").get("options")));
    assertEquals(List.of("nosuid", "noexec", "nodev"), strings(mount(spec, "/sys/fs/cgroup").get("options")));
  }

  @Test
  void privilegedKeepsExplicitMaskedPathsAndCustomSeccomp() {
    JsonNode linux = spec("{\"HostConfig\":{\"Privileged\":true,\"MaskedPaths\":[\"/proc/kcore\"],"
        + "\"SecurityOpt\":[\"seccomp={\\\"defaultAction\\\":\\\"SCMP_ACT_ALLOW\\\"}\"]}}").get("linux");
    assertEquals(List.of("/proc/kcore"), strings(linux.get("maskedPaths")));
    assertEquals("SCMP_ACT_ALLOW", linux.get("seccomp").get("defaultAction").asText());
  }

  @Test
  void readonlyRootfs() {
    JsonNode spec = spec("{\"HostConfig\":{\"ReadonlyRootfs\":true,\"Tmpfs\":{\"/run\":\"\"}}}");
    assertEquals(json("{\"path\":\"" + ROOTFS + "\",\"readonly\":true}"), spec.get("root"));
    assertEquals(List.of("nosuid", "noexec", "nodev", "ro"), strings(mount(spec, "/sys").get("options")));
    assertEquals(List.of("nosuid", "noexec", "nodev"), strings(mount(spec, "/proc").get("options")));
    assertFalse(strings(mount(spec, "/run").get("options")).contains("ro"), "user mounts keep their mode");
    assertFalse(strings(mount(spec, "/dev/shm").get("options")).contains("ro"));
    // Privileged wins over read-only for /sys, as in moby's withMounts.
    spec = spec("{\"HostConfig\":{\"ReadonlyRootfs\":true,\"Privileged\":true}}");
    assertFalse(strings(mount(spec, "/sys").get("options")).contains("ro"));
  }

  // ---- mounts ----

  @Test
  void defaultMountsAreDockers() {
    JsonNode spec = spec("{\"HostConfig\":{\"ShmSize\":134217728}}");
    assertEquals(List.of("/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"),
        destinations(spec));
    assertEquals(json("{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
        + "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=134217728\"]}"), mount(spec, "/dev/shm"));
    assertEquals("size=67108864", strings(mount(spec("{}"), "/dev/shm").get("options")).get(4));
    assertEquals("SHM size can not be less than 0", invalid("{\"HostConfig\":{\"ShmSize\":-1}}"));
    assertFalse(destinations(spec("{\"HostConfig\":{\"IpcMode\":\"none\"}}")).contains("/dev/shm"));
  }

  @Test
  void tmpfsOptionsAreMergedOverDockersDefaults() {
    JsonNode spec = spec("{\"HostConfig\":{\"Tmpfs\":{\"/run\":\"\",\"/data\":\"size=64m,mode=1777,exec,rw\","
        + "\"/ro\":\"ro,suid,size=1k,size=2k\"}}}");
    assertEquals(json("{\"destination\":\"/run\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
        + "\"options\":[\"noexec\",\"nosuid\",\"nodev\",\"rprivate\"]}"), mount(spec, "/run"));
    assertEquals(List.of("nosuid", "nodev", "rprivate", "size=64m", "mode=1777", "exec", "rw"),
        strings(mount(spec, "/data").get("options")));
    assertEquals(List.of("noexec", "nodev", "rprivate", "ro", "suid", "size=2k"),
        strings(mount(spec, "/ro").get("options")));
    assertEquals("invalid specification: destination can't be '/'\n"
            + "invalid tmpfs option [\"foo\"]\n"
            + "invalid mount path: 'rel' mount path must be absolute",
        invalid("{\"HostConfig\":{\"Tmpfs\":{\"/x\":\"foo\",\"rel\":\"\",\"/\":\"\"}}}"));
  }

  @Test
  void userMountsAreSortedByDepthAndReplaceDefaults() {
    OciSpec spec = build("{\"HostConfig\":{\"Tmpfs\":{\"/a/b/c\":\"\",\"/dev/shm\":\"size=1g\"}}}", BUSYBOX, HOST,
        in -> in.withBinds(List.of(
            new OciSpecBuilder.BindMount("/srv/data", "/data/deep/er", true, null),
            new OciSpecBuilder.BindMount("/srv/conf", "/etc/app", false, "rslave"),
            new OciSpecBuilder.BindMount("/srv/x", "/x", false, "private"))));
    List<String> dests = spec.mounts().stream().map(OciSpec.Mount::destination).toList();
    assertEquals(List.of("/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
        "/x", "/dev/shm", "/etc/app", "/a/b/c", "/data/deep/er"), dests);
    assertEquals(new OciSpec.Mount("/data/deep/er", "bind", "/srv/data", List.of("rbind", "ro", "rprivate")),
        spec.mounts().get(10));
    assertEquals(List.of("rbind", "rslave"), spec.mounts().get(8).options());
    assertEquals("rslave", spec.linux().rootfsPropagation());
    OciSpec shared = build("{}", BUSYBOX, HOST, in -> in.withBinds(List.of(
        new OciSpecBuilder.BindMount("/a", "/a", false, "rslave"),
        new OciSpecBuilder.BindMount("/b", "/b", false, "rshared"))));
    assertEquals("shared", shared.linux().rootfsPropagation());
    assertNull(build("{}").linux().rootfsPropagation());
  }

  @Test
  void aUserDevReplacesEverythingUnderDev() {
    OciSpec spec = build("{}", BUSYBOX, HOST, in -> in.withBinds(List.of(
        new OciSpecBuilder.BindMount("/host/dev", "/dev", false, null))));
    assertEquals(List.of("/proc", "/sys", "/sys/fs/cgroup", "/dev"),
        spec.mounts().stream().map(OciSpec.Mount::destination).toList());
  }

  // ---- namespaces ----

  @Test
  void defaultNamespacesAndCgroupnsByCgroupVersion() {
    assertEquals(List.of("mount", "network", "uts", "pid", "ipc", "cgroup"), namespaces(spec("{}")));
    var v1 = new OciSpecBuilder.HostFacts(4, OciSpecBuilder.KNOWN_CAPABILITIES, "6.1", false, "h", "amd64");
    assertEquals(List.of("mount", "network", "uts", "pid", "ipc"),
        namespaces(json(build("{}", BUSYBOX, v1, in -> in).toJson())));
    assertEquals(List.of("mount", "network", "uts", "pid", "ipc", "cgroup"),
        namespaces(json(build("{\"HostConfig\":{\"CgroupnsMode\":\"private\"}}", BUSYBOX, v1, in -> in).toJson())));
    assertEquals(List.of("mount", "network", "uts", "pid", "ipc"),
        namespaces(spec("{\"HostConfig\":{\"CgroupnsMode\":\"host\"}}")));
  }

  @Test
  void hostModesDropTheirNamespaces() {
    JsonNode spec = spec("{\"HostConfig\":{\"NetworkMode\":\"host\",\"PidMode\":\"host\",\"IpcMode\":\"host\","
        + "\"UTSMode\":\"host\"}}");
    assertEquals(List.of("mount", "cgroup"), namespaces(spec));
    assertNull(spec.get("hostname"), "the host's UTS namespace keeps its name");
    assertTrue(strings(spec.get("process").get("env")).contains("HOSTNAME=buildhost"));
    assertEquals(json("{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"/dev/shm\","
        + "\"options\":[\"rbind\",\"rprivate\"]}"), mount(spec, "/dev/shm"));
    assertNull(spec.get("linux").get("sysctl"), "no network sysctls in the host's network namespace");
  }

  @Test
  void hostNetworkWithPrivateUtsUsesTheHostsName() {
    JsonNode spec = spec("{\"HostConfig\":{\"NetworkMode\":\"host\"}}");
    assertEquals("buildhost", spec.get("hostname").asText());
    assertEquals("3f4e5d6c7b8a", spec("{}").get("hostname").asText());
  }

  @Test
  void containerModesJoinTheGivenNamespaces() {
    OciSpec spec = build("{\"HostConfig\":{\"NetworkMode\":\"container:db\",\"PidMode\":\"container:db\","
        + "\"IpcMode\":\"container:db\"}}", BUSYBOX, HOST, in -> in.withNamespacePaths(Map.of(
            "network", "/proc/42/ns/net", "pid", "/proc/42/ns/pid", "ipc", "/proc/42/ns/ipc")));
    assertEquals(List.of("mount", "network=/proc/42/ns/net", "uts", "pid=/proc/42/ns/pid", "ipc=/proc/42/ns/ipc",
        "cgroup"), namespaces(json(spec.toJson())));
    assertThrows(IllegalArgumentException.class,
        () -> build("{\"HostConfig\":{\"PidMode\":\"container:db\"}}"));
  }

  @Test
  void invalidModesAreAllReported() {
    assertEquals("invalid container format container:<name|id>\n"
            + "invalid IPC mode: weird\n"
            + "invalid PID mode: container:\n"
            + "invalid UTS mode: private\n"
            + "invalid cgroup namespace mode: shared",
        invalid("{\"HostConfig\":{\"NetworkMode\":\"container:\",\"IpcMode\":\"weird\",\"PidMode\":\"container:\","
            + "\"UTSMode\":\"private\",\"CgroupnsMode\":\"shared\"}}"));
    assertEquals("conflicting options: hostname and the UTS mode",
        invalid("{\"Hostname\":\"x\",\"HostConfig\":{\"UTSMode\":\"host\"}}"));
  }

  // ---- masked and read-only paths ----

  @Test
  void maskedAndReadonlyPathsDefaultAndOverride() {
    JsonNode linux = spec("{}").get("linux");
    assertEquals(List.of("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/sys/devices/virtual/powercap"), strings(linux.get("maskedPaths")));
    assertEquals(List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"),
        strings(linux.get("readonlyPaths")));
    linux = spec("{\"HostConfig\":{\"MaskedPaths\":[],\"ReadonlyPaths\":[\"/proc/sys/kernel\"]}}").get("linux");
    assertEquals(List.of(), strings(linux.get("maskedPaths")));
    assertEquals(List.of("/proc/sys/kernel"), strings(linux.get("readonlyPaths")));
  }

  // ---- resources ----

  static JsonNode resources(String hostConfig) {
    return spec("{\"HostConfig\":" + hostConfig + "}").get("linux").get("resources");
  }

  @Test
  void defaultDeviceRulesAllowTheStandardNodes() {
    assertEquals(json("""
        [{"allow":false,"access":"rwm"},
         {"allow":true,"type":"c","access":"m"},
         {"allow":true,"type":"b","access":"m"},
         {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
         {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
         {"allow":true,"type":"c","major":1,"minor":7,"access":"rwm"},
         {"allow":true,"type":"c","major":1,"minor":8,"access":"rwm"},
         {"allow":true,"type":"c","major":1,"minor":9,"access":"rwm"},
         {"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},
         {"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"},
         {"allow":true,"type":"c","major":5,"minor":2,"access":"rwm"},
         {"allow":true,"type":"c","major":136,"access":"rwm"}]"""), resources("{}").get("devices"));
    assertNull(spec("{}").get("linux").get("devices"), "runc creates /dev/null and friends itself");
  }

  @Test
  void devicesAndCgroupRulesAreAppended() {
    var fuse = new OciSpec.Device("/dev/fuse", "c", 10, 229, 0666, 0L, 0L);
    JsonNode spec = json(build("{\"HostConfig\":{\"DeviceCgroupRules\":[\"c 10:200 rwm\",\"b *:* r\"]}}", BUSYBOX,
        HOST, in -> in.withDevices(List.of(new OciSpecBuilder.DeviceMapping(fuse, "rw")))).toJson());
    JsonNode rules = spec.get("linux").get("resources").get("devices");
    int n = rules.size();
    assertEquals(json("{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":229,\"access\":\"rw\"}"),
        rules.get(n - 3));
    assertEquals(json("{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":200,\"access\":\"rwm\"}"),
        rules.get(n - 2));
    assertEquals(json("{\"allow\":true,\"type\":\"b\",\"access\":\"r\"}"), rules.get(n - 1));
    assertEquals("/dev/fuse", spec.get("linux").get("devices").get(0).get("path").asText());
    assertEquals("invalid device cgroup rule format: 'c 10 rwm'",
        invalid("{\"HostConfig\":{\"DeviceCgroupRules\":[\"c 10 rwm\"]}}"));
  }

  @Test
  void memoryLimitsFollowDockersRules() {
    assertNull(resources("{}").get("memory"));
    assertEquals(json("{\"limit\":67108864,\"swap\":134217728}"), resources("{\"Memory\":67108864}").get("memory"));
    assertEquals(json("{\"limit\":67108864}"), resources("{\"Memory\":67108864,\"MemorySwap\":-1}").get("memory"));
    assertEquals(json("{\"limit\":67108864,\"reservation\":33554432,\"swap\":100000000}"),
        resources("{\"Memory\":67108864,\"MemorySwap\":100000000,\"MemoryReservation\":33554432}").get("memory"));
    assertEquals("Minimum memory limit allowed is 6MB", invalid("{\"HostConfig\":{\"Memory\":1048576}}"));
    assertEquals("Minimum memoryswap limit should be larger than memory limit, see usage",
        invalid("{\"HostConfig\":{\"Memory\":67108864,\"MemorySwap\":33554432}}"));
    assertEquals("You should always set the Memory limit when using Memoryswap limit, see usage",
        invalid("{\"HostConfig\":{\"MemorySwap\":67108864}}"));
    assertEquals("Minimum memory limit can not be less than memory reservation limit, see usage",
        invalid("{\"HostConfig\":{\"Memory\":67108864,\"MemoryReservation\":134217728}}"));
    assertEquals("Minimum memory reservation allowed is 6MB",
        invalid("{\"HostConfig\":{\"MemoryReservation\":1024}}"));
  }

  @Test
  void oomKillDisableAndSwappinessOnlyOnCgroupV1() {
    var v1 = new OciSpecBuilder.HostFacts(4, OciSpecBuilder.KNOWN_CAPABILITIES, "6.1", false, "h", "amd64");
    String body = "{\"HostConfig\":{\"Memory\":67108864,\"OomKillDisable\":true,\"MemorySwappiness\":10}}";
    assertEquals(json("{\"limit\":67108864,\"swap\":134217728,\"swappiness\":10,\"disableOOMKiller\":true}"),
        json(build(body, BUSYBOX, v1, in -> in).toJson()).get("linux").get("resources").get("memory"));
    assertEquals(json("{\"limit\":67108864,\"swap\":134217728}"), json(build(body).toJson()).get("linux")
        .get("resources").get("memory"));
  }

  @Test
  void cpuLimitsFollowDockersRules() {
    assertNull(resources("{}").get("cpu"));
    assertEquals(json("{\"quota\":150000,\"period\":100000}"), resources("{\"NanoCpus\":1500000000}").get("cpu"));
    assertEquals(json("{\"shares\":512,\"quota\":50000,\"period\":200000,\"cpus\":\"0-2,3\",\"mems\":\"0\"}"),
        resources("{\"CpuShares\":512,\"CpuPeriod\":200000,\"CpuQuota\":50000,\"CpusetCpus\":\"0-2,3\","
            + "\"CpusetMems\":\"0\"}").get("cpu"));
    assertEquals("Conflicting options: Nano CPUs and CPU Period cannot both be set\n"
            + "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        invalid("{\"HostConfig\":{\"NanoCpus\":1000000000,\"CpuPeriod\":100000,\"CpuQuota\":50000}}"));
    assertEquals("range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available",
        invalid("{\"HostConfig\":{\"NanoCpus\":5000000000}}"));
    assertEquals("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)\n"
            + "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        invalid("{\"HostConfig\":{\"CpuPeriod\":10,\"CpuQuota\":10}}"));
    assertEquals("Invalid value 0-x for cpuset cpus: invalid format: 0-x\n"
            + "Invalid value 1,,2 for cpuset mems: invalid format: 1,,2",
        invalid("{\"HostConfig\":{\"CpusetCpus\":\"0-x\",\"CpusetMems\":\"1,,2\"}}"));
    assertEquals("Requested CPUs are not available - requested 2-7, available: 0-3",
        invalid("{\"HostConfig\":{\"CpusetCpus\":\"2-7\"}}"));
    assertEquals("invalid CPU shares (-1): value must be a positive integer",
        invalid("{\"HostConfig\":{\"CpuShares\":-1}}"));
  }

  @Test
  void pidsLimitZeroOrNegativeIsUnlimited() {
    assertNull(resources("{}").get("pids"));
    assertEquals(-1, resources("{\"PidsLimit\":0}").get("pids").get("limit").asLong());
    assertEquals(-1, resources("{\"PidsLimit\":-1}").get("pids").get("limit").asLong());
    assertEquals(100, resources("{\"PidsLimit\":100}").get("pids").get("limit").asLong());
  }

  @Test
  void cgroupsPathIsTheGivenOne() {
    assertEquals("/berth/" + ID, spec("{}").get("linux").get("cgroupsPath").asText());
    assertEquals("/custom/x", json(build("{}", BUSYBOX, HOST, in -> in.withCgroupsPath("/custom/x")).toJson())
        .get("linux").get("cgroupsPath").asText());
  }

  @Test
  void everyProblemIsReportedAtOnce() {
    EngineException e = assertThrows(EngineException.class, () -> build("""
        {"Entrypoint": [""], "HostConfig": {"Memory": 1024, "CapAdd": ["CAP_FOO"], "SecurityOpt": ["bogus"],
         "Sysctls": {"kernel.panic": "1"}}}""", json("{}"), HOST, in -> in));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertEquals("""
        no command specified
        invalid --security-opt 1: "bogus"
        unknown capability: "CAP_FOO"
        Minimum memory limit allowed is 6MB
        sysctl "kernel.panic" is not in a separate kernel namespace""", e.getMessage());
  }

  // ---- sysctls ----

  @Test
  void sysctlsAreDefaultedAndCheckedPerNamespace() {
    JsonNode sysctl = spec("{\"Domainname\":\"example.com\",\"HostConfig\":{\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\","
        + "\"kernel.shmmax\":\"1000\",\"fs.mqueue.msg_max\":\"20\",\"net.ipv4.ping_group_range\":\"0 0\"}}}")
        .get("linux").get("sysctl");
    assertEquals(json("""
        {"fs.mqueue.msg_max": "20", "kernel.domainname": "example.com", "kernel.shmmax": "1000",
         "net.ipv4.ip_forward": "1", "net.ipv4.ip_unprivileged_port_start": "0",
         "net.ipv4.ping_group_range": "0 0"}"""), sysctl);
    assertEquals("sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
        invalid("{\"HostConfig\":{\"NetworkMode\":\"host\",\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\"}}}"));
    assertEquals("sysctl \"kernel.msgmax\" is not allowed in the hosts ipc namespace\n"
            + "sysctl \"kernel.panic\" is not in a separate kernel namespace\n"
            + "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
        invalid("{\"HostConfig\":{\"IpcMode\":\"host\",\"Sysctls\":{\"kernel.msgmax\":\"1\",\"kernel.panic\":\"1\","
            + "\"vm.swappiness\":\"1\"}}}"));
    assertEquals("sysctl \"kernel.hostname\" is not allowed as it conflicts with the OCI \"hostname\" field",
        invalid("{\"HostConfig\":{\"Sysctls\":{\"kernel.hostname\":\"x\"}}}"));
  }

  // ---- seccomp ----

  @Test
  void seccompDefaultUnconfinedAndCustom() {
    JsonNode dflt = spec("{}").get("linux").get("seccomp");
    assertEquals("SCMP_ACT_ERRNO", dflt.get("defaultAction").asText());
    assertEquals(List.of("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"), strings(dflt.get("architectures")));
    assertEquals(dflt, spec("{\"HostConfig\":{\"SecurityOpt\":[\"seccomp=builtin\"]}}").get("linux").get("seccomp"));
    assertNull(spec("{\"HostConfig\":{\"SecurityOpt\":[\"seccomp=unconfined\"]}}").get("linux").get("seccomp"));
    assertNull(spec("{\"HostConfig\":{\"SecurityOpt\":[\"seccomp:unconfined\"]}}").get("linux").get("seccomp"));

    // The CLI sends the profile file's content.
    String profile = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"chmod\"],"
        + "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}";
    JsonNode custom = spec("{\"HostConfig\":{\"SecurityOpt\":[" + JSON.valueToTree("seccomp=" + profile) + "]}}")
        .get("linux").get("seccomp");
    assertEquals(json("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"chmod\"],"
        + "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}"), custom);
    assertTrue(invalid("{\"HostConfig\":{\"SecurityOpt\":[\"seccomp={oops\"]}}")
        .startsWith("Decoding seccomp profile failed: "));
  }

  @Test
  void capSysAdminChangesTheResolvedSeccompFilter() {
    JsonNode plain = spec("{}").get("linux").get("seccomp");
    JsonNode admin = spec("{\"HostConfig\":{\"CapAdd\":[\"SYS_ADMIN\"]}}").get("linux").get("seccomp");
    assertFalse(plain.toString().contains("\"mount\""));
    assertTrue(admin.toString().contains("\"mount\""));
  }
}
