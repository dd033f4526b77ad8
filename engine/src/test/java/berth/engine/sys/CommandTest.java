package berth.engine.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommandTest {
  @Test
  void checkReturnsStdoutTakesStdinAndFailuresCarryStderr() throws Exception {
    assertEquals("hi\n", Command.check(List.of(Command.find("sh"), "-c", "echo hi"), null, 10_000));
    assertEquals("in", Command.check(List.of(Command.find("cat")), "in".getBytes(StandardCharsets.UTF_8), 10_000));
    IOException e = assertThrows(IOException.class,
        () -> Command.check(List.of(Command.find("sh"), "-c", "echo bad rule >&2; exit 2"), null, 10_000));
    assertTrue(e.getMessage().contains("exit 2") && e.getMessage().contains("bad rule"), e.getMessage());
    assertThrows(IOException.class, () -> Command.run(List.of(Command.find("no-such-program-berth")), null, 10_000));
  }

  @Test
  void bigOutputWithStdinDoesNotDeadlockAndSlowToolsAreKilled() throws Exception {
    byte[] in = new byte[1 << 20];
    assertEquals(in.length, Command.check(List.of(Command.find("cat")), in, 10_000).length());
    IOException e = assertThrows(IOException.class,
        () -> Command.run(List.of(Command.find("sleep"), "10"), null, 200));
    assertTrue(e.getMessage().contains("did not finish"), e.getMessage());
  }

  @Test
  void findLooksInTheSbinDirectoriesToo() {
    assertTrue(Command.find("ip").startsWith("/"), Command.find("ip"));
    assertEquals("no-such-program-berth", Command.find("no-such-program-berth"));
  }
}
