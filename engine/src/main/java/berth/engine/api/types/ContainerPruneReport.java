package berth.engine.api.types;

import java.util.List;

/** The reply of {@code POST /containers/prune}. */
public record ContainerPruneReport(List<String> containersDeleted, long spaceReclaimed) {}
