package berth.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.http.ApiJson;
import berth.engine.api.types.ContainerTop;
import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TopTest {
  private static final String PS_EF = """
      UID          PID    PPID  C STIME TTY          TIME CMD
      root           1       0  0 20:57 ?        00:00:07 /sbin/init splash
      root        4100       1  0 21:00 ?        00:00:00 /usr/bin/runc --root /run/berth/runc run x
      root        4123    4100  0 21:00 pts/0    00:00:00 sh -c   while true;   do sleep 1; done
      nobody      4124    4123  0 21:00 pts/0    00:00:00 sleep 1
      """;

  @Test
  void keepsOnlyTheContainersRowsAndJoinsTheCommandColumn() {
    ContainerTop top = Top.parse(PS_EF, Set.of(4123L, 4124L, 9999L));
    assertEquals(List.of("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"), top.titles());
    assertEquals(List.of(
        List.of("root", "4123", "4100", "0", "21:00", "pts/0", "00:00:00", "sh -c while true; do sleep 1; done"),
        List.of("nobody", "4124", "4123", "0", "21:00", "pts/0", "00:00:00", "sleep 1")), top.processes());
  }

  @Test
  void noMatchingRowIsNullProcessesAsFromDockerd() throws JsonProcessingException {
    ContainerTop top = Top.parse(PS_EF, Set.of(777L));
    assertNull(top.processes());
    assertEquals("{\"Titles\":[\"UID\",\"PID\",\"PPID\",\"C\",\"STIME\",\"TTY\",\"TIME\",\"CMD\"],\"Processes\":null}",
        ApiJson.MAPPER.writeValueAsString(top));
  }

  @Test
  void threadRowsFollowTheirProcess() {
    // ps -efm prints a process row and then one "-" row per thread
    String out = """
        UID          PID    PPID  C STIME TTY          TIME CMD
        root           1       0  0 20:57 ?        00:00:07 /sbin/init
        root           -       -  0 20:57 -        00:00:07 -
        root        4123    4100  0 21:00 ?        00:00:00 java -jar app.jar
        root           -       -  0 21:00 -        00:00:00 -
        root           -       -  0 21:00 -        00:00:01 -
        """;
    ContainerTop top = Top.parse(out, Set.of(4123L));
    assertEquals(3, top.processes().size());
    assertEquals("4123", top.processes().get(0).get(1));
    assertEquals(List.of("root", "-", "-", "0", "21:00", "-", "00:00:01", "-"), top.processes().get(2));
  }

  @Test
  void nonAsciiWhitespaceStaysInsideAField() {
    String out = "  PID CMD\n 4123 a\u00a0b  c\n";
    assertEquals(List.of(List.of("4123", "a\u00a0b c")), Top.parse(out, Set.of(4123L)).processes());
  }

  @Test
  void outputWithoutPidColumnIsDockerdsError() {
    EngineException e = assertThrows(EngineException.class,
        () -> Top.parse("USER COMMAND\nroot init\n", Set.of(1L)));
    assertEquals("Couldn't find PID field in ps output", e.getMessage());
    assertEquals(ErrorKind.SYSTEM, e.kind());
    // "PID" must be a title of its own: %CPU-like names do not count
    assertThrows(EngineException.class, () -> Top.parse("PPID CMD\n1 init\n", Set.of(1L)));
  }

  @Test
  void unparsablePidIsDockerdsError() {
    EngineException e = assertThrows(EngineException.class, () -> Top.parse("PID CMD\nabc init\n", Set.of(1L)));
    assertEquals("Unexpected pid 'abc': strconv.Atoi: parsing \"abc\": invalid syntax", e.getMessage());
  }

  @Test
  void onlyPidMayBeRenamedToPid() {
    assertDoesNotThrow(() -> Top.validateArgs("-eo pid=PID,comm"));
    assertDoesNotThrow(() -> Top.validateArgs("-ef"));
    EngineException e = assertThrows(EngineException.class, () -> Top.validateArgs("-eo ppid=PID,comm"));
    // the PID group runs to the next whitespace, as in dockerd's regexp
    assertEquals("specifying \"ppid=PID,comm\" is not allowed", e.getMessage());
    assertEquals(ErrorKind.SYSTEM, e.kind());
    e = assertThrows(EngineException.class, () -> Top.list(Set.of(1L), "-o user= PIDX"));
    assertEquals("specifying \"user=PIDX\" is not allowed", e.getMessage());
  }

  @Test
  void realPsFindsThisJvm() {
    long self = ProcessHandle.current().pid();
    ContainerTop top = Top.list(Set.of(self), null);
    assertEquals("UID", top.titles().get(0));
    assertEquals(1, top.processes().size(), top.toString());
    List<String> row = top.processes().get(0);
    assertEquals(Long.toString(self), row.get(1));
    assertEquals(top.titles().size(), row.size());
    assertTrue(row.get(row.size() - 1).contains("java"), row.toString());
  }

  @Test
  void realPsWithBsdArgsAndWithAForestThatRefusesQ() {
    long self = ProcessHandle.current().pid();
    ContainerTop aux = Top.list(Set.of(self), "aux");
    assertEquals(List.of("USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"),
        aux.titles());
    assertEquals(Long.toString(self), aux.processes().get(0).get(1));
    // "f" (forest) cannot be combined with -q, so ps runs a second time without it
    ContainerTop forest = Top.list(Set.of(self), "-ef f");
    assertEquals(1, forest.processes().size());
    assertEquals(Long.toString(self), forest.processes().get(0).get(1));
  }

  @Test
  void realPsFailureIsItsFirstStderrLine() {
    EngineException e = assertThrows(EngineException.class, () -> Top.list(Set.of(1L), "-zzz"));
    assertEquals("ps: error: unsupported SysV option", e.getMessage());
    assertEquals(ErrorKind.SYSTEM, e.kind());
  }
}
