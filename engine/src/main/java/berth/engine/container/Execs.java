package berth.engine.container;

import berth.engine.api.http.Hijacked;
import berth.engine.errdefs.EngineException;
import berth.engine.events.EventBus;
import berth.engine.runtime.ExitWatcher;
import berth.engine.runtime.Monitor;
import berth.engine.runtime.UserResolver;
import berth.engine.store.Trees;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Exec sessions: a process run in a running container through its own monitor ({@code runc exec}), kept
 * in memory as dockerd keeps them. Each gets a monitor directory under {@code <exec-root>/e/<id>}.
 */
final class Execs {
  private static final Logger LOG = Logger.getLogger(Execs.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Supervisor sup;
  private final ContainerStore store;
  private final EventBus events;
  private final Monitor monitor;
  private final ExitWatcher watcher;
  private final Path execRoot;
  private final Map<String, Exec> execs = new ConcurrentHashMap<>();

  /** The body of {@code POST /containers/{id}/exec}. */
  record Config(boolean attachStdin, boolean attachStdout, boolean attachStderr, String detachKeys, boolean tty,
      List<String> env, List<String> cmd, boolean privileged, String user, String workingDir) {}

  static final class Exec {
    final String id;
    final String containerId;
    final Config config;
    volatile boolean started;
    volatile boolean running;
    volatile Integer exitCode;
    volatile long pid;
    volatile Path dir;
    final CompletableFuture<Integer> done = new CompletableFuture<>();

    Exec(String id, String containerId, Config config) {
      this.id = id;
      this.containerId = containerId;
      this.config = config;
    }
  }

  Execs(Supervisor sup, ContainerStore store, EventBus events, Monitor monitor, ExitWatcher watcher, Path execRoot) {
    this.sup = sup;
    this.store = store;
    this.events = events;
    this.monitor = monitor;
    this.watcher = watcher;
    this.execRoot = execRoot;
  }

  String create(Container c, Config cfg) {
    if (cfg.cmd() == null || cfg.cmd().isEmpty()) {
      throw EngineException.invalid("No exec command specified");
    }
    if (sup.run(c.id()) == null) {
      throw EngineException.conflict("Container %s is not running", c.id());
    }
    if (c.state().paused()) {
      throw EngineException.conflict("Container %s is paused, unpause the container before exec", c.id());
    }
    AttachPump.parseDetachKeys(cfg.detachKeys());
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    String id = HexFormat.of().formatHex(b);
    execs.put(id, new Exec(id, c.id(), cfg));
    events.publish("container", "exec_create: " + String.join(" ", cfg.cmd()), c.id(),
        Supervisor.attrs(c, "execID", id));
    return id;
  }

  Exec get(String id) {
    Exec e = execs.get(id);
    if (e == null) {
      throw EngineException.notFound("No such exec instance: %s", id);
    }
    return e;
  }

  List<String> idsOf(String containerId) {
    List<String> out = new ArrayList<>();
    execs.values().forEach(e -> {
      if (e.containerId.equals(containerId)) {
        out.add(e.id);
      }
    });
    return out;
  }

  void forget(String containerId) {
    execs.values().removeIf(e -> e.containerId.equals(containerId));
  }

  /**
   * Starts the exec: detached (h null) or attached to the hijacked connection until the process ends.
   * CONFLICT if it was started before or the container stopped.
   */
  void start(String execId, boolean tty, Hijacked h) {
    Exec e = get(execId);
    synchronized (e) {
      if (e.started) {
        throw EngineException.conflict("Error: Exec command %s has already run", execId);
      }
      e.started = true;
    }
    Container c = store.get(e.containerId);
    Supervisor.Run run = c == null ? null : sup.run(c.id());
    if (run == null) {
      throw EngineException.conflict("Container %s is not running", e.containerId);
    }
    Path dir = execRoot.resolve("e").resolve(execId);
    List<Monitor.Attachment> conn = new ArrayList<>();
    try {
      Files.createDirectories(dir);
      Path process = dir.resolve("process.json");
      writeProcess(run.dir, e.config, tty, process);
      e.dir = dir;
      boolean attached = h != null;
      Monitor.Options o = new Monitor.Options(c.id(), dir, process, tty, attached && e.config.attachStdin(),
          null, 0, 1, null, attached ? 1 : 0, false);
      long pid = monitor.launch(o, d -> {
        if (attached) {
          try {
            conn.add(Monitor.attach(d, false));
          } catch (IOException x) {
            throw new java.io.UncheckedIOException(x);
          }
        }
      });
      e.pid = pid;
      e.running = true;
      watcher.watch(dir, () -> onExit(e));
    } catch (IOException | RuntimeException x) {
      conn.forEach(Execs::closeQuietly);
      Monitor.kill(dir);
      cleanup(dir);
      String msg = x.getMessage() == null ? x.toString() : x.getMessage();
      e.exitCode = msg.contains("no such file or directory") || msg.contains("executable file not found") ? 127 : 126;
      e.done.complete(e.exitCode);
      if (h != null) {
        // the connection is already hijacked: dockerd writes the error to the client's stdout and ends
        try {
          byte[] text = (msg + "\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
          (tty ? h.out() : berth.engine.api.http.Stdcopy.stdout(h.out())).write(text);
        } catch (IOException ignored) {
          // client gone
        }
        h.close();
        return;
      }
      if (x instanceof EngineException ee) {
        throw ee;
      }
      throw EngineException.system("could not start exec: " + msg, x);
    }
    events.publish("container", "exec_start: " + String.join(" ", e.config.cmd()), c.id(),
        Supervisor.attrs(c, "execID", execId));
    if (h != null) {
      AttachPump.Options po = new AttachPump.Options(tty, e.config.attachStdout(), e.config.attachStderr(),
          e.config.attachStdin(), true, AttachPump.parseDetachKeys(e.config.detachKeys()));
      AttachPump.run(conn.get(0), h, po, () -> awaitQuietly(e));
    }
  }

  private static void awaitQuietly(Exec e) {
    try {
      e.done.get(5, TimeUnit.SECONDS);
    } catch (Exception x) {
      // the exit code stays unknown; the client sees what inspect says
    }
  }

  private void onExit(Exec e) {
    int code;
    try {
      code = Monitor.exitCode(e.dir);
    } catch (IOException x) {
      code = 255;
    }
    e.exitCode = code < 0 ? 255 : code;
    e.running = false;
    cleanup(e.dir);
    Container c = store.get(e.containerId);
    if (c != null) {
      events.publish("container", "exec_die", c.id(),
          Supervisor.attrs(c, "execID", e.id, "exitCode", Integer.toString(e.exitCode)));
    }
    e.done.complete(e.exitCode);
  }

  private static void cleanup(Path dir) {
    try {
      Trees.deleteFlat(dir);
    } catch (IOException x) {
      LOG.log(Level.FINE, "could not remove " + dir, x);
    }
  }

  private static void closeQuietly(Monitor.Attachment a) {
    try {
      a.close();
    } catch (IOException ignored) {
      // closing
    }
  }

  void resize(String execId, int rows, int cols) {
    Exec e = get(execId);
    if (!e.running || e.dir == null) {
      throw EngineException.conflict("Exec %s is not running", execId);
    }
    try {
      Monitor.resize(e.dir, rows, cols);
    } catch (IOException x) {
      throw EngineException.conflict("Exec %s is not running", execId);
    }
  }

  /**
   * The exec's OCI process: the container's own (capabilities, rlimits, seccomp-relevant flags, env), with
   * the exec's command, extra env, user, working dir and terminal.
   */
  /** Writes {@link #processJson} to {@code out}, for {@code runc exec --process}. */
  static void writeProcess(Path bundle, Config cfg, boolean tty, Path out) throws IOException {
    Files.write(out, JSON.writeValueAsBytes(processJson(bundle, cfg, tty)));
  }

  static ObjectNode processJson(Path bundle, Config cfg, boolean tty) throws IOException {
    JsonNode spec = JSON.readTree(bundle.resolve("config.json").toFile());
    ObjectNode p = ((ObjectNode) spec.get("process")).deepCopy();
    p.put("terminal", tty);
    p.remove("consoleSize");
    ArrayNode args = p.putArray("args");
    cfg.cmd().forEach(args::add);
    if (cfg.env() != null && !cfg.env().isEmpty()) {
      Map<String, String> env = new LinkedHashMap<>();
      p.path("env").forEach(v -> put(env, v.asText()));
      cfg.env().forEach(v -> put(env, v));
      ArrayNode a = p.putArray("env");
      env.forEach((k, v) -> a.add(v == null ? k : k + "=" + v));
    }
    if (cfg.workingDir() != null && !cfg.workingDir().isEmpty()) {
      p.put("cwd", cfg.workingDir());
    }
    if (cfg.user() != null && !cfg.user().isEmpty()) {
      UserResolver.ExecUser u = UserResolver.resolve(Path.of(spec.path("root").path("path").asText()), cfg.user(),
          List.of());
      ObjectNode user = p.putObject("user");
      user.put("uid", u.uid());
      user.put("gid", u.gid());
      ArrayNode g = user.putArray("additionalGids");
      u.additionalGids().forEach(g::add);
    }
    if (cfg.privileged()) {
      ObjectNode caps = (ObjectNode) p.get("capabilities");
      if (caps != null) {
        ArrayNode all = JSON.createArrayNode();
        berth.engine.runtime.OciSpecBuilder.HostFacts.current().capabilities().forEach(all::add);
        for (String k : List.of("bounding", "effective", "permitted")) {
          caps.set(k, all.deepCopy());
        }
      }
    }
    return p;
  }

  private static void put(Map<String, String> env, String kv) {
    int i = kv.indexOf('=');
    env.put(i < 0 ? kv : kv.substring(0, i), i < 0 ? null : kv.substring(i + 1));
  }
}
