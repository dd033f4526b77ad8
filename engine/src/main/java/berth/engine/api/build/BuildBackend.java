package berth.engine.api.build;

import berth.engine.api.types.JsonStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;

/** What the build router needs. Implemented by {@link berth.engine.build.Builder}. */
public interface BuildBackend {
  /**
   * The query of {@code POST /build} that the classic builder honours. {@code buildArgs} values may be null
   * (the CLI's {@code --build-arg NAME} with NAME unset); {@code tags} are as the user typed them;
   * {@code runHostConfig} holds the HostConfig fields RUN containers get (NetworkMode, ExtraHosts, ShmSize,
   * Memory, MemorySwap, CpuShares, CpuPeriod, CpuQuota, CpusetCpus, CpusetMems), in the API's names;
   * {@code registryConfig} is the {@code X-Registry-Config} header (credentials per registry for the images
   * FROM and COPY --from pull), null when absent.
   */
  record Options(String dockerfile, List<String> tags, Map<String, String> buildArgs, Map<String, String> labels,
      boolean quiet, boolean noCache, boolean remove, boolean forceRemove, String target,
      Map<String, Object> runHostConfig, boolean pull, String registryConfig) {}

  /**
   * Builds from a context (tar, gzip'd tar, or a lone Dockerfile) read as a stream, sending Docker's build
   * messages ({@code stream}, {@code aux}) to {@code out}; returns the image ID. Failures before the first
   * message throw (the router answers with their status); later ones are thrown too, after which the router
   * sends them in-band. Nothing half-made is left: intermediate containers are removed (unless
   * {@code remove} and {@code forceRemove} are both false) and the spooled context is deleted.
   */
  String build(InputStream context, Options options, JsonStream out) throws IOException;

  /**
   * {@code POST /build/prune}: removes unused build cache matching {@code filters} until at most
   * {@code keepStorage} bytes of it are left (0: no limit); INVALID_PARAMETER for an unknown filter.
   */
  berth.engine.api.types.BuildCachePruneReport prune(berth.engine.api.types.Filters filters, boolean all,
      long keepStorage);

  /** A RUN step whose command exited non-zero: the exit code goes in the error detail (the CLI exits with it). */
  final class CommandFailed extends berth.engine.errdefs.EngineException {
    private static final long serialVersionUID = 1L;
    private final int code;

    public CommandFailed(String message, int code) {
      super(berth.engine.errdefs.ErrorKind.INVALID_PARAMETER, message);
      this.code = code;
    }

    /** The command's exit code. */
    public int code() {
      return code;
    }
  }
}
