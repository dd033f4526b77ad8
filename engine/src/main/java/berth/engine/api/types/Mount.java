package berth.engine.api.types;

import java.util.List;
import java.util.Map;

/**
 * One entry of {@code HostConfig.Mounts} (swagger Mount), the {@code --mount} flag. Type is
 * {@code bind}, {@code volume}, {@code tmpfs}, {@code image}, {@code npipe} or {@code cluster}.
 */
public record Mount(
    String target,
    String source,
    String type,
    Boolean readOnly,
    String consistency,
    BindOptions bindOptions,
    VolumeOptions volumeOptions,
    ImageOptions imageOptions,
    TmpfsOptions tmpfsOptions) {

  /** Options of a bind mount; propagation is one of private, rprivate, shared, rshared, slave, rslave. */
  public record BindOptions(
      String propagation,
      Boolean nonRecursive,
      Boolean createMountpoint,
      Boolean readOnlyNonRecursive,
      Boolean readOnlyForceRecursive) {}

  /** Options of a volume mount. */
  public record VolumeOptions(Boolean noCopy, Map<String, String> labels, Driver driverConfig, String subpath) {}

  /** A volume driver and its options. */
  public record Driver(String name, Map<String, String> options) {}

  /** Options of an image mount. */
  public record ImageOptions(String subpath) {}

  /** Options of a tmpfs mount; {@code Mode} is a Unix file mode as a decimal number, e.g. 1023 for 01777. */
  public record TmpfsOptions(Long sizeBytes, Integer mode, List<List<String>> options) {}
}
