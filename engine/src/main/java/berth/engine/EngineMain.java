package berth.engine;

import berth.engine.config.ConfigLoader;
import berth.engine.config.EngineConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code berth engine}: runs the engine in the foreground until SIGTERM or SIGINT. */
@Command(name = "berth engine", mixinStandardHelpOptions = true, versionProvider = EngineMain.VersionProvider.class,
    description = "Runs the Berth container engine in the foreground (a dockerd-compatible API on a unix socket).")
public final class EngineMain implements Callable<Integer> {
  @Option(names = "--data-root", description = "Root of the engine's state (default /var/lib/berth)")
  String dataRoot;

  @Option(names = "--exec-root", description = "Root of running containers' sockets and state (default /run/berth/exec)")
  String execRoot;

  @Option(names = {"-H", "--host"}, description = "Address to listen on: unix:///path or tcp://host:port (repeatable)")
  List<String> hosts;

  @Option(names = "--config-file", description = "A daemon.json-style configuration file (default /etc/berth/daemon.json if present)")
  Path configFile;

  @Option(names = {"-D", "--debug"}, description = "Debug logging")
  Boolean debug;

  @Option(names = "--log-driver", description = "Default log driver for containers (json-file, local, none)")
  String logDriver;

  @Option(names = "--log-opt", description = "Default log driver option key=value (repeatable)")
  Map<String, String> logOpts;

  @Option(names = "--live-restore", description = "Keep containers running while the engine is down")
  Boolean liveRestore;

  @Option(names = "--insecure-registry", description = "A registry reached over HTTP or unverified TLS (repeatable)")
  List<String> insecureRegistries;

  @Option(names = "--registry-mirror", description = "A mirror of Docker Hub (repeatable)")
  List<String> registryMirrors;

  @Option(names = "--max-concurrent-downloads", description = "How many layers a pull downloads at once (default 3)")
  Integer maxConcurrentDownloads;

  @Option(names = "--max-concurrent-uploads", description = "How many layers a push uploads at once (default 5)")
  Integer maxConcurrentUploads;

  @Option(names = "--tlsverify", description = "Require client certificates on TCP listeners")
  Boolean tlsVerify;

  @Option(names = "--tlscacert", description = "CA that client certificates must chain to")
  String tlsCaCert;

  @Option(names = "--tlscert", description = "Server certificate")
  String tlsCert;

  @Option(names = "--tlskey", description = "Server key (PKCS#8 PEM)")
  String tlsKey;

  @Option(names = {"-p", "--pidfile"}, description = "Write the engine's pid here")
  String pidFile;

  public static void main(String[] args) {
    System.exit(new CommandLine(new EngineMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    EngineConfig flags = new EngineConfig(dataRoot, execRoot, hosts, logDriver, logOpts, liveRestore, insecureRegistries,
        registryMirrors, null, debug, null, tlsVerify, tlsCaCert, tlsCert, tlsKey, pidFile, maxConcurrentDownloads,
        maxConcurrentUploads, null);
    Path file = configFile;
    if (file == null && Files.exists(Path.of("/etc/berth/daemon.json"))) {
      file = Path.of("/etc/berth/daemon.json");
    }
    EngineConfig config;
    try {
      config = ConfigLoader.load(file, flags);
    } catch (ConfigLoader.InvalidConfigException e) {
      System.err.println("berth engine: " + e.getMessage());
      return 1;
    }
    setUpLogging(Boolean.TRUE.equals(config.debug()));
    Engine engine;
    try {
      // certs.d sits next to the config file, as /etc/docker/certs.d sits next to daemon.json
      engine = Engine.start(config, (file != null ? file.toAbsolutePath().getParent() : Path.of("/etc/berth"))
          .resolve("certs.d"));
    } catch (IOException e) {
      System.err.println("berth engine: failed to start: " + e.getMessage());
      return 1;
    }
    if (config.pidFile() != null) {
      Files.writeString(Path.of(config.pidFile()), ProcessHandle.current().pid() + "\n");
    }
    // SIGTERM and SIGINT end the engine cleanly with status 0, as dockerd does; a JVM shutdown hook
    // would report 143. The hook stays for other exits (System.exit, a fatal error).
    CountDownLatch stopped = new CountDownLatch(1);
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> stopped.countDown());
    sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> stopped.countDown());
    Thread hook = new Thread(() -> shutDown(engine, config), "shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    Logger.getLogger("berth").info("Berth engine " + Version.VERSION + " ready (data root " + config.dataRoot() + ")");
    stopped.await();
    Runtime.getRuntime().removeShutdownHook(hook);
    shutDown(engine, config);
    return 0;
  }

  private static void shutDown(Engine engine, EngineConfig config) {
    Logger.getLogger("berth").info("shutting down");
    try {
      engine.close();
      if (config.pidFile() != null) {
        Files.deleteIfExists(Path.of(config.pidFile()));
      }
    } catch (IOException e) {
      Logger.getLogger("berth").log(Level.WARNING, "error during shutdown", e);
    }
  }

  private static void setUpLogging(boolean debug) {
    System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
    Logger root = Logger.getLogger("");
    for (var h : root.getHandlers()) {
      root.removeHandler(h);
    }
    ConsoleHandler h = new ConsoleHandler();
    h.setFormatter(new SimpleFormatter());
    h.setLevel(debug ? Level.FINE : Level.INFO);
    root.addHandler(h);
    Logger.getLogger("berth").setLevel(debug ? Level.FINE : Level.INFO);
    root.setLevel(Level.INFO);
    Logger.getLogger("io.netty").setLevel(Level.WARNING);
  }

  /** Prints Berth's version for --version. */
  static final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"Berth engine " + Version.VERSION};
    }
  }
}
