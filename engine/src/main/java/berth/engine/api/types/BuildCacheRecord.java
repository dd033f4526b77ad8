package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * One entry of {@code /system/df}'s {@code BuildCache} (swagger BuildCache): for this engine, an intermediate
 * image of the classic builder. {@code lastUsedAt} is null (cache hits are not recorded).
 */
public record BuildCacheRecord(@JsonProperty("ID") String id, @JsonProperty("Parent") String parent,
    @JsonProperty("Parents") List<String> parents, @JsonProperty("Type") String type,
    @JsonProperty("Description") String description, @JsonProperty("InUse") boolean inUse,
    @JsonProperty("Shared") boolean shared, @JsonProperty("Size") long size,
    @JsonProperty("CreatedAt") String createdAt, @JsonProperty("LastUsedAt") String lastUsedAt,
    @JsonProperty("UsageCount") long usageCount) {}
