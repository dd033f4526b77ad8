package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

/**
 * A volume as the API shows it (swagger Volume); {@code UsageData} is set only by {@code /system/df}, where
 * Size is -1 for a volume whose size is not counted (one mounted from a device) and RefCount the number of
 * containers using it.
 */
public record Volume(
    String name,
    String driver,
    String mountpoint,
    String createdAt,
    Map<String, String> labels,
    String scope,
    Map<String, String> options,
    @JsonInclude(JsonInclude.Include.NON_NULL) UsageData usageData) {

  /** {@code UsageData}: bytes used and how many containers use the volume. */
  public record UsageData(long size, long refCount) {}

  /** This volume with usage data. */
  public Volume withUsage(long size, long refCount) {
    return new Volume(name, driver, mountpoint, createdAt, labels, scope, options, new UsageData(size, refCount));
  }
}
