package berth.engine.api.system;

import berth.engine.api.types.DiskUsage;
import berth.engine.api.types.SystemVersion;
import java.util.Map;
import java.util.Set;

/** What the system router needs. Implemented by {@link berth.engine.system.SystemService}. */
public interface SystemBackend {
  /** {@code GET /info}: real figures of this engine and host, as an ordered map of swagger's SystemInfo fields. */
  Map<String, Object> info();

  SystemVersion version();

  /** Disk usage for the given object types ("image", "container", "volume", "build-cache"); empty = all. */
  DiskUsage diskUsage(Set<String> types);
}
