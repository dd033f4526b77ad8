package berth.engine.api.types;

import java.util.List;

/** The reply of {@code POST /build/prune}: the removed cache entries' IDs (null when none) and the bytes freed. */
public record BuildCachePruneReport(List<String> cachesDeleted, long spaceReclaimed) {}
