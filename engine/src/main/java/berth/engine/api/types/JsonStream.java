package berth.engine.api.types;

import java.io.IOException;

/** A stream of JSON messages to the client (progress, results, in-band errors). */
@FunctionalInterface
public interface JsonStream {
  void send(Object message) throws IOException;

  /** A stream that drops everything (quiet operations). */
  static JsonStream discard() {
    return m -> { };
  }
}
