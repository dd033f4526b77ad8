package berth.engine.api.types;

import java.util.List;

/** The reply of {@code POST /images/prune}. */
public record ImagePruneReport(List<ImageDeleteItem> imagesDeleted, long spaceReclaimed) {}
