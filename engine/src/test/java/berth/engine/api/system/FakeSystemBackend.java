package berth.engine.api.system;

import berth.engine.api.types.DiskUsage;
import berth.engine.api.types.ImageSummary;
import berth.engine.api.types.SystemVersion;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A {@link SystemBackend} with fixed answers that records the disk-usage types it was asked for. */
final class FakeSystemBackend implements SystemBackend {
  Set<String> lastDiskUsageTypes;

  @Override
  public Map<String, Object> info() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("ID", "engine-1");
    m.put("Containers", 0);
    m.put("Images", 1);
    m.put("Driver", "overlay2");
    return m;
  }

  @Override
  public SystemVersion version() {
    return new SystemVersion(Map.of("Name", "Berth Engine"),
        List.of(new SystemVersion.Component("Engine", "0.1.0", Map.of("ApiVersion", "1.47", "MinAPIVersion", "1.24"))),
        "0.1.0", "1.47", "1.24", "abc1234", "java17", "linux", "amd64", "6.1.0", "2026-01-01T00:00:00Z");
  }

  @Override
  public DiskUsage diskUsage(Set<String> types) {
    lastDiskUsageTypes = types;
    boolean all = types.isEmpty();
    List<ImageSummary> images = all || types.contains("image")
        ? List.of(new ImageSummary("sha256:" + "b".repeat(64), "", List.of("busybox:latest"), List.of(), 1, 42, 0,
            Map.of(), 0))
        : null;
    return new DiskUsage(images == null ? null : 42L, images, all || types.contains("container") ? List.of() : null,
        all || types.contains("volume") ? List.of() : null, all || types.contains("build-cache") ? List.of() : null,
        all || types.contains("build-cache") ? 0L : null);
  }
}
