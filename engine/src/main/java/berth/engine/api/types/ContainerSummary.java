package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/** One entry of {@code GET /containers/json} (swagger ContainerSummary). */
public record ContainerSummary(String id, List<String> names, String image, @JsonInclude(JsonInclude.Include.NON_EMPTY)
    String imageID, String command, long created, List<Object> ports,
    @JsonInclude(JsonInclude.Include.NON_NULL) Long sizeRw, Map<String, String> labels, String state, String status,
    Map<String, String> hostConfig, Map<String, Object> networkSettings, List<Object> mounts) {}
