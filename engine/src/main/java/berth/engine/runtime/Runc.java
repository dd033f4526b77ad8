package berth.engine.runtime;

import berth.engine.errdefs.EngineException;
import berth.engine.sys.Command;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The runc commands the engine runs itself (the monitor runs {@code create} and {@code exec}). Every
 * command uses the engine's own state root, so Berth never sees or touches other runc users'
 * containers. Thread-safe.
 */
public final class Runc {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long TIMEOUT_SECONDS = 60;
  private final Path binary;
  private final Path root;

  public Runc(Path binary, Path root) {
    this.binary = binary;
    this.root = root;
  }

  /** The runc on this machine: {@code $BERTH_RUNC}, else the first runc on PATH, else /usr/sbin/runc. */
  public static Path find() {
    String env = System.getenv("BERTH_RUNC");
    if (env != null && !env.isEmpty()) {
      return Path.of(env);
    }
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin").split(":")) {
      Path p = Path.of(dir, "runc");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return Path.of("/usr/sbin/runc");
  }

  public Path binary() {
    return binary;
  }

  public Path root() {
    return root;
  }

  /** Sends a signal (a name such as "TERM" or a number) to the container's process, or to all of them. */
  public void kill(String id, String signal, boolean all) throws IOException {
    if (all) {
      run("kill", "--all", id, signal);
    } else {
      run("kill", id, signal);
    }
  }

  /** Deletes the container's runc state (and its cgroup); with force, a running one is killed first. */
  public void delete(String id, boolean force) throws IOException {
    if (force) {
      run("delete", "--force", id);
    } else {
      run("delete", id);
    }
  }

  /**
   * Drops the state runc keeps for a container whose processes have all exited and whose cgroup is already
   * removed: what {@code runc delete} does then, without starting a runc process.
   */
  public void forget(String id) throws IOException {
    if (!id.matches("[0-9a-zA-Z][0-9a-zA-Z_.-]*")) {
      throw new IllegalArgumentException("bad container id " + id);
    }
    berth.engine.store.Trees.deleteFlat(root.resolve(id)); // state.json, and exec.fifo if it never started
  }

  /** Freezes every process of the container (cgroup freezer). */
  public void pause(String id) throws IOException {
    run("pause", id);
  }

  public void resume(String id) throws IOException {
    run("resume", id);
  }

  /** Applies new resource limits from an OCI {@code linux.resources} object. */
  public void update(String id, Object resources) throws IOException {
    Path f = Files.createTempFile(root, "update-", ".json");
    try {
      Files.write(f, JSON.writeValueAsBytes(resources));
      run("update", "--resources", f.toString(), id);
    } finally {
      Files.deleteIfExists(f);
    }
  }

  /** The host pids of the container's processes. */
  public List<Long> pids(String id) throws IOException {
    JsonNode n = JSON.readTree(run("ps", "--format", "json", id));
    List<Long> out = new ArrayList<>();
    n.forEach(p -> out.add(p.asLong()));
    return out;
  }

  /** A runc command failed; the message is runc's own, without its "time=… level=error" decoration. */
  public static final class RuncException extends IOException {
    RuncException(String message) {
      super(message);
    }
  }

  private String run(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(binary.toString());
    cmd.add("--root");
    cmd.add(root.toString());
    cmd.addAll(List.of(args));
    Command.Result r;
    try {
      r = Command.run(cmd, null, TIMEOUT_SECONDS * 1000L); // both pipes drained apart: the timeout holds
    } catch (Command.TimeoutException e) {
      throw new RuncException("runc " + args[0] + " timed out after " + TIMEOUT_SECONDS + " s");
    } catch (java.io.InterruptedIOException e) {
      throw new RuncException("interrupted");
    } catch (IOException e) {
      throw EngineException.unavailable("cannot run %s: %s", binary, e.getMessage());
    }
    if (!r.ok()) {
      throw new RuncException(message(r.err(), r.exit()));
    }
    return r.out();
  }

  /** runc's error lines look like {@code time="…" level=error msg="container not running"}: keep the msg. */
  static String message(String stderr, int status) {
    String last = "";
    for (String line : stderr.split("\n")) {
      if (!line.isBlank()) {
        last = line.trim();
      }
    }
    int m = last.indexOf("msg=");
    if (m >= 0) {
      String v = last.substring(m + 4);
      if (v.startsWith("\"") && v.length() > 1) {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i < v.length(); i++) {
          char c = v.charAt(i);
          if (c == '\\' && i + 1 < v.length()) {
            b.append(v.charAt(++i));
          } else if (c == '"') {
            break;
          } else {
            b.append(c);
          }
        }
        return b.toString();
      }
      return v;
    }
    return last.isEmpty() ? "runc exited with status " + status : last;
  }
}
