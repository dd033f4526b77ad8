package berth.agent.sshd;

import java.util.Arrays;
import java.util.List;

/**
 * An exec request, parsed: one of the agent's own {@code berth-agent ...} commands, a malformed one (with the
 * message its caller gets), or anything else, which runs under {@code /bin/sh -c}.
 */
sealed interface AgentCommand {
  String PREFIX = "berth-agent";

  /** {@code berth-agent ready}: wait until the engine answers /_ping. */
  record Ready() implements AgentCommand {}

  /** {@code berth-agent shutdown}: stop the engine, then the agent. */
  record Shutdown() implements AgentCommand {}

  /** {@code berth-agent time-sync <epoch-millis>}: set the guest clock to the host's. */
  record TimeSync(long epochMillis) implements AgentCommand {}

  /** A {@code berth-agent} command that cannot run; {@code message} says why (exit status 2). */
  record Invalid(String message) implements AgentCommand {}

  /** Any other command line, for {@code /bin/sh -c}. */
  record Shell(String commandLine) implements AgentCommand {}

  /** Parses an exec request's command line. Never throws. */
  static AgentCommand parse(String commandLine) {
    String trimmed = commandLine == null ? "" : commandLine.trim();
    List<String> words = trimmed.isEmpty() ? List.of() : Arrays.asList(trimmed.split("\\s+"));
    if (words.isEmpty() || !words.get(0).equals(PREFIX)) {
      return new Shell(commandLine == null ? "" : commandLine);
    }
    String usage = "usage: berth-agent ready | shutdown | time-sync <epoch-millis>";
    if (words.size() < 2) {
      return new Invalid(usage);
    }
    String verb = words.get(1);
    List<String> args = words.subList(2, words.size());
    switch (verb) {
      case "ready":
      case "shutdown":
        if (!args.isEmpty()) {
          return new Invalid("berth-agent " + verb + " takes no arguments, got " + String.join(" ", args));
        }
        return verb.equals("ready") ? new Ready() : new Shutdown();
      case "time-sync":
        if (args.size() != 1) {
          return new Invalid("berth-agent time-sync needs one argument, the host's time in epoch milliseconds");
        }
        try {
          long ms = Long.parseLong(args.get(0));
          if (ms <= 0) {
            return new Invalid("berth-agent time-sync: not a time after 1970: " + args.get(0));
          }
          return new TimeSync(ms);
        } catch (NumberFormatException e) {
          return new Invalid("berth-agent time-sync: not epoch milliseconds: " + args.get(0));
        }
      default:
        return new Invalid("unknown berth-agent command: " + verb + " (" + usage + ")");
    }
  }
}
