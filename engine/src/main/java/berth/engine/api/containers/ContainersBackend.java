package berth.engine.api.containers;

import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.types.ContainerInspect;
import berth.engine.api.types.ContainerPruneReport;
import berth.engine.api.types.ContainerSummary;
import berth.engine.api.types.Filters;
import java.util.List;

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
}
