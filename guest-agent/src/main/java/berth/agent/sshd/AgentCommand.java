package berth.agent.sshd;

import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

/**
 * An exec request, parsed: one of the agent's own {@code berth-agent ...} commands, a malformed one (with the
 * message its caller gets), or anything else, which runs under {@code /bin/sh -c}.
 */
sealed interface AgentCommand {
  String PREFIX = "berth-agent";

  /**
   * {@code berth-agent ready [--time-sync <epoch-millis>]}: wait until the engine answers /_ping; with the host's
   * time, then also set the guest's clock to it (plus the time waited), saving {@code berth start} a round trip.
   */
  record Ready(OptionalLong hostEpochMillis) implements AgentCommand {
    Ready() {
      this(OptionalLong.empty());
    }
  }

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
    String usage = "usage: berth-agent ready [--time-sync <epoch-millis>] | shutdown | time-sync <epoch-millis>";
    if (words.size() < 2) {
      return new Invalid(usage);
    }
    String verb = words.get(1);
    List<String> args = words.subList(2, words.size());
    switch (verb) {
      case "ready":
        if (args.isEmpty()) {
          return new Ready();
        }
        if (args.size() != 2 || !args.get(0).equals("--time-sync")) {
          return new Invalid("berth-agent ready takes no arguments but --time-sync <epoch-millis>, got "
              + String.join(" ", args));
        }
        return epochMillis("berth-agent ready --time-sync", args.get(1), ms -> new Ready(OptionalLong.of(ms)));
      case "shutdown":
        if (!args.isEmpty()) {
          return new Invalid("berth-agent shutdown takes no arguments, got " + String.join(" ", args));
        }
        return new Shutdown();
      case "time-sync":
        if (args.size() != 1) {
          return new Invalid("berth-agent time-sync needs one argument, the host's time in epoch milliseconds");
        }
        return epochMillis("berth-agent time-sync", args.get(0), TimeSync::new);
      default:
        return new Invalid("unknown berth-agent command: " + verb + " (" + usage + ")");
    }
  }

  /** {@code word} as epoch milliseconds after 1970 made into a command, or why it is not one. */
  private static AgentCommand epochMillis(String what, String word, java.util.function.LongFunction<AgentCommand> command) {
    try {
      long ms = Long.parseLong(word);
      return ms <= 0 ? new Invalid(what + ": not a time after 1970: " + word) : command.apply(ms);
    } catch (NumberFormatException e) {
      return new Invalid(what + ": not epoch milliseconds: " + word);
    }
  }
}
