package berth.vm.socket;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * Connects a local connection to a fixed place in the guest (lima's dialer: the forward knows nothing of
 * how the guest is reached). Implementations are thread-safe.
 */
@FunctionalInterface
public interface GuestDialer {
  /**
   * Opens a stream to the guest and pumps it and {@code client} both ways in the background, with half-close.
   * On success the bridge owns {@code client} and closes it when either side ends; on failure it throws and
   * {@code client} stays the caller's to close.
   */
  void bridge(SocketChannel client) throws IOException;
}
