package berth.agent;

import berth.agent.engine.EngineSupervisor;
import berth.agent.ready.Readiness;
import berth.agent.sshd.AgentControl;
import berth.agent.sshd.AgentSshServer;
import berth.engine.ConsoleLog;
import berth.engine.Flags;
import berth.engine.Version;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The guest's main program: starts the engine in this JVM and the SSH server the host talks to, prints
 * {@link Readiness#LINE} once both are up, and on SIGTERM (or {@code berth-agent shutdown}) stops the engine
 * (its containers are stopped, as dockerd does when its host shuts down), then the server, and exits 0.
 */
public final class Agent implements Callable<Integer>, AgentControl {
  private static final Logger LOG = Logger.getLogger("berth.agent");
  static final Duration ENGINE_READY_TIMEOUT = Duration.ofSeconds(120);
  /** How long a {@code berth-agent shutdown} reply gets to reach the host before the server goes. */
  static final Duration REPLY_GRACE = Duration.ofMillis(500);

  static final String USAGE = String.join("\n",
      "Usage: berth-agent --data-root DIR --engine-socket PATH --authorized-keys FILE --host-key FILE",
      "                   [--ssh-port N] [--ssh-address ADDR] [-D|--debug]",
      "The Berth guest agent: the engine and an SSH server for the host.",
      "  --data-root DIR          the engine's data root (the data disk)",
      "  --engine-socket PATH     the engine's API socket",
      "  --authorized-keys FILE   OpenSSH authorized_keys: the keys allowed in",
      "  --host-key FILE          the SSH host key, generated here on first start",
      "  --ssh-port N             the SSH server's port (default 22)",
      "  --ssh-address ADDR       the SSH server's address (default 0.0.0.0)",
      "  -D, --debug              debug logging",
      "  -h, --help / -V, --version");

  Path dataRoot;
  Path engineSocket;
  int sshPort = 22;
  String sshAddress = "0.0.0.0";
  Path authorizedKeys;
  Path hostKey;
  boolean debug;

  private final CountDownLatch exit = new CountDownLatch(1);
  /** Completes with the started engine, or with null once its start has failed (and was reported). */
  private final CompletableFuture<EngineSupervisor> engine = new CompletableFuture<>();

  public static void main(String[] args) {
    Agent a = new Agent();
    String problem;
    try {
      problem = a.parse(args);
    } catch (IllegalArgumentException e) {
      problem = e.getMessage();
    }
    if (problem != null && problem.isEmpty()) {
      System.exit(0); // --help or --version, printed
    } else if (problem != null) {
      System.err.println("berth-agent: " + problem + "\n" + USAGE);
      System.exit(2);
    }
    try {
      System.exit(a.call());
    } catch (Exception e) {
      System.err.println("berth-agent: " + e);
      System.exit(1);
    }
  }

  /**
   * Reads the command line into the fields: null when it is complete, "" after printing help or the version,
   * otherwise what is wrong with it. (No picocli here: under emulation its reflective model cost the agent's
   * start seconds, and its classes cannot go into the class-data archive.)
   */
  String parse(String... args) {
    Flags flags = new Flags(args);
    while (flags.next()) {
      String name = flags.name();
      switch (name) {
        case "-h", "--help" -> {
          System.out.println(USAGE);
          return "";
        }
        case "-V", "--version" -> {
          System.out.println("Berth guest agent " + Version.VERSION);
          return "";
        }
        case "-D", "--debug" -> debug = true;
        case "--data-root", "--engine-socket", "--authorized-keys", "--host-key", "--ssh-port", "--ssh-address" -> {
          String value = flags.value();
          if (value == null) {
            return "missing value for " + name;
          }
          switch (name) {
            case "--data-root" -> dataRoot = Path.of(value);
            case "--engine-socket" -> engineSocket = Path.of(value);
            case "--authorized-keys" -> authorizedKeys = Path.of(value);
            case "--host-key" -> hostKey = Path.of(value);
            case "--ssh-address" -> sshAddress = value;
            default -> {
              try {
                sshPort = Integer.parseInt(value);
              } catch (NumberFormatException e) {
                return "--ssh-port wants a number, not " + value;
              }
            }
          }
        }
        default -> {
          return "unknown option " + name;
        }
      }
    }
    List<String> missing = new java.util.ArrayList<>();
    if (dataRoot == null) {
      missing.add("--data-root");
    }
    if (engineSocket == null) {
      missing.add("--engine-socket");
    }
    if (authorizedKeys == null) {
      missing.add("--authorized-keys");
    }
    if (hostKey == null) {
      missing.add("--host-key");
    }
    return missing.isEmpty() ? null : "missing required option" + (missing.size() > 1 ? "s " : " ") + String.join(", ", missing);
  }

  @Override
  public Integer call() throws Exception {
    setUpLogging(debug);
    // The engine and the SSH server start side by side: the host's connection (key exchange, login) is made
    // while the engine is still coming up, and `berth-agent ready` waits for the engine. Under emulation each
    // takes seconds, so this is most of a boot's critical path: the engine starts before anything else here.
    Thread starter = new Thread(this::startEngine, "engine-start");
    starter.setDaemon(true);
    starter.start();
    LOG.info("agent: main" + uptime());
    if (!Files.isRegularFile(authorizedKeys)) {
      // not fatal: the file is re-read on each login, so keys written later still work
      LOG.warning("no authorized keys file at " + authorizedKeys + ": every login is refused until it exists");
    }
    AgentSshServer sshd;
    try {
      sshd = AgentSshServer.start(new AgentSshServer.Settings(sshAddress, sshPort, authorizedKeys, hostKey,
          engineSocket), this);
    } catch (IOException | RuntimeException e) {
      System.err.println("berth-agent: the SSH server failed to start on port " + sshPort + ": " + e.getMessage());
      stopEngine();
      return 1;
    }
    // SIGTERM and SIGINT end the agent with status 0; the hook covers any other exit.
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> exit.countDown());
    sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> exit.countDown());
    Thread hook = new Thread(() -> stopAll(sshd), "agent-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    LOG.info("SSH server listening on " + sshAddress + ":" + sshd.port() + uptime());
    EngineSupervisor started = awaitStarted();
    if (started == null) {
      Runtime.getRuntime().removeShutdownHook(hook);
      stopAll(sshd);
      return 1;
    }
    if (!Readiness.announce(started, ENGINE_READY_TIMEOUT, System.out)) {
      LOG.severe("the engine does not answer /_ping on " + engineSocket + "; not announcing readiness");
    } else {
      LOG.info("ready" + uptime());
    }
    exit.await();
    Runtime.getRuntime().removeShutdownHook(hook);
    stopAll(sshd);
    LOG.info("agent stopped");
    return 0;
  }

  private void startEngine() {
    try {
      engine.complete(EngineSupervisor.start(dataRoot, engineSocket));
    } catch (IOException | RuntimeException e) {
      System.err.println("berth-agent: the engine failed to start: " + e.getMessage());
      LOG.log(Level.FINE, "engine start", e);
      engine.complete(null);
    }
  }

  /** The started engine once its start has finished; null if it failed. */
  private EngineSupervisor awaitStarted() {
    try {
      return engine.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (ExecutionException e) {
      return null; // startEngine completes normally, even on failure
    }
  }

  /** Stops the engine once its start has finished (a start cannot be cut short). Idempotent. */
  private void stopEngine() {
    EngineSupervisor e = awaitStarted();
    if (e != null) {
      e.stop();
    }
  }

  private void stopAll(AgentSshServer sshd) {
    stopEngine();
    try {
      Thread.sleep(REPLY_GRACE.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      sshd.close();
    } catch (IOException e) {
      LOG.log(Level.WARNING, "error while stopping the SSH server", e);
    }
  }

  @Override
  public boolean awaitEngine(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    EngineSupervisor e;
    try {
      e = engine.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException | ExecutionException ex) {
      return false;
    }
    return e != null && e.awaitPing(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
  }

  @Override
  public void shutdown() {
    stopEngine();
    exit.countDown();
  }

  /** " at uptime 12.34 s" from the guest's /proc/uptime, to line the log up with init's console lines; "" if unreadable. */
  static String uptime() {
    try {
      String u = Files.readString(Path.of("/proc/uptime"));
      return " at uptime " + u.substring(0, u.indexOf(' ')) + " s";
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  private static void setUpLogging(boolean debug) {
    // SSHD logs every connection at INFO through SLF4J; keep its warnings only
    ConsoleLog.install(debug, Map.of("org.apache.sshd", debug ? Level.INFO : Level.WARNING));
  }
}
