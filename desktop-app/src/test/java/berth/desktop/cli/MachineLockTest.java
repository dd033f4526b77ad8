package berth.desktop.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two berth commands on one machine do not race: while one process holds the machine's lock, a {@code berth stop}
 * in another process says it is waiting and waits; once the lock is released it goes on (here to "no machine").
 */
class MachineLockTest {
  @TempDir Path home;

  @Test
  void aSecondCommandWaitsForTheFirst() throws Exception {
    BerthCli cli = new BerthCli();
    cli.home = home;
    cli.name = "m1";
    Path err = home.resolve("stop.err");
    Process stop;
    try (FileChannel held = cli.lock(new PrintWriter(new StringWriter()))) {
      stop = new ProcessBuilder(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
          System.getProperty("java.class.path"), BerthCli.class.getName(), "--home", home.toString(), "--name", "m1",
          "--image", home.toString(), "stop"))
          .redirectError(err.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.readString(err).contains("waiting for another berth command") && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(Files.readString(err).contains("waiting for another berth command on machine \"m1\""),
          Files.readString(err));
      Thread.sleep(500);
      assertTrue(stop.isAlive(), "it waits while the lock is held");
    }
    assertTrue(stop.waitFor(60, TimeUnit.SECONDS), "it goes on once the lock is released");
    assertEquals(1, stop.exitValue());
    String out = Files.readString(err, StandardCharsets.UTF_8);
    assertTrue(out.contains("m1"), out); // the machine does not exist: its own error, after the lock
  }
}
