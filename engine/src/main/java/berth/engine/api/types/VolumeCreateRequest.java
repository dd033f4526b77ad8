package berth.engine.api.types;

import java.util.Map;

/** The body of {@code POST /volumes/create} (swagger VolumeCreateOptions); every field may be absent. */
public record VolumeCreateRequest(String name, String driver, Map<String, String> driverOpts,
    Map<String, String> labels) {}
