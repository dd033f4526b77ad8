package berth.agent.sshd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class AgentCommandTest {
  @Test
  void builtinsParse() {
    assertEquals(new AgentCommand.Ready(), AgentCommand.parse("berth-agent ready"));
    assertEquals(new AgentCommand.Shutdown(), AgentCommand.parse("  berth-agent   shutdown "));
    assertEquals(new AgentCommand.TimeSync(1733318400123L), AgentCommand.parse("berth-agent time-sync 1733318400123"));
    assertEquals(new AgentCommand.Ready(java.util.OptionalLong.of(1733318400123L)),
        AgentCommand.parse("berth-agent ready --time-sync 1733318400123"));
  }

  @Test
  void readyWithTheHostsTimeSetsTheClockToItPlusTheTimeWaited() {
    long sent = 1733318400123L;
    assertEquals(sent, BuiltinCommand.hostNow(sent, 5_000_000_000L, 5_000_000_000L));
    assertEquals(sent + 2_750, BuiltinCommand.hostNow(sent, 5_000_000_000L, 7_750_400_000L));
    assertEquals(sent + 1, BuiltinCommand.hostNow(sent, Long.MAX_VALUE - 500_000, Long.MIN_VALUE + 600_000)); // nanoTime wraps
  }

  @Test
  void malformedBuiltinsSayWhy() {
    assertTrue(msg("berth-agent").contains("usage"));
    assertTrue(msg("berth-agent reboot").contains("unknown berth-agent command: reboot"));
    assertTrue(msg("berth-agent ready now").contains("takes no arguments but --time-sync"));
    assertTrue(msg("berth-agent ready --time-sync").contains("takes no arguments but --time-sync"));
    assertTrue(msg("berth-agent ready --time-sync soon").contains("ready --time-sync: not epoch milliseconds: soon"));
    assertTrue(msg("berth-agent ready --time-sync 0").contains("not a time after 1970"));
    assertTrue(msg("berth-agent shutdown now").contains("takes no arguments"));
    assertTrue(msg("berth-agent time-sync").contains("needs one argument"));
    assertTrue(msg("berth-agent time-sync 12abc").contains("not epoch milliseconds: 12abc"));
    assertTrue(msg("berth-agent time-sync -5").contains("not a time after 1970"));
    assertTrue(msg("berth-agent time-sync 1 2").contains("needs one argument"));
  }

  @Test
  void everythingElseGoesToTheShellVerbatim() {
    assertEquals(new AgentCommand.Shell("echo 'berth-agent ready' | cat"),
        AgentCommand.parse("echo 'berth-agent ready' | cat"));
    assertEquals(new AgentCommand.Shell("berth-agentx ready"), AgentCommand.parse("berth-agentx ready"));
    assertEquals(new AgentCommand.Shell(""), AgentCommand.parse(null));
  }

  @Test
  void processArgvUsesShAndScriptForAPty() {
    assertEquals(List.of("/bin/sh", "-c", "ls -l"), ProcessCommand.argv("ls -l", false));
    assertEquals(List.of("/bin/sh", "-i"), ProcessCommand.argv(null, false));
    List<String> pty = ProcessCommand.argv("ls -l", true);
    assertEquals("/usr/bin/script", pty.get(0));
    assertTrue(pty.get(2).endsWith("exec /bin/sh -c \"$BERTH_COMMAND\""), pty.get(2)); // the command is not quoted in
    assertTrue(ProcessCommand.argv(null, true).get(2).endsWith("exec /bin/sh -l"));
  }

  @Test
  void streamLocalIsAllowedOnlyToTheEngineSocket() {
    Path engine = Path.of("/run/berth/docker.sock");
    assertEquals(null, StreamLocalChannel.refusal(engine, "/run/berth/docker.sock"));
    assertEquals(null, StreamLocalChannel.refusal(engine, "/run/berth/../berth/docker.sock"));
    assertTrue(StreamLocalChannel.refusal(engine, "/var/run/docker.sock").contains("is not allowed"));
    assertTrue(StreamLocalChannel.refusal(engine, "run/berth/docker.sock").contains("is not allowed"));
    assertEquals("no socket path given", StreamLocalChannel.refusal(engine, ""));
  }

  private static String msg(String line) {
    return assertInstanceOf(AgentCommand.Invalid.class, AgentCommand.parse(line)).message();
  }
}
