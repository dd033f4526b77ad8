package berth.engine;

import berth.engine.config.ConfigLoader;
import berth.engine.config.EngineConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code berth engine}: runs the engine in the foreground until SIGTERM or SIGINT.
 *
 * <p>It reads its own command line rather than through picocli: picocli's classes (700 KiB of class files,
 * and the reflective model it builds) stayed loaded for the engine's whole life and cost about 1.5 MiB of its
 * idle memory, whose budget is 64 MiB (engine/README.md, "Memory and speed"). The flags are dockerd's.
 */
public final class EngineMain {
  static final String USAGE = """
      Usage: berth engine [OPTIONS]
      Runs the Berth container engine in the foreground (a dockerd-compatible API on a unix socket).

        --data-root DIR               Root of the engine's state (default /var/lib/berth)
        --exec-root DIR               Root of running containers' sockets and state (default /run/berth/exec)
        -H, --host ADDR               Address to listen on: unix:///path or tcp://host:port (repeatable)
        --config-file FILE            A daemon.json-style configuration file
                                      (default /etc/berth/daemon.json if present)
        -D, --debug                   Debug logging
        --log-driver NAME             Default log driver for containers (json-file, local, none)
        --log-opt KEY=VALUE           Default log driver option (repeatable)
        --live-restore                Keep containers running while the engine is down
        --insecure-registry HOST      A registry reached over HTTP or unverified TLS (repeatable)
        --registry-mirror URL         A mirror of Docker Hub (repeatable)
        --max-concurrent-downloads N  How many layers a pull downloads at once (default 3)
        --max-concurrent-uploads N    How many layers a push uploads at once (default 5)
        --tlsverify                   Require client certificates on TCP listeners
        --tlscacert FILE              CA that client certificates must chain to
        --tlscert FILE                Server certificate
        --tlskey FILE                 Server key (PKCS#8 PEM)
        -p, --pidfile FILE            Write the engine's pid here
        -h, --help                    Print this help and exit
        -V, --version                 Print the version and exit
      """;

  String dataRoot;
  String execRoot;
  List<String> hosts;
  Path configFile;
  Boolean debug;
  String logDriver;
  Map<String, String> logOpts;
  Boolean liveRestore;
  List<String> insecureRegistries;
  List<String> registryMirrors;
  Integer maxConcurrentDownloads;
  Integer maxConcurrentUploads;
  Boolean tlsVerify;
  String tlsCaCert;
  String tlsCert;
  String tlsKey;
  String pidFile;

  public static void main(String[] args) throws Exception {
    EngineMain main = new EngineMain();
    String wrong = main.parse(args);
    if (wrong == null) {
      System.exit(main.call());
    }
    if (!wrong.isEmpty()) {
      System.err.println("berth engine: " + wrong + "\nSee 'berth engine --help'.");
      System.exit(2);
    }
  }

  /**
   * Reads the command line into the fields: null when it is complete, "" after printing help or the version,
   * otherwise what is wrong with it. Values come as {@code --flag value} or {@code --flag=value}; switches take
   * an optional {@code =true|false}, as dockerd's do.
   */
  String parse(String... args) {
    Flags flags = new Flags(args);
    while (flags.next()) {
      String name = flags.name();
      switch (name) {
        case "-h", "--help" -> {
          System.out.print(USAGE);
          return "";
        }
        case "-V", "--version" -> {
          System.out.println("Berth engine " + Version.VERSION);
          return "";
        }
        case "-D", "--debug", "--live-restore", "--tlsverify" -> {
          Boolean on = flags.on();
          if (on == null) {
            return name + " takes true or false, not " + flags.inline();
          }
          switch (name) {
            case "--live-restore" -> liveRestore = on;
            case "--tlsverify" -> tlsVerify = on;
            default -> debug = on;
          }
        }
        case "--data-root", "--exec-root", "-H", "--host", "--config-file", "--log-driver", "--log-opt",
            "--insecure-registry", "--registry-mirror", "--max-concurrent-downloads", "--max-concurrent-uploads",
            "--tlscacert", "--tlscert", "--tlskey", "-p", "--pidfile" -> {
          String value = flags.value();
          String wrong = value == null ? "flag needs an argument: " + name : set(name, value);
          if (wrong != null) {
            return wrong;
          }
        }
        default -> {
          return name.startsWith("-") ? "unknown flag: " + name : "unexpected argument: " + name;
        }
      }
    }
    return null;
  }

  private String set(String name, String value) {
    switch (name) {
      case "--data-root" -> dataRoot = value;
      case "--exec-root" -> execRoot = value;
      case "-H", "--host" -> hosts = add(hosts, value);
      case "--config-file" -> configFile = Path.of(value);
      case "--log-driver" -> logDriver = value;
      case "--log-opt" -> {
        int eq = value.indexOf('=');
        if (eq <= 0) {
          return "--log-opt wants key=value, not " + value;
        }
        if (logOpts == null) {
          logOpts = new LinkedHashMap<>();
        }
        logOpts.put(value.substring(0, eq), value.substring(eq + 1));
      }
      case "--insecure-registry" -> insecureRegistries = add(insecureRegistries, value);
      case "--registry-mirror" -> registryMirrors = add(registryMirrors, value);
      case "--max-concurrent-downloads", "--max-concurrent-uploads" -> {
        int n;
        try {
          n = Integer.parseInt(value);
        } catch (NumberFormatException e) {
          return name + " wants a number, not " + value;
        }
        if (name.equals("--max-concurrent-downloads")) {
          maxConcurrentDownloads = n;
        } else {
          maxConcurrentUploads = n;
        }
      }
      case "--tlscacert" -> tlsCaCert = value;
      case "--tlscert" -> tlsCert = value;
      case "--tlskey" -> tlsKey = value;
      default -> pidFile = value;
    }
    return null;
  }

  private static List<String> add(List<String> list, String value) {
    List<String> out = list == null ? new ArrayList<>() : list;
    out.add(value);
    return out;
  }

  int call() throws Exception {
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
    // SIGTERM and SIGINT end the engine cleanly with status 0, as dockerd does; a JVM shutdown hook would
    // report 143. Handled from before the start: a signal during it lets the start finish, then undoes it
    // (the JVM's default would end the process half-way, leaving its mounts, bridges and rules behind).
    CountDownLatch stopped = new CountDownLatch(1);
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> stopped.countDown());
    sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> stopped.countDown());
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
    // the hook is for other exits (System.exit, a fatal error)
    Thread hook = new Thread(() -> shutDown(engine, config), "shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    if (stopped.getCount() > 0) {
      Logger.getLogger("berth").info("Berth engine " + Version.VERSION + " ready (data root " + config.dataRoot() + ")");
    }
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
    ConsoleLog.install(debug, Map.of());
  }
}
