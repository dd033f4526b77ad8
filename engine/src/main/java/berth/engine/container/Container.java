package berth.engine.container;

import berth.engine.api.types.ContainerConfig;
import berth.engine.api.types.HostConfig;
import java.util.List;

/**
 * What the engine keeps about one container ({@code containers/<id>/config.v2.json}): its
 * configuration as created, the image it was made from (the ID, and the diffIDs its root filesystem is
 * built on, so they outlive an untagged image) and its state.
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
    State state) {

  /** Lifecycle state as {@code State} of {@code GET /containers/{id}/json} shows it. */
  public record State(String status, boolean running, boolean paused, boolean restarting,
      @com.fasterxml.jackson.annotation.JsonProperty("OOMKilled") boolean oomKilled,
      boolean dead, long pid, int exitCode, String error, String startedAt, String finishedAt) {
    static final String ZERO_TIME = "0001-01-01T00:00:00Z";

    public static State created() {
      return new State("created", false, false, false, false, false, 0, 0, "", ZERO_TIME, ZERO_TIME);
    }
  }

  public Container withName(String n) {
    return new Container(id, n, created, image, imageId, diffIds, path, config, hostConfig, state);
  }
}
