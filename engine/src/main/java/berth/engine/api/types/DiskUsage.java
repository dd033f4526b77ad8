package berth.engine.api.types;

import java.util.List;

/** {@code GET /system/df}. Lists the caller did not ask for (the type query) are null. */
public record DiskUsage(Long layersSize, List<ImageSummary> images, List<Object> containers, List<Object> volumes,
    List<Object> buildCache) {}
