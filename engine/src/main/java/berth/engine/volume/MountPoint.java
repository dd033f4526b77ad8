package berth.engine.volume;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One mount of a container as dockerd records it ({@code MountPoints} of its config.v2.json): a volume, a
 * bind or a {@code --mount type=tmpfs}. Type, Name, Source, Destination, Driver, Mode, RW and Propagation are
 * what {@code docker inspect} shows; the rest says how to make it: the options and labels a volume is created
 * with, whether the image's content is still to be copied into the volume ({@code copyData}), whether a
 * missing bind source is created ({@code -v}) or refused ({@code --mount}), and a tmpfs's mount options.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MountPoint(
    String type,
    String name,
    String source,
    String destination,
    String driver,
    String mode,
    @JsonProperty("RW") boolean rw,
    String propagation,
    Map<String, String> volumeOptions,
    Map<String, String> volumeLabels,
    Boolean copyData,
    Boolean createSource,
    String tmpfsOptions) {

  public static final String VOLUME = "volume";
  public static final String BIND = "bind";
  public static final String TMPFS = "tmpfs";

  /** True for a volume mount. */
  @JsonIgnore // not a property: config.v2.json keeps the Type
  public boolean isVolume() {
    return VOLUME.equals(type);
  }

  /** This mount once its volume is known: the name (anonymous volumes get theirs here) and host path. */
  public MountPoint withVolume(String n, String mountpoint, String d) {
    return new MountPoint(type, n, mountpoint, destination, d, mode, rw, propagation, volumeOptions, volumeLabels,
        copyData, createSource, tmpfsOptions);
  }

  /** This mount with the image's content copied (or not to be copied). */
  public MountPoint withCopyData(boolean c) {
    return new MountPoint(type, name, source, destination, driver, mode, rw, propagation, volumeOptions,
        volumeLabels, c ? Boolean.TRUE : null, createSource, tmpfsOptions);
  }

  /** As {@code --volumes-from} takes it: read-only if asked, never copied into again, nothing to create. */
  public MountPoint inherited(boolean readOnly) {
    return new MountPoint(type, name, source, destination, driver, mode, rw && !readOnly, propagation, null, null,
        null, null, tmpfsOptions);
  }

  /** The entry of {@code Mounts} in {@code docker inspect} and {@code docker ps}, with dockerd's fields. */
  public Map<String, Object> toInspect() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("Type", type);
    if (isVolume()) {
      m.put("Name", name);
    }
    m.put("Source", source == null ? "" : source);
    m.put("Destination", destination);
    if (isVolume()) {
      m.put("Driver", driver);
    }
    m.put("Mode", mode == null ? "" : mode);
    m.put("RW", rw);
    m.put("Propagation", propagation == null ? "" : propagation);
    return m;
  }
}
