package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.FaultyRegistry;
import berth.engine.testing.LocalRegistry;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import berth.engine.testing.TestImages.ImageArchive;
import berth.engine.testing.TokenServer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * docker login, push and pull through the real docker CLI against Debian's docker-registry (distribution 2.8)
 * started here on 127.0.0.1 (plain HTTP, htpasswd Basic auth, token auth with a token server written here, TLS
 * with a CA from certs.d), plus a registry that misbehaves on demand for the failures a real one will not show.
 * Every test starts from an engine without images.
 */
@Tag("root")
@Timeout(value = 180)
class RegistryCliIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(90);
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;
  static ImageArchive multi;
  static LocalRegistry plain;

  @BeforeAll
  static void setUp() throws IOException {
    RequiresRoot.check();
    fixtures = Files.createTempDirectory("berth-e2e-registry-");
    multi = TestImages.multiLayer(fixtures.resolve("multilayer.tar"), "berth/multilayer:latest");
    plain = LocalRegistry.start(LocalRegistry.Options.plain());
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(COMMAND_TIMEOUT);
  }

  @AfterAll
  static void tearDown() throws IOException {
    if (faultyRegistry != null) {
      faultyRegistry.close();
    }
    if (plain != null) {
      plain.close();
    }
    EngineProcess.closeAll(docker, engine, fixtures);
  }

  @AfterEach
  void reset() {
    removeAllImages(docker);
  }

  static void removeAllImages(DockerCli d) {
    Set<String> ids = new LinkedHashSet<>(d.run("images", "-aq", "--no-trunc").assertOk().lines());
    if (!ids.isEmpty()) {
      List<String> args = new ArrayList<>(List.of("rmi", "-f"));
      args.addAll(ids);
      d.run(args.toArray(String[]::new)).assertOk();
    }
    assertEquals(List.of(), d.run("images", "-aq").assertOk().lines(), "images left after reset");
  }

  // ---- push and pull over plain HTTP ------------------------------------------------------------

  @Test
  void pushThenPullByTagAndByDigest() throws Exception {
    String name = plain.address() + "/berth/multi";
    long since = java.time.Instant.now().getEpochSecond() - 1;
    docker.run("load", "-i", multi.path().toString()).assertOk();
    docker.run("tag", "berth/multilayer:latest", name + ":v1").assertOk();
    Result push = docker.run("push", name + ":v1").assertOk();
    assertTrue(push.stdout().contains("The push refers to repository [" + name + "]"), push.toString());
    assertEquals(multi.layerDigests().size(), count(push.stdout(), ": Pushed"), push.toString());
    String digest = match(push.stdout(), "v1: digest: (sha256:[0-9a-f]{64}) size: \\d+");
    // The registry now has exactly what was pushed, byte for byte.
    HttpResponse<byte[]> m = registryGet(plain, "/v2/berth/multi/manifests/v1");
    assertEquals(200, m.statusCode());
    assertEquals(digest, sha256(m.body()));

    // A second push finds every blob there.
    Result again = docker.run("push", name + ":v1").assertOk();
    assertEquals(multi.layerDigests().size(), count(again.stdout(), ": Layer already exists"), again.toString());
    // Another repository of the same registry gets the blobs by a cross-repository mount, not an upload.
    docker.run("tag", name + ":v1", plain.address() + "/berth/mounted:v1").assertOk();
    Result mount = docker.run("push", plain.address() + "/berth/mounted:v1").assertOk();
    assertEquals(multi.layerDigests().size(), count(mount.stdout(), ": Mounted from berth/multi"), mount.toString());
    assertTrue(mount.stdout().contains("v1: digest: " + digest), mount.toString());
    docker.run("rmi", plain.address() + "/berth/mounted:v1").assertOk();

    docker.run("rmi", "berth/multilayer:latest", name + ":v1").assertOk();
    assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());

    Result pull = docker.run("pull", name + ":v1").assertOk();
    assertTrue(pull.stdout().startsWith("v1: Pulling from berth/multi\n"), pull.toString());
    assertEquals(multi.layerDigests().size(), count(pull.stdout(), ": Pull complete"), pull.toString());
    assertTrue(pull.stdout().contains("Digest: " + digest + "\n"), pull.toString());
    assertTrue(pull.stdout().contains("Status: Downloaded newer image for " + name + ":v1\n"), pull.toString());
    assertEquals(multi.imageId(), docker.run("inspect", "--format", "{{.Id}}", name + ":v1").assertOk().out());
    assertEquals("[" + name + "@" + digest + "]",
        docker.run("inspect", "--format", "{{.RepoDigests}}", name + ":v1").assertOk().out());
    assertEquals(String.join(",", multi.diffIds()), docker.run("inspect", "--format",
        "{{join .RootFS.Layers \",\"}}", name + ":v1").assertOk().out());
    // The layers are real: a container runs on them and sees each layer's files.
    Result run = docker.run("run", "--rm", "--network", "none", name + ":v1", "cat", "/etc/layer4").assertOk();
    assertFalse(run.out().isEmpty(), run.toString());

    Result events = docker.run("events", "--since", Long.toString(since), "--until",
        Long.toString(java.time.Instant.now().getEpochSecond() + 1), "--filter", "type=image", "--format",
        "{{.Action}} {{.Actor.Attributes.name}}").assertOk();
    assertTrue(events.lines().contains("push " + name + ":v1"), events.toString());
    assertTrue(events.lines().contains("pull " + name + ":v1"), events.toString());

    Result upToDate = docker.run("pull", name + ":v1").assertOk();
    assertTrue(upToDate.stdout().contains("Status: Image is up to date for " + name + ":v1"), upToDate.toString());
    assertFalse(upToDate.stdout().contains("Pull complete"), upToDate.toString());

    docker.run("rmi", name + ":v1").assertOk();
    Result byDigest = docker.run("pull", name + "@" + digest).assertOk();
    assertTrue(byDigest.stdout().contains("Status: Downloaded newer image for " + name + "@" + digest),
        byDigest.toString());
    Result images = docker.run("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}").assertOk();
    assertEquals(List.of(name + " <none> " + digest), images.lines());
  }

  @Test
  void pullStreamsTheProgressTheCliRendersAndSkipsLayersItHas() throws Exception {
    String name = plain.address() + "/berth/progress";
    docker.run("load", "-i", multi.path().toString()).assertOk();
    docker.run("tag", "berth/multilayer:latest", name + ":v1").assertOk();
    docker.run("push", name + ":v1").assertOk();
    // A second image on the same layers (another config), put in the registry as a client would.
    byte[] manifest = registryGet(plain, "/v2/berth/progress/manifests/v1").body();
    byte[] derived = derivedImage(plain, "berth/progress", manifest, "v2", "amd64");
    removeAllImages(docker);

    List<JsonNode> msgs = apiPull(name, "v1");
    List<String> layerIds = new ArrayList<>();
    multi.layerDigests().forEach(d -> layerIds.add(d.substring(7, 19)));
    assertEquals("Pulling from berth/progress", msgs.get(0).path("status").asText());
    assertEquals("v1", msgs.get(0).path("id").asText());
    for (String id : layerIds) {
      List<String> seq = new ArrayList<>();
      boolean sawDownloadDetail = false;
      for (JsonNode m : msgs) {
        if (m.path("id").asText().equals(id)) {
          String st = m.path("status").asText();
          if (seq.isEmpty() || !seq.get(seq.size() - 1).equals(st)) {
            seq.add(st);
          }
          if (st.equals("Downloading")) {
            assertTrue(m.path("progressDetail").path("total").asLong() > 0, m.toString());
            assertTrue(m.path("progressDetail").path("current").asLong() > 0, m.toString());
            sawDownloadDetail = true;
          }
        }
      }
      seq.remove("Waiting");
      assertEquals(List.of("Pulling fs layer", "Downloading", "Verifying Checksum", "Download complete", "Extracting",
          "Pull complete"), seq, "layer " + id + " in " + msgs);
      assertTrue(sawDownloadDetail);
    }
    assertEquals("Digest: " + sha256(manifest), msgs.get(msgs.size() - 2).path("status").asText());
    assertEquals("Status: Downloaded newer image for " + name + ":v1", msgs.get(msgs.size() - 1).path("status").asText());

    // Push through the API to a registry that has nothing: the raw messages the CLI renders.
    try (LocalRegistry fresh = LocalRegistry.start(LocalRegistry.Options.plain())) {
      String target = fresh.address() + "/berth/pushed";
      docker.run("tag", name + ":v1", target + ":t").assertOk();
      Result r = docker.exec(List.of("curl", "-sS", "--max-time", "60", "--unix-socket", engine.socket().toString(),
          "-X", "POST", "-H", "X-Registry-Auth: e30=", "http://berth/v1.47/images/" + target + "/push?tag=t"));
      assertEquals(0, r.exitCode(), r.toString());
      List<JsonNode> pm = new ArrayList<>();
      for (String line : r.stdout().split("\r?\n")) {
        if (!line.isBlank()) {
          pm.add(JSON.readTree(line));
        }
      }
      assertEquals("The push refers to repository [" + target + "]", pm.get(0).path("status").asText());
      for (String id : layerIds) {
        List<String> seq = new ArrayList<>();
        for (JsonNode m : pm) {
          if (m.path("id").asText().equals(id) && (seq.isEmpty() || !seq.get(seq.size() - 1).equals(m.path("status").asText()))) {
            seq.add(m.path("status").asText());
            if (m.path("status").asText().equals("Pushing")) {
              assertTrue(m.path("progressDetail").path("total").asLong() > 0, m.toString());
            }
          }
        }
        seq.remove("Waiting");
        assertEquals(List.of("Preparing", "Pushing", "Pushed"), seq, "layer " + id + " in " + pm);
      }
      JsonNode aux = pm.get(pm.size() - 1).path("aux");
      assertEquals("t", aux.path("Tag").asText());
      assertEquals(sha256(manifest), aux.path("Digest").asText());
      assertEquals(manifest.length, aux.path("Size").asInt());
      docker.run("rmi", target + ":t").assertOk();
    }

    Result second = docker.run("pull", name + ":v2").assertOk();
    for (String id : layerIds) {
      assertTrue(second.stdout().contains(id + ": Already exists"), second.toString());
    }
    assertFalse(second.stdout().contains("Pull complete"), second.toString());
    assertEquals(sha256(configOf(derived)), docker.run("inspect", "--format", "{{.Id}}", name + ":v2").assertOk().out());
  }

  @Test
  void indexPullPicksLinuxAmd64UnlessAPlatformIsAsked() throws Exception {
    String name = plain.address() + "/berth/multiarch";
    docker.run("load", "-i", multi.path().toString()).assertOk();
    docker.run("tag", "berth/multilayer:latest", name + ":amd64").assertOk();
    docker.run("push", name + ":amd64").assertOk();
    byte[] amd64 = registryGet(plain, "/v2/berth/multiarch/manifests/amd64").body();
    byte[] arm64 = derivedImage(plain, "berth/multiarch", amd64, "arm64", "arm64");
    // An OCI index that lists arm64 first, and an attestation-like entry without a real platform.
    ObjectNode index = JSON.createObjectNode();
    index.put("schemaVersion", 2);
    index.put("mediaType", "application/vnd.oci.image.index.v1+json");
    ArrayNode ms = index.putArray("manifests");
    addEntry(ms, arm64, "arm64");
    addEntry(ms, amd64, "amd64");
    ObjectNode unknown = addEntry(ms, amd64, "unknown");
    unknown.putObject("platform").put("os", "unknown").put("architecture", "unknown");
    byte[] indexBytes = JSON.writeValueAsBytes(index);
    registryPut(plain, "/v2/berth/multiarch/manifests/multi", indexBytes, "application/vnd.oci.image.index.v1+json");
    removeAllImages(docker);

    Result pull = docker.run("pull", name + ":multi").assertOk();
    assertTrue(pull.stdout().contains("Digest: " + sha256(indexBytes)), pull.toString());
    assertEquals(multi.imageId(), docker.run("inspect", "--format", "{{.Id}}", name + ":multi").assertOk().out());
    assertEquals("[" + name + "@" + sha256(indexBytes) + "]",
        docker.run("inspect", "--format", "{{.RepoDigests}}", name + ":multi").assertOk().out());
    docker.run("rmi", name + ":multi").assertOk();

    Result arm = docker.run("pull", "--platform", "linux/arm64", name + ":multi").assertOk();
    assertEquals(sha256(configOf(arm64)), docker.run("inspect", "--format", "{{.Id}}", name + ":multi").assertOk().out(),
        arm.toString());
    assertEquals("arm64", docker.run("inspect", "--format", "{{.Architecture}}", name + ":multi").assertOk().out());

    Result none = docker.run("pull", "--platform", "linux/s390x", name + ":multi");
    assertEquals(1, none.exitCode(), none.toString());
    assertTrue(none.stderr().contains("no matching manifest for linux/s390x in the manifest list entries"), none.toString());
  }

  @Test
  void pullAllTagsFetchesEveryTagOfTheRepository() throws Exception {
    String name = plain.address() + "/berth/alltags";
    docker.run("load", "-i", multi.path().toString()).assertOk();
    docker.run("tag", "berth/multilayer:latest", name + ":one").assertOk();
    docker.run("push", name + ":one").assertOk();
    byte[] one = registryGet(plain, "/v2/berth/alltags/manifests/one").body();
    derivedImage(plain, "berth/alltags", one, "two", "amd64");
    removeAllImages(docker);

    Result all = docker.run("pull", "--all-tags", name).assertOk();
    assertTrue(all.stdout().contains("one: Pulling from berth/alltags"), all.toString());
    assertTrue(all.stdout().contains("two: Pulling from berth/alltags"), all.toString());
    Result tags = docker.run("images", "--format", "{{.Tag}}", name).assertOk();
    assertEquals(Set.of("one", "two"), Set.copyOf(tags.lines()));

    Result none = docker.run("pull", "--all-tags", plain.address() + "/berth/no-such-repo");
    assertEquals(1, none.exitCode(), none.toString());
    assertTrue(none.stderr().contains("not found"), none.toString());
  }

  // ---- authentication ---------------------------------------------------------------------------

  @Test
  void basicAuthLoginPushAndPull() throws Exception {
    Path htpasswd = fixtures.resolve("htpasswd");
    Result gen = docker.exec(List.of("htpasswd", "-Bbn", "alice", "s3cret-pw"));
    assertEquals(0, gen.exitCode(), gen.toString());
    Files.writeString(htpasswd, gen.stdout());
    try (LocalRegistry reg = LocalRegistry.start(LocalRegistry.Options.plain().htpasswd(htpasswd))) {
      String name = reg.address() + "/team/app";
      docker.run("load", "-i", multi.path().toString()).assertOk();
      docker.run("tag", "berth/multilayer:latest", name + ":1").assertOk();

      Result anonymous = docker.run("push", name + ":1");
      assertEquals(1, anonymous.exitCode(), anonymous.toString());
      assertTrue(anonymous.stderr().contains("no basic auth credentials"), anonymous.toString());

      Result wrong = docker.run("login", "-u", "alice", "-p", "wrong", reg.address());
      assertEquals(1, wrong.exitCode(), wrong.toString());
      assertTrue(wrong.stderr().contains("login attempt to http://" + reg.address() + "/v2/ failed with status: 401 Unauthorized"),
          wrong.toString());

      Result ok = docker.runWithStdin("s3cret-pw\n".getBytes(StandardCharsets.UTF_8), "login", "-u", "alice",
          "--password-stdin", reg.address()).assertOk();
      assertTrue(ok.stdout().contains("Login Succeeded"), ok.toString());
      docker.run("push", name + ":1").assertOk();
      removeAllImages(docker);
      docker.run("pull", name + ":1").assertOk();
      assertEquals(multi.imageId(), docker.run("inspect", "--format", "{{.Id}}", name + ":1").assertOk().out());

      // Stored credentials the registry refuses (a password changed since the login).
      Path cfg = docker.configDir().resolve("config.json");
      String saved = Files.readString(cfg);
      Files.writeString(cfg, JSON.writeValueAsString(Map.of("auths", Map.of(reg.address(), Map.of("auth",
          java.util.Base64.getEncoder().encodeToString("alice:not-any-more".getBytes(StandardCharsets.UTF_8)))))));
      removeAllImages(docker);
      Result refused = docker.run("pull", name + ":1");
      assertEquals(1, refused.exitCode(), refused.toString());
      assertTrue(refused.stderr().contains("unauthorized: authentication required"), refused.toString());
      assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());
      Files.writeString(cfg, saved);

      docker.run("logout", reg.address()).assertOk();
      Result denied = docker.run("pull", name + ":1");
      assertEquals(1, denied.exitCode(), denied.toString());
      assertTrue(denied.stderr().contains("no basic auth credentials"), denied.toString());
      assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());
    }
  }

  @Test
  void tokenAuthAnonymousPullAndLoggedInPushWithCachedTokens() throws Exception {
    Path dir = Files.createDirectories(fixtures.resolve("token"));
    try (TokenServer tokens = TokenServer.start(dir, Map.of("bob", "b0b-pass"));
        LocalRegistry reg = LocalRegistry.start(LocalRegistry.Options.plain().token(tokens.registryConfig()))) {
      String name = reg.address() + "/public/app";
      docker.run("load", "-i", multi.path().toString()).assertOk();
      docker.run("tag", "berth/multilayer:latest", name + ":1").assertOk();

      Result anonymousPush = docker.run("push", name + ":1");
      assertEquals(1, anonymousPush.exitCode(), anonymousPush.toString());
      assertTrue(anonymousPush.stderr().contains("unauthorized") || anonymousPush.stderr().contains("denied"),
          anonymousPush.toString());

      Result wrong = docker.run("login", "-u", "bob", "-p", "nope", reg.address());
      assertEquals(1, wrong.exitCode(), wrong.toString());
      assertTrue(tokens.requests.contains("!bob"), tokens.requests.toString());

      docker.runWithStdin("b0b-pass\n".getBytes(StandardCharsets.UTF_8), "login", "-u", "bob", "--password-stdin",
          reg.address()).assertOk();
      tokens.requests.clear();
      Result push = docker.run("push", name + ":1").assertOk();
      assertTrue(push.stdout().contains("1: digest: sha256:"), push.toString());
      // One token for the repository's push scope serves every request of the push.
      assertEquals(List.of("bob|repository:public/app:pull,push"), tokens.requests);

      docker.run("logout", reg.address()).assertOk();
      removeAllImages(docker);
      tokens.requests.clear();
      docker.run("pull", name + ":1").assertOk();
      assertEquals(multi.imageId(), docker.run("inspect", "--format", "{{.Id}}", name + ":1").assertOk().out());
      assertEquals(List.of("|repository:public/app:pull"), tokens.requests, "anonymous pull, one token");

      // Outside public/, anonymous pulls are refused by the registry and nothing is stored.
      docker.runWithStdin("b0b-pass\n".getBytes(StandardCharsets.UTF_8), "login", "-u", "bob", "--password-stdin",
          reg.address()).assertOk();
      docker.run("tag", name + ":1", reg.address() + "/private/app:1").assertOk();
      docker.run("push", reg.address() + "/private/app:1").assertOk();
      docker.run("logout", reg.address()).assertOk();
      removeAllImages(docker);
      Result denied = docker.run("pull", reg.address() + "/private/app:1");
      assertEquals(1, denied.exitCode(), denied.toString());
      assertTrue(denied.stderr().contains("pull access denied for " + reg.address() + "/private/app")
          || denied.stderr().contains("unauthorized"), denied.toString());
      assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());
    }
  }

  // ---- docker build pulls what it starts from ---------------------------------------------------

  @Test
  void buildPullsItsFromAndCopyFromImagesFromTheRegistryWithTheClientsCredentials() throws Exception {
    Path htpasswd = fixtures.resolve("htpasswd-build");
    Result gen = docker.exec(List.of("htpasswd", "-Bbn", "dora", "b1ld-pw"));
    assertEquals(0, gen.exitCode(), gen.toString());
    Files.writeString(htpasswd, gen.stdout());
    try (LocalRegistry reg = LocalRegistry.start(LocalRegistry.Options.plain().htpasswd(htpasswd))) {
      String base = reg.address() + "/berth/base:1";
      String tools = plain.address() + "/berth/tools:2";
      docker.run("load", "-i", multi.path().toString()).assertOk();
      docker.runWithStdin("b1ld-pw\n".getBytes(StandardCharsets.UTF_8), "login", "-u", "dora", "--password-stdin",
          reg.address()).assertOk();
      docker.run("tag", "berth/multilayer:latest", base).assertOk();
      docker.run("tag", "berth/multilayer:latest", tools).assertOk();
      docker.run("push", base).assertOk();
      docker.run("push", tools).assertOk();
      removeAllImages(docker);

      Path ctx = Files.createTempDirectory(fixtures, "build-from-");
      Files.writeString(ctx.resolve("Dockerfile"), "FROM " + base + "\n"
          + "RUN cat /etc/layer4 > /seen\n"
          + "COPY --from=" + tools + " /data/a.txt /copied\n");
      // The base is behind Basic auth: the CLI sends the login's credentials in X-Registry-Config.
      Result built = docker.run("build", "-t", "berth/built:1", ctx.toString()).assertOk();
      assertTrue(built.stdout().contains("1: Pulling from berth/base"), built.toString());
      assertEquals(multi.layerDigests().size(), count(built.stdout(), ": Pull complete"), built.toString());
      assertTrue(built.stdout().contains("Status: Downloaded newer image for " + base), built.toString());
      // COPY --from an image that is not present pulls it too; its layers are there by now.
      assertTrue(built.stdout().contains("Status: Downloaded newer image for " + tools), built.toString());
      assertTrue(built.stdout().contains("Successfully tagged berth/built:1"), built.toString());
      String seen = docker.run("run", "--rm", "--network", "none", "berth/built:1", "cat", "/seen", "/etc/layer4")
          .assertOk().stdout();
      String[] halves = seen.split("\n");
      assertEquals(2, halves.length, seen);
      assertEquals(halves[0], halves[1], "RUN saw the pulled base's files");
      assertEquals(docker.run("run", "--rm", "--network", "none", base, "cat", "/data/a.txt").assertOk().stdout(),
          docker.run("run", "--rm", "--network", "none", "berth/built:1", "cat", "/copied").assertOk().stdout());
      assertEquals(multi.imageId(), docker.run("inspect", "--format", "{{.Id}}", base).assertOk().out());

      // --pull asks the registry again even though the base is present; it is up to date, so the cache holds.
      Result again = docker.run("build", "--pull", "-t", "berth/built:1", ctx.toString()).assertOk();
      assertTrue(again.stdout().contains("Status: Image is up to date for " + base), again.toString());
      assertFalse(again.stdout().contains("Pull complete"), again.toString());
      assertTrue(again.stdout().contains("Using cache"), again.toString());

      // Without credentials the registry refuses, the build fails and leaves no image behind.
      docker.run("logout", reg.address()).assertOk();
      removeAllImages(docker);
      Result denied = docker.run("build", "-t", "berth/built:2", ctx.toString());
      assertEquals(1, denied.exitCode(), denied.toString());
      assertTrue(denied.stderr().contains("no basic auth credentials"), denied.toString());
      assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());
      assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines());

      // A tag the registry does not have is the registry's "manifest unknown".
      Files.writeString(ctx.resolve("Dockerfile"), "FROM " + plain.address() + "/berth/tools:nope\nRUN true\n");
      Result missing = docker.run("build", ctx.toString());
      assertEquals(1, missing.exitCode(), missing.toString());
      assertTrue(missing.stderr().contains("manifest unknown") || missing.stderr().contains("not found"),
          missing.toString());
      assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());
    }
  }

  // ---- registry settings: TLS with certs.d, insecure registries, mirrors ------------------------

  @Test
  void tlsNeedsTheCaFromCertsDAndInsecureRegistriesAllowHttpMirrorsServeHubNames() throws Exception {
    String hostIp = nonLoopbackIpv4();
    assumeTrue(hostIp != null, "the host has no non-loopback IPv4 address for a registry outside 127.0.0.0/8");
    Path dir = Files.createDirectories(fixtures.resolve("tls"));
    Result ca = docker.exec(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", dir.resolve("registry.key").toString(), "-out", dir.resolve("registry.crt").toString(),
        "-subj", "/CN=" + hostIp, "-addext", "subjectAltName=IP:" + hostIp));
    assertEquals(0, ca.exitCode(), ca.toString());
    try (LocalRegistry tls = LocalRegistry.start(LocalRegistry.Options.plain().bind(hostIp)
            .tls(dir.resolve("registry.crt"), dir.resolve("registry.key")));
        LocalRegistry tlsInsecure = LocalRegistry.start(LocalRegistry.Options.plain().bind(hostIp)
            .tls(dir.resolve("registry.crt"), dir.resolve("registry.key")));
        LocalRegistry http = LocalRegistry.start(LocalRegistry.Options.plain().bind(hostIp))) {
      // Without a CA, the default engine refuses the TLS registry's certificate and the remote HTTP registry.
      docker.run("load", "-i", multi.path().toString()).assertOk();
      docker.run("tag", "berth/multilayer:latest", tls.address() + "/secure/app:1").assertOk();
      Result untrusted = docker.run("push", tls.address() + "/secure/app:1");
      assertEquals(1, untrusted.exitCode(), untrusted.toString());
      assertTrue(untrusted.stderr().toLowerCase().contains("certificate") || untrusted.stderr().contains("PKIX"),
          untrusted.toString());
      docker.run("tag", "berth/multilayer:latest", http.address() + "/plain/app:1").assertOk();
      Result noHttp = docker.run("push", http.address() + "/plain/app:1");
      assertEquals(1, noHttp.exitCode(), noHttp.toString());

      // Put an image on the local registry for the mirror, under a Docker Hub path.
      docker.run("tag", "berth/multilayer:latest", plain.address() + "/library/mirrored:1").assertOk();
      docker.run("push", plain.address() + "/library/mirrored:1").assertOk();

      Path conf = Files.createDirectories(dir.resolve("etc"));
      Path certs = Files.createDirectories(conf.resolve("certs.d").resolve(tls.address()));
      Files.copy(dir.resolve("registry.crt"), certs.resolve("ca.crt"));
      Files.writeString(conf.resolve("daemon.json"), JSON.writeValueAsString(Map.of(
          "insecure-registries", List.of(http.address(), tlsInsecure.address()),
          "registry-mirrors", List.of("http://" + plain.address()),
          "max-concurrent-downloads", 1)));
      try (EngineProcess second = EngineProcess.start(null, List.of("--config-file", conf.resolve("daemon.json").toString()));
          DockerCli d2 = new DockerCli(second).timeout(COMMAND_TIMEOUT)) {
        d2.run("load", "-i", multi.path().toString()).assertOk();
        d2.run("tag", "berth/multilayer:latest", tls.address() + "/secure/app:1").assertOk();
        d2.run("push", tls.address() + "/secure/app:1").assertOk();
        d2.run("tag", "berth/multilayer:latest", http.address() + "/plain/app:1").assertOk();
        d2.run("push", http.address() + "/plain/app:1").assertOk();
        // An insecure registry that speaks TLS is used without checking its certificate (no CA for it here).
        d2.run("tag", "berth/multilayer:latest", tlsInsecure.address() + "/unverified/app:1").assertOk();
        d2.run("push", tlsInsecure.address() + "/unverified/app:1").assertOk();
        removeAllImages(d2);
        d2.run("pull", tlsInsecure.address() + "/unverified/app:1").assertOk();
        d2.run("pull", tls.address() + "/secure/app:1").assertOk();
        d2.run("pull", http.address() + "/plain/app:1").assertOk();
        // docker.io/library/mirrored comes from the mirror (the Hub itself is never reached from tests).
        Result mirrored = d2.run("pull", "mirrored:1").assertOk();
        assertTrue(mirrored.stdout().contains("Pulling from library/mirrored"), mirrored.toString());
        assertEquals(multi.imageId(), d2.run("inspect", "--format", "{{.Id}}", "mirrored:1").assertOk().out());
        // One download at a time: a layer waits while the one before it downloads.
        removeAllImages(d2);
        Result serial = d2.run("pull", tls.address() + "/secure/app:1").assertOk();
        assertTrue(serial.stdout().contains(": Waiting"), serial.toString());
      }
    }
  }

  // ---- bad input --------------------------------------------------------------------------------

  @Test
  void unknownTagAndDigestAreManifestUnknown() {
    Result tag = docker.run("pull", plain.address() + "/berth/nothing:nope");
    assertEquals(1, tag.exitCode(), tag.toString());
    assertTrue(tag.stderr().contains("manifest for " + plain.address() + "/berth/nothing:nope not found: manifest unknown"),
        tag.toString());
    String zeros = "sha256:" + "0".repeat(64);
    Result digest = docker.run("pull", plain.address() + "/berth/nothing@" + zeros);
    assertEquals(1, digest.exitCode(), digest.toString());
    assertTrue(digest.stderr().contains("not found"), digest.toString());
    Result unreachable = docker.run("pull", "127.0.0.1:" + 1 + "/x:1");
    assertEquals(1, unreachable.exitCode(), unreachable.toString());
    assertTrue(unreachable.stderr().contains("connection refused"), unreachable.toString());
    assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());
  }

  @ParameterizedTest
  @EnumSource(value = FaultyRegistry.Fault.class, names = {"WRONG_DIGEST", "TRUNCATED", "STOP_MIDWAY",
      "MALFORMED_MANIFEST", "UNSUPPORTED_MEDIA_TYPE"})
  void aMisbehavingRegistryLeavesNothingAndTheNextPullSucceeds(FaultyRegistry.Fault fault) throws Exception {
    String src = plain.address() + "/berth/faulty-src";
    docker.run("load", "-i", multi.path().toString()).assertOk();
    docker.run("tag", "berth/multilayer:latest", src + ":v1").assertOk();
    docker.run("push", src + ":v1").assertOk();
    removeAllImages(docker);
    Set<String> before = storeContents(engine);

    {
      // One server for every case: the engine learns once that it speaks plain HTTP (its TLS attempt just hangs).
      FaultyRegistry bad = faulty();
      JsonNode m = fillFaulty(bad, "berth/faulty-src", "berth/app");
      List<String> blobs = new ArrayList<>();
      m.path("layers").forEach(l -> blobs.add(l.path("digest").asText()));
      // The fault hits the largest layer, so that other layers finish and must be cleaned up too.
      String target = blobs.get(0);
      long biggest = -1;
      for (JsonNode l : m.path("layers")) {
        if (l.path("size").asLong() > biggest) {
          biggest = l.path("size").asLong();
          target = l.path("digest").asText();
        }
      }
      bad.fault(fault, target);
      String name = bad.address() + "/berth/app:v1";
      Result r = docker.run("pull", name);
      assertEquals(1, r.exitCode(), r.toString());
      String expected = switch (fault) {
        case WRONG_DIGEST -> "filesystem layer verification failed for digest " + target;
        case TRUNCATED, STOP_MIDWAY -> "failed to download layer " + target;
        case MALFORMED_MANIFEST -> "error parsing manifest";
        case UNSUPPORTED_MEDIA_TYPE -> "unsupported manifest media type and no default available: "
            + "application/vnd.docker.distribution.manifest.v1+prettyjws";
        default -> throw new AssertionError(fault);
      };
      assertTrue(r.stderr().contains(expected), "expected \"" + expected + "\" in " + r);
      assertFalse(r.stderr().contains("Exception"), r.toString());
      assertEquals(List.of(), docker.run("images", "-aq").assertOk().lines());
      assertEquals(before, storeContents(engine), "blobs or layers left behind by a failed pull");

      bad.fault(FaultyRegistry.Fault.NONE, null);
      Result ok = docker.run("pull", name).assertOk();
      assertTrue(ok.stdout().contains("Status: Downloaded newer image for " + name), ok.toString());
      assertEquals(multi.imageId(), docker.run("inspect", "--format", "{{.Id}}", name).assertOk().out());
    }
  }

  private static FaultyRegistry faultyRegistry;

  @Test
  void blobsRedirectedToStorageAreFollowedWithoutTheRegistrysCredentials() throws Exception {
    String src = plain.address() + "/berth/redirect-src";
    docker.run("load", "-i", multi.path().toString()).assertOk();
    docker.run("tag", "berth/multilayer:latest", src + ":v1").assertOk();
    docker.run("push", src + ":v1").assertOk();
    removeAllImages(docker);
    FaultyRegistry reg = faulty();
    fillFaulty(reg, "berth/redirect-src", "berth/redirected");
    reg.fault(FaultyRegistry.Fault.NONE, null);
    reg.redirectBlobs(true);
    reg.requireBasic("carol", "c4rol");
    try {
      docker.runWithStdin("c4rol\n".getBytes(StandardCharsets.UTF_8), "login", "-u", "carol", "--password-stdin",
          reg.address()).assertOk();
      String name = reg.address() + "/berth/redirected:v1";
      docker.run("pull", name).assertOk();
      assertEquals(multi.imageId(), docker.run("inspect", "--format", "{{.Id}}", name).assertOk().out());
      assertEquals(List.of(), reg.storageAuthorizations, "the registry's credentials went to the storage host");
    } finally {
      reg.redirectBlobs(false);
      reg.requireBasic(null, null);
      docker.run("logout", reg.address()).assertOk();
    }
  }

  /** Copies repo src:v1 (manifest, config, layers) from the plain registry into the faulty one as dst:v1. */
  private static JsonNode fillFaulty(FaultyRegistry bad, String src, String dst) throws Exception {
    byte[] manifest = registryGet(plain, "/v2/" + src + "/manifests/v1").body();
    JsonNode m = JSON.readTree(manifest);
    bad.putManifest(dst, "v1", manifest, m.path("mediaType").asText());
    List<String> blobs = new ArrayList<>(List.of(m.path("config").path("digest").asText()));
    m.path("layers").forEach(l -> blobs.add(l.path("digest").asText()));
    for (String b : blobs) {
      bad.putBlob(b, registryGet(plain, "/v2/" + src + "/blobs/" + b).body());
    }
    return m;
  }

  private static synchronized FaultyRegistry faulty() throws IOException {
    if (faultyRegistry == null) {
      faultyRegistry = FaultyRegistry.start();
    }
    return faultyRegistry;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** POST /images/create through curl on the engine's socket: the raw JSON messages. */
  private static List<JsonNode> apiPull(String image, String tag) throws IOException {
    Result r = docker.exec(List.of("curl", "-sS", "--max-time", "60", "--unix-socket", engine.socket().toString(),
        "-X", "POST", "http://berth/v1.47/images/create?fromImage=" + image + "&tag=" + tag));
    assertEquals(0, r.exitCode(), r.toString());
    List<JsonNode> out = new ArrayList<>();
    for (String line : r.stdout().split("\r?\n")) {
      if (!line.isBlank()) {
        out.add(JSON.readTree(line));
      }
    }
    for (JsonNode n : out) {
      assertFalse(n.has("error"), "pull failed: " + r.stdout());
    }
    return out;
  }

  /** Every blob and layer in the engine's data root, and whatever sits in its ingest dir. */
  private static Set<String> storeContents(EngineProcess e) throws IOException {
    Set<String> out = new TreeSet<>();
    for (String sub : List.of("content/blobs/sha256", "content/ingest", "layers")) {
      Path dir = e.dataRoot().resolve(sub);
      if (Files.isDirectory(dir)) {
        try (Stream<Path> s = Files.list(dir)) {
          s.forEach(p -> out.add(sub + "/" + p.getFileName()));
        }
      }
    }
    out.removeIf(p -> p.equals("layers/tmp") || p.equals("layers/rw"));
    return out;
  }

  /**
   * Pushes, with plain HTTP requests, an image with the manifest's layers and a config that differs (another
   * architecture and a label) under the tag; returns its manifest.
   */
  private static byte[] derivedImage(LocalRegistry reg, String repo, byte[] manifest, String tag, String arch)
      throws Exception {
    JsonNode m = JSON.readTree(manifest);
    String cfgDigest = m.path("config").path("digest").asText();
    ObjectNode cfg = (ObjectNode) JSON.readTree(registryGet(reg, "/v2/" + repo + "/blobs/" + cfgDigest).body());
    cfg.put("architecture", arch);
    ((ObjectNode) cfg.with("config")).putObject("Labels").put("derived", tag);
    byte[] cfgBytes = JSON.writeValueAsBytes(cfg);
    uploadBlob(reg, repo, cfgBytes);
    ObjectNode nm = (ObjectNode) m.deepCopy();
    ((ObjectNode) nm.path("config")).put("digest", sha256(cfgBytes)).put("size", cfgBytes.length);
    byte[] out = JSON.writeValueAsBytes(nm);
    registryPut(reg, "/v2/" + repo + "/manifests/" + tag, out, m.path("mediaType").asText());
    return out;
  }

  private static byte[] configOf(byte[] manifest) throws Exception {
    String d = JSON.readTree(manifest).path("config").path("digest").asText();
    // The config bytes are only needed for their digest, which is the image ID.
    return registryGet(plain, "/v2/berth/progress/blobs/" + d).statusCode() == 200
        ? registryGet(plain, "/v2/berth/progress/blobs/" + d).body()
        : registryGet(plain, "/v2/berth/multiarch/blobs/" + d).body();
  }

  private static ObjectNode addEntry(ArrayNode ms, byte[] manifest, String arch) throws Exception {
    ObjectNode e = ms.addObject();
    e.put("mediaType", JSON.readTree(manifest).path("mediaType").asText());
    e.put("digest", sha256(manifest));
    e.put("size", manifest.length);
    e.putObject("platform").put("os", "linux").put("architecture", arch);
    return e;
  }

  private static void uploadBlob(LocalRegistry reg, String repo, byte[] data) throws Exception {
    HttpResponse<String> start = HTTP.send(HttpRequest.newBuilder(URI.create("http://" + reg.address() + "/v2/" + repo
        + "/blobs/uploads/")).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(202, start.statusCode(), start.body());
    URI loc = URI.create("http://" + reg.address()).resolve(start.headers().firstValue("Location").orElseThrow());
    String sep = loc.getRawQuery() == null ? "?" : "&";
    HttpResponse<String> put = HTTP.send(HttpRequest.newBuilder(URI.create(loc + sep + "digest=" + sha256(data)))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(data)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(201, put.statusCode(), put.body());
  }

  private static void registryPut(LocalRegistry reg, String path, byte[] body, String type) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://" + reg.address() + path))
        .header("Content-Type", type).PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(201, r.statusCode(), r.body());
  }

  private static HttpResponse<byte[]> registryGet(LocalRegistry reg, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://" + reg.address() + path))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
        .GET().build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String sha256(byte[] data) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  private static int count(String text, String needle) {
    int n = 0;
    for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }

  private static String match(String text, String regex) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile(regex).matcher(text);
    assertTrue(m.find(), "no match for " + regex + " in\n" + text);
    return m.group(1);
  }

  private static String nonLoopbackIpv4() throws IOException {
    for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (!ni.isUp() || ni.isLoopback() || ni.getName().startsWith("berth") || ni.getName().startsWith("br-")
          || ni.getName().startsWith("veth") || ni.getName().startsWith("docker") || ni.getName().startsWith("virbr")) {
        continue;
      }
      for (InetAddress a : Collections.list(ni.getInetAddresses())) {
        if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
          return a.getHostAddress();
        }
      }
    }
    return null;
  }
}
