package berth.engine.api.types;

import java.util.List;

/** One entry of {@code GET /images/{name}/history}, newest first. */
public record ImageHistoryItem(String id, long created, String createdBy, List<String> tags, long size, String comment) {}
