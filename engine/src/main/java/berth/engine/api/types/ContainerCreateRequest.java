package berth.engine.api.types;

import com.fasterxml.jackson.annotation.JsonUnwrapped;

/**
 * The body of {@code POST /containers/create}: the {@link ContainerConfig} fields at the top level,
 * plus {@code HostConfig} and {@code NetworkingConfig}. Unknown fields are ignored, as dockerd does.
 * {@link #hostConfig()} and {@link #networkingConfig()} are null when the client sent none.
 */
public record ContainerCreateRequest(
    @JsonUnwrapped ContainerConfig config,
    HostConfig hostConfig,
    NetworkingConfig networkingConfig) {

  public ContainerCreateRequest {
    if (config == null) {
      config = ContainerConfig.empty();
    }
  }
}
