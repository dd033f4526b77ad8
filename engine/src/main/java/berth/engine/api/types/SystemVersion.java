package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/** {@code GET /version} (swagger SystemVersion). */
public record SystemVersion(
    Map<String, String> platform,
    List<Component> components,
    String version,
    String apiVersion,
    @JsonProperty("MinAPIVersion") String minApiVersion,
    String gitCommit,
    String goVersion,
    String os,
    String arch,
    String kernelVersion,
    String buildTime) {

  /** One component of the engine and its details. */
  public record Component(String name, String version, Map<String, String> details) {}
}
