package berth.engine.api.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.http.ApiReply;
import berth.engine.api.http.EmbeddedApiServer;
import berth.engine.events.Event;
import berth.engine.events.EventBus;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code GET /events} over a real EventBus and the real HTTP pipeline. */
class EventsRouterTest {
  private final EventBus bus = new EventBus();
  private final EmbeddedApiServer server = new EmbeddedApiServer(new EventsRouter(bus, "engine-1"));
  private List<Event> published;

  @BeforeEach
  void publishSomeHistory() {
    bus.publish("container", "create", "c1", Map.of("name", "web", "image", "busybox"));
    bus.publish("image", "tag", "sha256:" + "b".repeat(64), Map.of("name", "busybox:latest"));
    bus.publish("network", "create", "n1", Map.of("name", "front", "type", "bridge"));
    bus.publish("image", "untag", "sha256:" + "b".repeat(64), Map.of("name", "busybox:old"));
    bus.publish("container", "start", "c1", Map.of("name", "web", "image", "busybox"));
    try (EventBus.Subscription all = bus.subscribe(e -> true)) {
      published = List.copyOf(all.past());
    }
  }

  @AfterEach
  void close() {
    server.close();
  }

  /** A Docker timestamp: unix seconds with a nine-digit fraction. */
  private static String time(long nano) {
    return (nano / 1_000_000_000L) + "." + String.format("%09d", nano % 1_000_000_000L);
  }

  private static String q(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private static List<String> actions(ApiReply r) {
    List<String> out = new ArrayList<>();
    r.jsonLines().forEach(j -> out.add(j.get("Type").asText() + ":" + j.get("Action").asText()));
    return out;
  }

  private ApiReply window(int from, int to, String filters) {
    return server.get("/events?since=" + time(published.get(from).timeNano()) + "&until="
        + time(published.get(to).timeNano()) + (filters == null ? "" : "&filters=" + q(filters)));
  }

  @Test
  void sinceUntilReplayReturnsExactlyTheEventsInTheWindowAndEnds() {
    ApiReply r = window(1, 3, null);
    assertEquals(200, r.status());
    assertTrue(r.complete(), "a window in the past ends the stream");
    assertEquals(List.of("image:tag", "network:create", "image:untag"), actions(r));
    assertTrue(server.await(() -> bus.listeners() == 0), "the subscription is closed when the stream ends");
  }

  @Test
  void sinceInRfc3339FormIsAccepted() {
    Event first = published.get(0);
    String since = Instant.ofEpochSecond(first.timeNano() / 1_000_000_000L, first.timeNano() % 1_000_000_000L).toString();
    ApiReply r = server.get("/events?since=" + since + "&until=" + time(published.get(1).timeNano()));
    assertEquals(List.of("container:create", "image:tag"), actions(r));
  }

  @Test
  void typeFilterSelectsImageEvents() {
    assertEquals(List.of("image:tag", "image:untag"), actions(window(0, 4, "{\"type\":[\"image\"]}")));
  }

  @Test
  void eventFilterSelectsActions() {
    assertEquals(List.of("image:tag"), actions(window(0, 4, "{\"event\":[\"tag\"]}")));
    assertEquals(List.of("container:create", "network:create"), actions(window(0, 4, "{\"event\":{\"create\":true}}")));
    assertEquals(List.of(), actions(window(0, 4, "{\"type\":[\"network\"],\"event\":[\"tag\"]}")));
  }

  @Test
  void containerFilterMatchesIdOrName() {
    assertEquals(List.of("container:create", "container:start"), actions(window(0, 4, "{\"container\":[\"web\"]}")));
    assertEquals(List.of("container:create", "container:start"), actions(window(0, 4, "{\"container\":[\"c1\"]}")));
  }

  @Test
  void unparseableSinceIsBadRequest() {
    ApiReply r = server.get("/events?since=yesterday");
    assertEquals(400, r.status());
    assertEquals("invalid value for since: yesterday", r.message());
    assertEquals(0, bus.listeners());
  }

  @Test
  void sinceAfterUntilIsBadRequest() {
    ApiReply r = server.get("/events?since=200&until=100");
    assertEquals(400, r.status());
    assertEquals("`since` time (200) cannot be after `until` time (100)", r.message());
  }

  @Test
  void unknownFilterIsBadRequest() {
    ApiReply r = server.get("/events?filters=" + q("{\"bogus\":[\"x\"]}"));
    assertEquals(400, r.status());
    assertEquals("invalid filter 'bogus'", r.message());
  }

  @Test
  void imageEventOnTheWireHasDockersFieldsAndLegacyStatusAndId() {
    JsonNode e = window(1, 1, null).jsonLines().get(0);
    Event tag = published.get(1);
    List<String> keys = new ArrayList<>();
    e.fieldNames().forEachRemaining(keys::add);
    assertEquals(List.of("status", "id", "Type", "Action", "Actor", "scope", "time", "timeNano"), keys);
    assertEquals("tag", e.get("status").asText());
    assertEquals(tag.actorId(), e.get("id").asText());
    assertEquals("image", e.get("Type").asText());
    assertEquals("tag", e.get("Action").asText());
    assertEquals(tag.actorId(), e.get("Actor").get("ID").asText());
    assertEquals("busybox:latest", e.get("Actor").get("Attributes").get("name").asText());
    assertEquals("local", e.get("scope").asText());
    assertEquals(tag.timeNano(), e.get("timeNano").asLong());
    assertEquals(tag.timeNano() / 1_000_000_000L, e.get("time").asLong());
  }

  @Test
  void containerEventOnTheWireCarriesFromAndNetworkEventHasNoLegacyFields() {
    JsonNode container = window(0, 0, null).jsonLines().get(0);
    assertEquals("busybox", container.get("from").asText());
    assertEquals("c1", container.get("id").asText());

    JsonNode network = window(2, 2, null).jsonLines().get(0);
    assertFalse(network.has("status"), network::toString);
    assertFalse(network.has("id"), network::toString);
    assertEquals("front", network.get("Actor").get("Attributes").get("name").asText());
  }

  @Test
  void withoutSinceOnlyLiveEventsAreSentUntilUntil() {
    long until = System.currentTimeMillis() + 1500;
    server.send("GET", "/events?until=" + until / 1000 + "." + String.format("%03d", until % 1000), Map.of(), null);
    assertTrue(server.await(() -> bus.listeners() == 1));
    bus.publish("volume", "create", "v1", Map.of("driver", "local"));

    ApiReply r = server.awaitReply();
    assertEquals(200, r.status());
    assertTrue(r.complete());
    assertEquals(List.of("volume:create"), actions(r));
  }

  @Test
  void clientThatHangsUpIsUnsubscribed() {
    server.send("GET", "/events", Map.of(), null);
    assertTrue(server.await(() -> bus.listeners() == 1));
    server.hangUp();
    assertTrue(server.await(() -> bus.listeners() == 0), "the subscription outlived the client");
  }
}
