package berth.engine.runtime;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/**
 * An OCI runtime spec, the {@code config.json} of a bundle, limited to the fields Berth sets and runc
 * 1.1 reads (runtime-spec 1.0.2). Immutable; null fields are left out of the JSON, which runc reads as
 * "unset". Field names are the spec's, so {@link #toJson()} needs no renaming.
 *
 * <p>Unsigned 64-bit values (rlimits, seccomp argument values) are Java {@code long}s written as
 * unsigned, so {@code -1} is {@code 18446744073709551615} ("unlimited" for an rlimit).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record OciSpec(
    String ociVersion,
    Process process,
    Root root,
    String hostname,
    List<Mount> mounts,
    Map<String, String> annotations,
    Linux linux) {

  /** The runtime-spec version runc 1.1 implements. */
  public static final String VERSION = "1.0.2";

  private static final ObjectMapper JSON = new ObjectMapper()
      .setSerializationInclusion(JsonInclude.Include.NON_NULL)
      .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  /** This spec as {@code config.json} content. */
  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The container's process. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Process(
      Boolean terminal,
      ConsoleSize consoleSize,
      User user,
      List<String> args,
      List<String> env,
      String cwd,
      Capabilities capabilities,
      List<Rlimit> rlimits,
      Boolean noNewPrivileges,
      Integer oomScoreAdj) {}

  /** The initial size of the container's terminal. */
  public record ConsoleSize(int height, int width) {}

  /** Numeric IDs the process runs as; additionalGids are the supplementary groups. */
  public record User(long uid, long gid, List<Long> additionalGids) {}

  /** Capability sets, each a list of {@code CAP_*} names. */
  public record Capabilities(
      List<String> bounding, List<String> effective, List<String> inheritable, List<String> permitted,
      List<String> ambient) {}

  /** One resource limit, e.g. {@code RLIMIT_NOFILE}. */
  public record Rlimit(
      String type,
      @JsonSerialize(using = Unsigned.class) long hard,
      @JsonSerialize(using = Unsigned.class) long soft) {}

  /** The root filesystem: a directory on the host, already prepared (mounted) by the runtime. */
  public record Root(String path, boolean readonly) {}

  /** One mount, performed by runc in the container's mount namespace, in list order. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Mount(String destination, String type, String source, List<String> options) {}

  /** The Linux-specific part of the spec. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Linux(
      Map<String, String> sysctl,
      Resources resources,
      String cgroupsPath,
      List<Namespace> namespaces,
      List<Device> devices,
      Seccomp seccomp,
      String rootfsPropagation,
      List<String> maskedPaths,
      List<String> readonlyPaths) {}

  /** cgroup limits. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Resources(List<DeviceRule> devices, Memory memory, Cpu cpu, Pids pids) {}

  /**
   * One rule of the device cgroup: type {@code a}, {@code c} or {@code b}; a null major or minor matches
   * any number; access is a subset of {@code rwm}.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record DeviceRule(boolean allow, String type, Long major, Long minor, String access) {}

  /** Memory limits in bytes; swap is memory plus swap, as in Docker's MemorySwap. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Memory(Long limit, Long reservation, Long swap, Long swappiness, Boolean disableOOMKiller) {}

  /** CPU shares, CFS quota and period (microseconds), and the cpuset. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Cpu(Long shares, Long quota, Long period, String cpus, String mems) {}

  /** The pids limit; -1 is unlimited. */
  public record Pids(long limit) {}

  /** A namespace to create ({@code path} null) or to join ({@code path} of an nsfs file). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Namespace(String type, String path) {}

  /** A device node runc creates in the container: type {@code c}, {@code b}, {@code u} or {@code p}. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Device(String path, String type, long major, long minor, Integer fileMode, Long uid, Long gid) {}

  /** A seccomp filter as runc loads it: already resolved for this container's capabilities and kernel. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Seccomp(
      String defaultAction, Integer defaultErrnoRet, List<String> architectures, List<String> flags,
      List<Syscall> syscalls) {}

  /** One seccomp rule: the action for the named syscalls when all args match. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Syscall(List<String> names, String action, Integer errnoRet, List<Arg> args) {}

  /** A comparison of syscall argument {@code index} with {@code value} (and {@code valueTwo} for MASKED_EQ). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Arg(
      int index,
      @JsonSerialize(using = Unsigned.class) long value,
      @JsonSerialize(using = Unsigned.class) Long valueTwo,
      String op) {}

  /** Writes a long as the unsigned 64-bit number the spec's Go types hold. */
  static final class Unsigned extends StdSerializer<Long> {
    private static final long serialVersionUID = 1L;

    Unsigned() {
      super(Long.class);
    }

    @Override
    public void serialize(Long value, JsonGenerator gen, SerializerProvider provider) throws IOException {
      gen.writeNumber(Long.toUnsignedString(value));
    }
  }
}
