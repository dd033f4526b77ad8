package berth.engine.api.http;

import io.netty.channel.Channel;
import java.io.IOException;
import java.util.concurrent.TimeUnit;

/** Makes a writer thread wait while the client reads slower than the engine writes. */
final class Backpressure {
  private Backpressure() {}

  /**
   * Returns once the channel is writable again (the handler notifies {@code writability} when it
   * changes); IOException if the client is gone or the thread is interrupted.
   */
  static void awaitWritable(Channel channel, Object writability) throws IOException {
    if (!channel.isActive()) {
      throw new IOException("client disconnected");
    }
    if (channel.isWritable()) {
      return;
    }
    channel.flush();
    synchronized (writability) {
      while (!channel.isWritable() && channel.isActive()) {
        try {
          writability.wait(TimeUnit.SECONDS.toMillis(1));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted");
        }
      }
    }
    if (!channel.isActive()) {
      throw new IOException("client disconnected");
    }
  }
}
