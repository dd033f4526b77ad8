package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/** {@code GET /containers/{id}/json} (swagger ContainerInspectResponse), the fields Berth knows so far. */
public record ContainerInspect(
    String id,
    String created,
    String path,
    List<String> args,
    Object state,
    String image,
    String resolvConfPath,
    String hostnamePath,
    String hostsPath,
    String logPath,
    String name,
    int restartCount,
    String driver,
    String platform,
    String mountLabel,
    String processLabel,
    String appArmorProfile,
    @JsonProperty("ExecIDs") List<String> execIds,
    HostConfig hostConfig,
    ImageInspect.GraphDriver graphDriver,
    @JsonInclude(JsonInclude.Include.NON_NULL) Long sizeRw,
    List<Object> mounts,
    ContainerConfig config,
    Map<String, Object> networkSettings) {}
