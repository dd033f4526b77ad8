package berth.desktop.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** How `berth` reads its command line (no machine involved). */
class BerthCliArgsTest {
  private static List<String> sshCommand(String... args) {
    CommandLine.ParseResult r = BerthCli.commandLine().parseArgs(args);
    return ((BerthCli.Ssh) r.subcommand().commandSpec().userObject()).command;
  }

  @Test
  void theGuestsCommandKeepsItsOwnOptions() {
    assertEquals(List.of("df", "-k", "/var/lib/berth"), sshCommand("ssh", "df", "-k", "/var/lib/berth"));
    assertEquals(List.of("ls", "-l", "--color=never"), sshCommand("--name", "dev", "ssh", "ls", "-l", "--color=never"));
    assertEquals(List.of("uname", "-a"), sshCommand("ssh", "--", "uname", "-a"));
    assertEquals(List.of(), sshCommand("ssh"));
  }

  @Test
  void berthsOwnOptionsAreStillChecked() {
    assertThrows(CommandLine.UnmatchedArgumentException.class,
        () -> BerthCli.commandLine().parseArgs("start", "--cpu", "2"));
  }
}
