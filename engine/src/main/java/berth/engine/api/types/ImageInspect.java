package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** {@code GET /images/{name}/json} (swagger ImageInspect). Config is the image config's "config" object verbatim. */
public record ImageInspect(
    String id,
    List<String> repoTags,
    List<String> repoDigests,
    String parent,
    String comment,
    String created,
    String dockerVersion,
    String author,
    JsonNode config,
    String architecture,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) String variant,
    String os,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) String osVersion,
    long size,
    GraphDriver graphDriver,
    @JsonProperty("RootFS") RootFs rootFs,
    Metadata metadata) {

  /** Where the layers live on disk. */
  public record GraphDriver(String name, Map<String, String> data) {}

  /** The layer diffIDs. */
  public record RootFs(String type, List<String> layers) {}

  /** When the image was last tagged here. */
  public record Metadata(String lastTagTime) {}
}
