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

  @Test
  void aShareIsADirectoryAndOptionallyItsGuestPath() {
    String cwd = java.nio.file.Path.of("").toAbsolutePath().toString();
    assertEquals(new berth.vm.MachineConfig.Share("/home/u/src", null), BerthCli.Start.share("/home/u/src"));
    assertEquals(new berth.vm.MachineConfig.Share("/home/u/src", "/src"), BerthCli.Start.share("/home/u/src:/src"));
    assertEquals(new berth.vm.MachineConfig.Share("/a:b", "/c"), BerthCli.Start.share("/a:b:/c"));
    assertEquals(new berth.vm.MachineConfig.Share(cwd + "/proj", null), BerthCli.Start.share("proj/./"));
    assertEquals(new berth.vm.MachineConfig.Share(cwd, "/w"), BerthCli.Start.share(".:/w"));
    CommandLine.ParseResult r = BerthCli.commandLine().parseArgs("start", "--share", "/a", "--share", "/b:/c");
    assertEquals(List.of("/a", "/b:/c"), ((BerthCli.Start) r.subcommand().commandSpec().userObject()).shares);
  }

  @Test
  void aFileSystemErrorNamesTheFileAndWhatIsWrong() {
    assertEquals("/nonexistent/.berth: no such file or directory",
        BerthCli.message(new java.nio.file.NoSuchFileException("/nonexistent/.berth")));
    assertEquals("/root/.berth: permission denied",
        BerthCli.message(new java.nio.file.AccessDeniedException("/root/.berth")));
    assertEquals("/x: Read-only file system",
        BerthCli.message(new java.nio.file.FileSystemException("/x", null, "Read-only file system")));
    assertEquals("machine \"a\" is not valid", BerthCli.message(
        new berth.vm.MachineException(berth.vm.MachineException.Kind.INVALID, "machine \"a\" is not valid")));
  }
}
