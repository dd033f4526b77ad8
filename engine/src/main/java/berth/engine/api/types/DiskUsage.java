package berth.engine.api.types;

import java.util.List;

/**
 * {@code GET /system/df}. Lists the caller did not ask for (the type query) are null. {@code builderSize} (deprecated
 * in the API, still read by older clients) is the build cache's size not shared with images.
 */
public record DiskUsage(Long layersSize, List<ImageSummary> images, List<Object> containers, List<Object> volumes,
    List<BuildCacheRecord> buildCache, Long builderSize) {}
