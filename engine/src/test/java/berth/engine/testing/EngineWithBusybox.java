package berth.engine.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An engine for one test class: a fixtures folder, an engine on a fresh data root, the docker CLI pointed at it
 * and {@code busybox:latest} loaded from {@link TestImages}. Closing it stops the engine and removes the folder.
 */
public final class EngineWithBusybox implements AutoCloseable {
  public final Path fixtures;
  public final EngineProcess engine;
  public final DockerCli docker;

  private EngineWithBusybox(Path fixtures, EngineProcess engine, DockerCli docker) {
    this.fixtures = fixtures;
    this.engine = engine;
    this.docker = docker;
  }

  /** Needs root; {@code engineArgs} go to the engine's command line; the CLI waits up to two minutes a call. */
  public static EngineWithBusybox start(String prefix, List<String> engineArgs) throws IOException {
    return start(prefix, null, engineArgs);
  }

  /** The same, the engine configured by a daemon.json of this content (written into the fixtures folder). */
  public static EngineWithBusybox withConfig(String prefix, String daemonJson) throws IOException {
    return start(prefix, daemonJson, List.of());
  }

  private static EngineWithBusybox start(String prefix, String daemonJson, List<String> engineArgs)
      throws IOException {
    RequiresRoot.check();
    Path fixtures = Files.createTempDirectory(prefix);
    EngineProcess engine = null;
    DockerCli docker = null;
    try {
      TestImages.busybox(fixtures.resolve("busybox.tar"), "busybox:latest");
      List<String> args = new ArrayList<>(engineArgs);
      if (daemonJson != null) {
        args.addAll(List.of("--config-file", Files.writeString(fixtures.resolve("daemon.json"), daemonJson).toString()));
      }
      engine = EngineProcess.start(args);
      docker = new DockerCli(engine).timeout(Duration.ofSeconds(120));
      docker.run("load", "-q", "-i", fixtures.resolve("busybox.tar").toString()).assertOk();
      return new EngineWithBusybox(fixtures, engine, docker);
    } catch (IOException | RuntimeException | Error e) {
      EngineProcess.closeAll(docker, engine, fixtures);
      throw e;
    }
  }

  /** A fresh folder under the fixtures holding these files (relative path → content). */
  public Path context(Map<String, String> files) throws IOException {
    Path dir = Files.createTempDirectory(fixtures, "ctx-");
    for (Map.Entry<String, String> f : files.entrySet()) {
      Path p = dir.resolve(f.getKey());
      Files.createDirectories(p.getParent());
      Files.writeString(p, f.getValue());
    }
    return dir;
  }

  @Override
  public void close() throws IOException {
    EngineProcess.closeAll(docker, engine, fixtures);
  }
}
