package berth.engine.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.DockerCli;
import berth.engine.testing.DockerCli.Result;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.RequiresRoot;
import berth.engine.testing.TestImages;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A real Compose client (Debian's docker-compose 1.29, through docker-py) against the engine: a project with
 * a front and an internal back network, a published port and a network alias comes up, its services find
 * each other by service name only where they share a network, and {@code down} leaves nothing behind; a service
 * with a named volume and a bind keeps its volume's data across {@code down} and loses it with {@code down -v}.
 */
@Tag("root")
class ComposeIT {
  EngineProcess engine;
  DockerCli docker;
  Path work;

  @BeforeEach
  void setUp() throws IOException {
    RequiresRoot.check();
    work = Files.createTempDirectory("berth-e2e-compose-");
    TestImages.busybox(work.resolve("busybox.tar"), "busybox:latest");
    engine = EngineProcess.start();
    docker = new DockerCli(engine).timeout(Duration.ofSeconds(120));
    docker.run("load", "-q", "-i", work.resolve("busybox.tar").toString()).assertOk();
  }

  @AfterEach
  void tearDown() throws IOException {
    if (docker != null) {
      docker.removeAllContainers();
    }
    EngineProcess.closeAll(docker, engine, work);
  }

  @Test
  void aProjectWithTwoNetworksAnAliasAndAPublishedPortComesUpResolvesAndGoesDown() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String httpd = "mkdir -p /www && echo hello-from-$$NAME > /www/index.html && exec httpd -f -p 80 -h /www";
    Files.writeString(work.resolve("docker-compose.yml"), String.join("\n",
        "version: \"3.8\"",
        "services:",
        "  web:",
        "    image: busybox:latest",
        "    environment: [NAME=web]",
        "    command: sh -c '" + httpd + "'",
        "    ports: [\"127.0.0.1:" + port + ":80\"]",
        "    networks: [front, back]",
        "  db:",
        "    image: busybox:latest",
        "    environment: [NAME=db]",
        "    command: sh -c '" + httpd + "'",
        "    networks:",
        "      back:",
        "        aliases: [database]",
        "  client:",
        "    image: busybox:latest",
        "    command: sleep 300",
        "    networks: [front]",
        "networks:",
        "  front: {}",
        "  back:",
        "    internal: true",
        ""));
    Result up = compose("up", "-d");
    assertEquals(0, up.exitCode(), up.toString());
    assertTrue(awaitGet(port).contains("hello-from-web"), "the published port of a service on an internal + a "
        + "normal network answers");
    Result fromClient = docker.run("exec", "berthit_client_1", "sh", "-c",
        "wget -q -O - http://web/; timeout 3 wget -q -O - http://db/; echo rc=$?");
    assertTrue(fromClient.stdout().startsWith("hello-from-web"), fromClient.toString());
    assertFalse(fromClient.stdout().contains("hello-from-db"), "db is on the back network only: " + fromClient);
    Result fromWeb = docker.run("exec", "berthit_web_1", "sh", "-c",
        "wget -q -O - http://db/ && wget -q -O - http://database/").assertOk();
    assertEquals(2, fromWeb.stdout().split("hello-from-db", -1).length - 1, fromWeb.toString());
    String nets = docker.run("network", "ls", "--format", "{{.Name}} {{.Labels}}").assertOk().out();
    assertTrue(nets.contains("berthit_front") && nets.contains("com.docker.compose.project=berthit"), nets);
    Result down = compose("down");
    assertEquals(0, down.exitCode(), down.toString());
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines());
    assertEquals(3, docker.run("network", "ls", "-q").assertOk().lines().size(), "only bridge, host and none");
  }

  @Test
  void aServiceWithANamedVolumeAndABindKeepsTheVolumeOnDownAndLosesItOnDownV() throws Exception {
    Path host = Files.createDirectories(work.resolve("site"));
    Files.writeString(host.resolve("in.txt"), "from-host\n");
    Files.writeString(work.resolve("docker-compose.yml"), String.join("\n",
        "version: \"3.8\"",
        "services:",
        "  app:",
        "    image: busybox:latest",
        "    command: sh -c 'cat /site/in.txt >> /state/log; cp /state/log /site/out.txt; sleep 300'",
        "    volumes:",
        "      - state:/state",
        "      - ./site:/site",
        "volumes:",
        "  state: {}",
        ""));
    assertEquals(0, compose("up", "-d").exitCode());
    Path out = host.resolve("out.txt");
    for (int i = 0; i < 100 && !Files.exists(out); i++) {
      Thread.sleep(100);
    }
    assertEquals("from-host\n", Files.readString(out), "the bind is the host's directory, the volume is writable");
    String mounts = docker.run("inspect", "berthit_app_1", "--format",
        "{{range .Mounts}}{{.Type}}:{{.Source}}:{{.Destination}} {{end}}").assertOk().out();
    assertTrue(mounts.contains("bind:" + host + ":/site") && mounts.contains("volume:") && mounts.contains(":/state"),
        mounts);
    assertEquals("berthit_state berthit", docker.run("volume", "ls", "--format",
        "{{.Name}} {{.Label \"com.docker.compose.project\"}}").assertOk().out());
    Result down = compose("down");
    assertEquals(0, down.exitCode(), down.toString());
    assertEquals(List.of("berthit_state"), docker.run("volume", "ls", "-q").assertOk().lines(), "down keeps it");

    // the volume's data outlives the container: a new project run appends to it
    Files.delete(out);
    assertEquals(0, compose("up", "-d").exitCode());
    for (int i = 0; i < 100 && !Files.exists(out); i++) {
      Thread.sleep(100);
    }
    assertEquals("from-host\nfrom-host\n", Files.readString(out));
    Result downV = compose("down", "-v");
    assertEquals(0, downV.exitCode(), downV.toString());
    assertEquals(List.of(), docker.run("volume", "ls", "-q").assertOk().lines(), "down -v removes it");
    assertEquals(List.of(), docker.run("ps", "-aq").assertOk().lines());
    assertTrue(Files.isRegularFile(host.resolve("in.txt")), "the bound host directory stays");
  }

  private Result compose(String... args) {
    List<String> cmd = new java.util.ArrayList<>(List.of("docker-compose", "-p", "berthit", "-f",
        work.resolve("docker-compose.yml").toString()));
    cmd.addAll(List.of(args));
    return docker.exec(cmd);
  }

  private static String awaitGet(int port) throws InterruptedException {
    for (int i = 0; i < 150; i++) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(3000);
        s.getOutputStream().write("GET /index.html HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (r.contains(" 200 ")) {
          return r;
        }
      } catch (IOException e) {
        // not up yet
      }
      Thread.sleep(100);
    }
    throw new AssertionError("nothing answered on 127.0.0.1:" + port);
  }
}
