package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonFormat;
import java.util.List;
import java.util.Map;

/**
 * The portable part of a container's configuration (swagger ContainerConfig): the top-level fields of
 * {@code POST /containers/create} and the {@code Config} of {@code GET /containers/{id}/json}.
 *
 * <p>Every field is nullable, so that "unset" stays distinct from empty: an {@code Entrypoint} of
 * {@code []} resets the image's entrypoint while {@code null} keeps it (moby's {@code daemon/commit.go}).
 * {@code Cmd}, {@code Entrypoint} and {@code Shell} also accept a single string, as Docker's StrSlice does.
 */
public record ContainerConfig(
    String hostname,
    String domainname,
    String user,
    Boolean attachStdin,
    Boolean attachStdout,
    Boolean attachStderr,
    Map<String, Object> exposedPorts,
    Boolean tty,
    Boolean openStdin,
    Boolean stdinOnce,
    List<String> env,
    @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> cmd,
    HealthConfig healthcheck,
    Boolean argsEscaped,
    String image,
    Map<String, Object> volumes,
    String workingDir,
    @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> entrypoint,
    Boolean networkDisabled,
    String macAddress,
    List<String> onBuild,
    Map<String, String> labels,
    String stopSignal,
    Integer stopTimeout,
    @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> shell) {

  /** An empty configuration: every field unset. */
  public static ContainerConfig empty() {
    return new ContainerConfig(null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null, null, null, null, null, null, null);
  }

  /**
   * A container's health check (swagger HealthConfig). Durations are nanoseconds; 0 means "inherit".
   * {@code Test} is {@code ["NONE"]}, {@code ["CMD", args...]} or {@code ["CMD-SHELL", command]}.
   */
  public record HealthConfig(
      @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> test,
      Long interval,
      Long timeout,
      Long startPeriod,
      Long startInterval,
      Integer retries) {}
}
