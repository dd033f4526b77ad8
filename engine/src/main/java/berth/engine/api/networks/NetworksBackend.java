package berth.engine.api.networks;

import berth.engine.api.types.Filters;
import berth.engine.api.types.NetworkCreateRequest;
import berth.engine.api.types.NetworkingConfig;
import java.util.List;
import java.util.Map;

/** What {@link NetworksRouter} needs: Docker's network resource. Network JSON is built as ordered maps. */
public interface NetworksBackend {
  List<Map<String, Object>> list(Filters filters);

  Map<String, Object> inspect(String idOrName, boolean verbose);

  /** Returns the new network's ID. */
  String create(NetworkCreateRequest request);

  void remove(String idOrName);

  void connect(String network, String container, NetworkingConfig.EndpointSettings settings);

  void disconnect(String network, String container, boolean force);

  /** The names of the networks removed. */
  List<String> prune(Filters filters);
}
