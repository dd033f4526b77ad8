package berth.engine.api.http;

import berth.engine.api.types.JsonStream;
import java.io.IOException;

/**
 * A JSON-message stream (pull, push, import, build progress) whose HTTP reply starts only with the first message,
 * so a failure before it still gets its own status and {@code {"message"}} body, as dockerd answers; after it, the
 * caller reports failures in-band. Not thread-safe: one producer.
 */
public final class LazyJsonStream implements JsonStream {
  private final ApiResponse res;
  private ApiResponse.ResponseStream stream;

  public LazyJsonStream(ApiResponse res) {
    this.res = res;
  }

  @Override
  public void send(Object message) throws IOException {
    if (stream == null) {
      stream = res.stream(200, "application/json");
    }
    stream.writeJson(message);
  }

  /** Ends the reply if it was started; a no-op otherwise (the caller has answered the error). */
  public void close() {
    if (stream != null) {
      stream.close();
    }
  }
}
