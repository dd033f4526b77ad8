package berth.engine.api.containers;

import berth.engine.api.http.Hijacked;
import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.types.ContainerInspect;
import berth.engine.api.types.ContainerPruneReport;
import berth.engine.api.types.ContainerSummary;
import berth.engine.api.types.Filters;
import berth.engine.api.types.HostConfig;
import berth.engine.logs.LogEntry;
import berth.engine.logs.ReadOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;

/** What the containers router needs. Implemented by {@link berth.engine.container.ContainerService}. */
public interface ContainersBackend {
  /**
   * Creates a container from an image; returns its ID. NOT_FOUND for an unknown image, CONFLICT for a
   * name in use (dockerd's message), INVALID_PARAMETER for a bad name or invalid options.
   */
  String create(String name, ContainerCreateRequest request);

  /** Containers matching the filters (id, name, label, status, ancestor, exited, before, since). */
  List<ContainerSummary> list(boolean all, int limit, boolean size, Filters filters);

  /** NOT_FOUND "No such container: x". */
  ContainerInspect inspect(String name, boolean size);

  /** CONFLICT when the new name is taken; INVALID_PARAMETER for a bad or unchanged name. */
  void rename(String name, String newName);

  /** Removes a container and its writable layer; CONFLICT for a running one without force. */
  void remove(String name, boolean force, boolean volumes);

  /** Removes every container that is not running and matches the until/label filters. */
  ContainerPruneReport prune(Filters filters);

  /** NOT_MODIFIED if it already runs. */
  void start(String name);

  /** NOT_MODIFIED if it is not running; timeout null = the container's own; signal null = its stop signal. */
  void stop(String name, Integer timeout, String signal);

  void restart(String name, Integer timeout, String signal);

  /** CONFLICT if it is not running; INVALID_PARAMETER for an unknown signal. */
  void kill(String name, String signal);

  void pause(String name);

  void unpause(String name);

  /**
   * Registers a wait ("not-running", "next-exit" or "removed") and returns the future exit code; the
   * router sends its headers once this returns, as dockerd does.
   */
  CompletableFuture<Integer> waitFor(String name, String condition);

  /** Attach options, as the query of {@code POST /containers/{id}/attach} gives them. */
  record AttachOptions(boolean stream, boolean logs, boolean stdin, boolean stdout, boolean stderr,
      String detachKeys) {}

  /**
   * Checks the request (NOT_FOUND, INVALID_PARAMETER) and returns whether the container has a tty; then
   * {@code attach} runs, on the request's thread, with the hijacked connection.
   */
  boolean attachTty(String name, AttachOptions o);

  /**
   * Attaches to the container's streams. {@code open} sends the 101 upgrade: it is called only once the
   * attachment is registered, so a client that starts the container as soon as it sees the upgrade misses no
   * output.
   */
  void attach(String name, AttachOptions o, HijackOpener open) throws IOException;

  /** Sends the upgrade and hands over the connection. */
  interface HijackOpener {
    Hijacked open() throws IOException;
  }

  /** Whether the container has a tty (the logs are raw then); NOT_FOUND; 501 for a driver that cannot be read. */
  boolean logsTty(String name);

  /**
   * Streams the container's log; with follow, until it stops or {@code cancelled} says so. {@code cancelled}
   * is asked after every read buffer and every idle poll: a good moment to flush what the sink buffered.
   */
  void logs(String name, ReadOptions o, Consumer<LogEntry> sink, java.util.function.BooleanSupplier cancelled)
      throws IOException;

  /** CONFLICT if it is not running. */
  void resize(String name, int rows, int cols);

  /** {@code {"Titles": [...], "Processes": [[...]]}}; CONFLICT if it is not running. */
  Object top(String name, String psArgs);

  /**
   * Resource usage samples: {@code sink} gets one per second while {@code more} says so (one with
   * {@code oneShot}).
   */
  void stats(String name, boolean stream, boolean oneShot, Consumer<Object> sink, Supplier<Boolean> more)
      throws IOException;

  /** Changes resources and the restart policy; returns warnings. */
  List<String> update(String name, HostConfig changes);

  // ---- files ----

  /** {@code X-Docker-Container-Path-Stat}: Go's os.FileMode in {@code mode}, RFC 3339 {@code mtime}. */
  record PathStat(@com.fasterxml.jackson.annotation.JsonProperty("name") String name,
      @com.fasterxml.jackson.annotation.JsonProperty("size") long size,
      @com.fasterxml.jackson.annotation.JsonProperty("mode") long mode,
      @com.fasterxml.jackson.annotation.JsonProperty("mtime") String mtime,
      @com.fasterxml.jackson.annotation.JsonProperty("linkTarget") String linkTarget) {}

  /** Where a tar goes once the request is known to succeed: called once, with the stat, before any byte. */
  interface TarOpener {
    OutputStream open(PathStat stat) throws IOException;
  }

  /**
   * Stats a path in the container (running or not), resolved inside its root and mounts; the last component is
   * not followed. NOT_FOUND "Could not find the file P in container C".
   */
  PathStat statPath(String name, String path) throws IOException;

  /** Archives a path of the container ({@code docker cp} from); errors come before {@code open} is called. */
  void archivePath(String name, String path, TarOpener open) throws IOException;

  /**
   * Unpacks a tar under a directory of the container ({@code docker cp} to). NOT_FOUND for a missing directory,
   * INVALID_PARAMETER for a non-directory, a read-only target or an entry that would leave the directory.
   */
  void extractToDir(String name, String path, boolean noOverwriteDirNonDir, boolean copyUidGid, InputStream tar)
      throws IOException;

  /** {@code docker diff}: {@code [{"Path": …, "Kind": 0|1|2}]} (modified, added, deleted), sorted by path. */
  List<Map<String, Object>> changes(String name) throws IOException;

  /**
   * {@code docker export}: the container's root (without its mounts) as a tar into what {@code open} returns
   * (called with a null stat once the container is found).
   */
  void export(String name, TarOpener open) throws IOException;

  /** {@code POST /commit}: the query's fields and the body's config (possibly empty). */
  record CommitOptions(String container, String repo, String tag, String comment, String author, boolean pause,
      List<String> changes, berth.engine.api.types.ContainerConfig config) {}

  /** Makes an image of the container's changes; returns its ID. NOT_FOUND, INVALID_PARAMETER for bad changes. */
  String commit(CommitOptions o) throws IOException;

  // ---- exec ----

  /** Creates an exec session from the body of {@code POST /containers/{id}/exec}; returns its ID. */
  String execCreate(String name, Map<String, Object> body);

  /** Checks an exec can start and returns whether it has a tty. */
  boolean execTty(String execId, boolean tty);

  /** Runs an exec: detached when {@code h} is null, else attached until it ends. */
  void execStart(String execId, boolean tty, Hijacked h);

  void execResize(String execId, int rows, int cols);

  Object execInspect(String execId);
}
