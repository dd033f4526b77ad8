package berth.engine.api.containers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import berth.engine.api.http.Stdcopy;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** docker logs frames: same-stream entries share a frame; stream switches, 32 KiB and flushes end one. */
class LogFramesTest {
  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void consecutiveEntriesOfOneStreamShareAFrame() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ContainersRouter.Coalescer c = new ContainersRouter.Coalescer(out, false);
    c.add(1, b("a\n"));
    c.add(1, b("b\n"));
    c.add(2, b("err\n"));
    c.add(1, b("c\n"));
    c.flush();
    c.add(1, b("d\n"));
    c.flush();
    List<String> frames = new ArrayList<>();
    ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
    for (Stdcopy.Frame f = Stdcopy.readFrame(in); f != null; f = Stdcopy.readFrame(in)) {
      frames.add(f.stream() + ":" + new String(f.payload(), StandardCharsets.UTF_8));
    }
    assertEquals(List.of("1:a\nb\n", "2:err\n", "1:c\n", "1:d\n"), frames);
  }

  @Test
  void framesStopAt32KiBAndTtyOutputIsRaw() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ContainersRouter.Coalescer c = new ContainersRouter.Coalescer(out, false);
    byte[] big = new byte[40_000];
    java.util.Arrays.fill(big, (byte) 'x');
    c.add(1, big);
    c.flush();
    ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
    assertEquals(32 * 1024, Stdcopy.readFrame(in).payload().length);
    assertEquals(40_000 - 32 * 1024, Stdcopy.readFrame(in).payload().length);
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    ContainersRouter.Coalescer t = new ContainersRouter.Coalescer(raw, true);
    t.add(1, b("x\r\n"));
    t.add(2, b("y\r\n"));
    t.flush();
    assertEquals("x\r\ny\r\n", raw.toString(StandardCharsets.UTF_8));
  }

  @Test
  void sinceAndUntilAreUnixSecondsWithFractions() {
    assertEquals(0, ContainersRouter.logTime(null));
    assertEquals(1_700_000_000_500_000_000L, ContainersRouter.logTime("1700000000.5"));
    assertEquals(1_700_000_000_000_000_000L, ContainersRouter.logTime("1700000000"));
  }
}
