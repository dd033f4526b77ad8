package berth.engine.api.types;

import java.util.List;
import java.util.Map;

/** One entry of {@code GET /images/json} (swagger ImageSummary). */
public record ImageSummary(String id, String parentId, List<String> repoTags, List<String> repoDigests, long created,
    long size, long sharedSize, Map<String, String> labels, long containers) {}
