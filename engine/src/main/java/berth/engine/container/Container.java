package berth.engine.container;

import berth.engine.api.types.ContainerConfig;
import berth.engine.api.types.HostConfig;
import berth.engine.api.types.NetworkingConfig;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import berth.engine.volume.MountPoint;
import java.util.List;
import java.util.Map;

/**
 * What the engine keeps about one container ({@code containers/<id>/config.v2.json}): its
 * configuration as created, the image it was made from (the ID, and the diffIDs its root filesystem is
 * built on, so they outlive an untagged image), its state, how often a restart policy restarted it and
 * whether a user stopped it (restart policies leave such containers alone), and its mounts.
 */
public record Container(
    String id,
    String name,
    String created,
    String image,
    String imageId,
    List<String> diffIds,
    List<String> path,
    ContainerConfig config,
    HostConfig hostConfig,
    State state,
    int restartCount,
    boolean hasBeenManuallyStopped,
    Networking networking,
    List<MountPoint> mountPoints) {

  public Container {
    if (networking == null) {
      networking = Networking.EMPTY; // a record written before networks existed
    }
    if (mountPoints == null) {
      mountPoints = List.of(); // a record written before volumes existed
    }
  }

  /**
   * {@code NetworkSettings}: the container's endpoints keyed by network name (configuration, plus address and
   * gateway while it runs), its published ports ({@code "80/tcp" -> bindings}, null for exposed only) and its
   * network namespace.
   */
  public record Networking(Map<String, NetworkingConfig.EndpointSettings> networks,
      Map<String, List<HostConfig.PortBinding>> ports, String sandboxKey) {
    static final Networking EMPTY = new Networking(Map.of(), Map.of(), "");
  }

  /** Lifecycle state as {@code State} of {@code GET /containers/{id}/json} shows it. */
  public record State(String status, boolean running, boolean paused, boolean restarting,
      @JsonProperty("OOMKilled") boolean oomKilled,
      boolean dead, long pid, int exitCode, String error, String startedAt, String finishedAt,
      @JsonInclude(JsonInclude.Include.NON_NULL) Health health) {
    static final String ZERO_TIME = "0001-01-01T00:00:00Z";

    public static State created() {
      return new State("created", false, false, false, false, false, 0, 0, "", ZERO_TIME, ZERO_TIME, null);
    }

    State asRunning(long pid, String startedAt, Health health) {
      return new State("running", true, false, false, false, false, pid, 0, "", startedAt, finishedAt, health);
    }

    State asExited(int code, boolean oom, String finishedAt, String error) {
      Health h = health == null ? null : new Health("unhealthy", health.failingStreak(), health.log());
      return new State("exited", false, false, false, oom, false, 0, code, error, startedAt, finishedAt, h);
    }

    /** A start that failed: still "created", with dockerd's exit code (127, 126 …) and the error. */
    State asFailedStart(int code, String err) {
      return new State("created", false, false, false, false, false, 0, code, err, startedAt, finishedAt, health);
    }

    State asRestarting() {
      return new State("restarting", true, false, true, oomKilled, false, 0, exitCode, error, startedAt, finishedAt,
          health);
    }

    State asPaused(boolean p) {
      return new State(p ? "paused" : "running", running, p, false, false, false, pid, 0, "", startedAt, finishedAt,
          health);
    }

    State withHealth(Health h) {
      return new State(status, running, paused, restarting, oomKilled, dead, pid, exitCode, error, startedAt,
          finishedAt, h);
    }
  }

  /** {@code State.Health}: the health check's verdict and its last few results. */
  public record Health(String status, int failingStreak, List<HealthLog> log) {}

  /** One health check run. */
  public record HealthLog(String start, String end, int exitCode, String output) {}

  public Container withName(String n) {
    return new Container(id, n, created, image, imageId, diffIds, path, config, hostConfig, state, restartCount,
        hasBeenManuallyStopped, networking, mountPoints);
  }

  public Container withState(State s) {
    return new Container(id, name, created, image, imageId, diffIds, path, config, hostConfig, s, restartCount,
        hasBeenManuallyStopped, networking, mountPoints);
  }

  public Container withHostConfig(HostConfig h) {
    return new Container(id, name, created, image, imageId, diffIds, path, config, h, state, restartCount,
        hasBeenManuallyStopped, networking, mountPoints);
  }

  public Container withRestartCount(int n) {
    return new Container(id, name, created, image, imageId, diffIds, path, config, hostConfig, state, n,
        hasBeenManuallyStopped, networking, mountPoints);
  }

  public Container withManuallyStopped(boolean m) {
    return new Container(id, name, created, image, imageId, diffIds, path, config, hostConfig, state, restartCount, m,
        networking, mountPoints);
  }

  public Container withNetworking(Networking n) {
    return new Container(id, name, created, image, imageId, diffIds, path, config, hostConfig, state, restartCount,
        hasBeenManuallyStopped, n, mountPoints);
  }

  /** This container with its mounts (volumes, binds, {@code --mount} tmpfs) as resolved at create. */
  public Container withMountPoints(List<MountPoint> m) {
    return new Container(id, name, created, image, imageId, diffIds, path, config, hostConfig, state, restartCount,
        hasBeenManuallyStopped, networking, m);
  }
}
