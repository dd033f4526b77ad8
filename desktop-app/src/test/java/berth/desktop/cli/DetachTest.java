package berth.desktop.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code berth start} starts its socket's server detached: the pid it records is the server's, the server writes
 * to its log, and it is no child of the starting JVM (whose exit would otherwise wait for it).
 */
class DetachTest {
  @TempDir Path dir;

  @Test
  void theServerRunsOnAsNoChildOfThisJvmAndWritesItsLog() throws Exception {
    Path log = dir.resolve("serve.log");
    Path marker = dir.resolve("go");
    long pid = BerthCli.Start.detach(List.of("/bin/sh", "-c",
        "echo started $$; while [ ! -e \"$0\" ]; do sleep 0.05; done; echo done", marker.toString()), log);
    ProcessHandle server = ProcessHandle.of(pid).orElseThrow();
    try {
      assertTrue(server.isAlive());
      assertFalse(ProcessHandle.current().children().anyMatch(c -> c.pid() == pid),
          "the server is a child of this JVM");
      awaitLog(log, "started " + pid);
      Files.createFile(marker);
      server.onExit().get(30, TimeUnit.SECONDS);
      awaitLog(log, "done");
    } finally {
      server.destroyForcibly();
    }
  }

  @Test
  void aMissingProgramFailsInItsLogAndAnUnwritableLogIsAnError() throws Exception {
    // the shell starts it in the background and prints its pid before exec fails: the pid is returned, and the
    // failure is in the log, as for a server that dies at once (start then reports the log)
    Path log = dir.resolve("serve.log");
    long pid = BerthCli.Start.detach(List.of(dir.resolve("no-such-program").toString()), log);
    ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
    awaitLog(log, "no-such-program");
    IOException e = assertThrows(IOException.class, () -> BerthCli.Start.detach(List.of("x"), dir.resolve("no/dir/log")));
    assertTrue(e.getMessage().contains("could not start the socket's server"), e.getMessage());
  }

  private static void awaitLog(Path log, String text) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log).contains(text)) {
        return;
      }
      Thread.sleep(20);
    }
    assertEquals(text, Files.exists(log) ? Files.readString(log) : "(no log)");
  }

  @Test
  void theServerGetsTheClassDataArchiveOptionsOfTheCommandsJvmAndNoneOfItsProgramArguments() {
    assertEquals(List.of("-XX:SharedArchiveFile=/x/berth-cli.jsa", "-Xlog:cds*=off"),
        BerthCli.Start.sharedArchiveOptions(List.of("-Xmx1g", "-XX:SharedArchiveFile=/x/berth-cli.jsa", "-Xlog:cds*=off",
            "-cp", "-XX:SharedArchiveFile=/in/the/class/path", "berth.desktop.cli.BerthCli", "start",
            "-XX:SharedArchiveFile=/a/program/argument")));
    assertEquals(List.of(), BerthCli.Start.sharedArchiveOptions(List.of("-jar", "berth.jar", "-Xlog:cds")));
    assertEquals(List.of(), BerthCli.Start.sharedArchiveOptions(List.of()));
  }
}
