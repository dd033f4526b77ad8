package berth.agent.sshd;

import org.apache.sshd.server.channel.ChannelSession;
import org.apache.sshd.server.command.Command;
import org.apache.sshd.server.command.CommandFactory;
import org.apache.sshd.server.shell.ShellFactory;

/** Turns exec and shell requests into commands: the agent's built-ins, or guest processes. Stateless. */
final class AgentCommands implements CommandFactory, ShellFactory {
  private final AgentControl control;

  AgentCommands(AgentControl control) {
    this.control = control;
  }

  @Override
  public Command createCommand(ChannelSession channel, String commandLine) {
    AgentCommand c = AgentCommand.parse(commandLine);
    return c instanceof AgentCommand.Shell s ? new ProcessCommand(s.commandLine()) : new BuiltinCommand(c, control);
  }

  @Override
  public Command createShell(ChannelSession channel) {
    return new ProcessCommand(null);
  }
}
