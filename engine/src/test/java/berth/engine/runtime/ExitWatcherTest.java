package berth.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The exit watcher fires once per directory, for an exit file renamed in later or present already. */
class ExitWatcherTest {
  @Test
  void firesOnceWhenTheExitFileIsRenamedIn(@TempDir Path tmp) throws Exception {
    Path a = Files.createDirectory(tmp.resolve("a"));
    Path b = Files.createDirectory(tmp.resolve("b"));
    Files.writeString(b.resolve("exit"), "3\n"); // b exited before anyone watched
    AtomicInteger aCalls = new AtomicInteger();
    CountDownLatch both = new CountDownLatch(2);
    try (ExitWatcher w = new ExitWatcher(Executors.newCachedThreadPool())) {
      w.watch(a, () -> {
        aCalls.incrementAndGet();
        both.countDown();
      });
      w.watch(b, both::countDown);
      Files.writeString(a.resolve("other"), "x"); // not the exit file: nothing
      Thread.sleep(200);
      assertEquals(0, aCalls.get());
      Files.writeString(a.resolve("exit.tmp"), "0\n");
      Files.move(a.resolve("exit.tmp"), a.resolve("exit"), StandardCopyOption.ATOMIC_MOVE); // as berth-mon does
      assertTrue(both.await(5, TimeUnit.SECONDS));
      Files.writeString(a.resolve("exit"), "1\n");
      Thread.sleep(200);
      assertEquals(1, aCalls.get(), "once per watch");
    }
  }

  @Test
  void runcErrorMessagesLoseTheirDecoration() {
    assertEquals("container not running",
        Runc.message("time=\"2026-11-27T00:00:00Z\" level=error msg=\"container not running\"\n", 1));
    assertEquals("say \"hi\"", Runc.message("level=error msg=\"say \\\"hi\\\"\"", 1));
    assertEquals("runc exited with status 2", Runc.message("", 2));
    assertEquals("plain text", Runc.message("plain text\n\n", 1));
  }
}
