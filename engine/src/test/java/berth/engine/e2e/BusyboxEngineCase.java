package berth.engine.e2e;

import berth.engine.testing.DockerCli;
import berth.engine.testing.EngineProcess;
import berth.engine.testing.EngineWithBusybox;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * What the CLI test classes of the builder share: one engine per class with busybox loaded and the docker CLI
 * pointed at it; the containers a test leaves are removed after it.
 */
abstract class BusyboxEngineCase {
  static EngineWithBusybox env;
  static EngineProcess engine;
  static DockerCli docker;
  static Path fixtures;

  @BeforeAll
  static void startEngine() throws IOException {
    env = EngineWithBusybox.start("berth-e2e-", List.of());
    engine = env.engine;
    docker = env.docker;
    fixtures = env.fixtures;
  }

  @AfterAll
  static void stopEngine() throws IOException {
    if (env != null) {
      env.close();
      env = null;
    }
  }

  @AfterEach
  void removeContainers() {
    docker.removeAllContainers().assertOk();
  }

  /** A fresh folder under the fixtures holding these files (relative path → content). */
  static Path context(Map<String, String> files) throws IOException {
    return env.context(files);
  }
}
