package berth.agent.sshd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.sshd.server.Environment;
import org.apache.sshd.server.channel.ChannelSession;

/** Runs one of the agent's own {@code berth-agent} commands on its own thread; stdin is ignored. */
final class BuiltinCommand extends StreamCommand {
  static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
  private static final Logger LOG = Logger.getLogger(BuiltinCommand.class.getName());
  private final AgentCommand command;
  private final AgentControl control;
  private long startedNanos;

  BuiltinCommand(AgentCommand command, AgentControl control) {
    this.command = command;
    this.control = control;
  }

  @Override
  public void start(ChannelSession channel, Environment env) {
    startedNanos = System.nanoTime();
    daemon("berth-agent-" + command.getClass().getSimpleName().toLowerCase(), this::run);
  }

  private void run() {
    int status;
    try {
      status = execute();
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.WARNING, "berth-agent command failed: " + command, e);
      status = reply(err, "berth-agent: " + e.getMessage(), 1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      status = reply(err, "berth-agent: interrupted", 1);
    }
    exit.onExit(status);
  }

  private int execute() throws IOException, InterruptedException {
    if (command instanceof AgentCommand.Ready r) {
      if (!control.awaitEngine(READY_TIMEOUT)) {
        return reply(err, "berth-agent: the engine did not answer /_ping within " + READY_TIMEOUT.toSeconds() + " s", 1);
      }
      if (r.hostEpochMillis().isEmpty()) {
        return reply(out, "ready", 0);
      }
      String what;
      try {
        what = GuestClock.sync(hostNow(r.hostEpochMillis().getAsLong(), startedNanos, System.nanoTime()));
        LOG.info("time-sync: " + what);
      } catch (IOException e) { // the engine is ready all the same: a clock left as it was fails no start
        what = "time-sync failed: " + e.getMessage();
        LOG.warning(what);
      }
      return reply(out, "ready\n" + what, 0);
    } else if (command instanceof AgentCommand.Shutdown) {
      LOG.info("shutdown requested over SSH");
      control.shutdown();
      return reply(out, "stopped", 0);
    } else if (command instanceof AgentCommand.TimeSync t) {
      String what = GuestClock.sync(t.epochMillis());
      LOG.info("time-sync: " + what);
      return reply(out, what, 0);
    } else if (command instanceof AgentCommand.Invalid i) {
      return reply(err, "berth-agent: " + i.message(), 2);
    }
    throw new IllegalStateException("not a built-in command: " + command);
  }

  /** The host's time now: what it sent when the command started, plus the time the command has run since. */
  static long hostNow(long hostEpochMillisAtStart, long startedNanos, long nowNanos) {
    return hostEpochMillisAtStart + (nowNanos - startedNanos) / 1_000_000;
  }

  private static int reply(java.io.OutputStream to, String line, int status) {
    try {
      to.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      to.flush();
    } catch (IOException e) {
      // the client went away; the status is all that is left to report
    }
    return status;
  }

  @Override
  public void destroy(ChannelSession channel) {
    // nothing to stop: each built-in ends by itself
  }
}
