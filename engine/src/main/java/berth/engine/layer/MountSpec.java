package berth.engine.layer;

import java.util.List;

/**
 * A mount for the runtime to perform, as mount(2) takes it: a filesystem type, a source and options
 * (containerd's mount description). The layer store describes mounts; it never mounts.
 */
public record MountSpec(String type, String source, List<String> options) {
  /** The options as mount(2)'s data string. */
  public String data() {
    return String.join(",", options);
  }
}
