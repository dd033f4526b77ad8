package berth.engine.api.volumes;

import berth.engine.api.types.Filters;
import berth.engine.api.types.Volume;
import java.util.List;
import java.util.Map;

/** What {@link VolumesRouter} needs. Implemented by {@link berth.engine.volume.VolumeService}. */
public interface VolumesBackend {
  /** Volumes matching the filters (dangling, name, label, driver); INVALID_PARAMETER for another filter. */
  List<Volume> list(Filters filters);

  /** The volume; NOT_FOUND if there is none of that name. */
  Volume inspect(String name);

  /**
   * Creates a volume, or returns the existing one of that name; a null or empty name makes an anonymous
   * volume with a random name.
   */
  Volume create(String name, String driver, Map<String, String> driverOpts, Map<String, String> labels);

  /** Removes a volume: CONFLICT while a container uses it; with {@code force}, a missing volume is no error. */
  void remove(String name, boolean force);

  /**
   * Removes unused volumes matching the filters (label, label!, all): only anonymous ones unless
   * {@code all=true} is given or {@code allByDefault} (API versions before 1.42).
   */
  PruneReport prune(Filters filters, boolean allByDefault);

  /** What a prune removed and the bytes it freed. */
  record PruneReport(List<String> volumesDeleted, long spaceReclaimed) {}
}
