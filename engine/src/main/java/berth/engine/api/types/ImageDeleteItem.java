package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One step of an image removal: a reference untagged or an image deleted. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImageDeleteItem(String untagged, String deleted) {
  public static ImageDeleteItem untagged(String ref) {
    return new ImageDeleteItem(ref, null);
  }

  public static ImageDeleteItem deleted(String id) {
    return new ImageDeleteItem(null, id);
  }
}
