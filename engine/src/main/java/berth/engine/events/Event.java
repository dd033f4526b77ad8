package berth.engine.events;

import java.util.Map;

/** Something that happened to an object the engine manages, as {@code GET /events} reports it. */
public record Event(String type, String action, String actorId, Map<String, String> attributes, long timeNano) {
  public long timeSeconds() {
    return timeNano / 1_000_000_000L;
  }
}
