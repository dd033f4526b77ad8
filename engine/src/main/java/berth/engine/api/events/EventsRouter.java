package berth.engine.api.events;

import berth.engine.api.http.ApiRequest;
import berth.engine.api.http.ApiResponse;
import berth.engine.api.http.Route;
import berth.engine.api.http.Router;
import berth.engine.api.types.Filters;
import berth.engine.api.types.Timestamps;
import berth.engine.errdefs.EngineException;
import berth.engine.events.Event;
import berth.engine.events.EventBus;
import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** {@code GET /events}: recorded events since a time, then live ones until a time or the client leaves. */
public final class EventsRouter implements Router {
  private static final Set<String> FILTERS =
      Set.of("container", "event", "image", "label", "network", "type", "volume", "daemon", "scope", "plugin", "node",
          "service", "secret", "config");
  private final EventBus bus;
  private final String engineId;

  public EventsRouter(EventBus bus, String engineId) {
    this.bus = bus;
    this.engineId = engineId;
  }

  @Override
  public List<Route> routes() {
    return List.of(Route.get("/events", this::getEvents));
  }

  private void getEvents(ApiRequest req, ApiResponse res) throws IOException, InterruptedException {
    long now = Timestamps.nowNanos();
    long since = parseTime(req.query("since"), "since", Long.MIN_VALUE);
    long until = parseTime(req.query("until"), "until", Long.MAX_VALUE);
    if (since != Long.MIN_VALUE && until != Long.MAX_VALUE && since > until) {
      throw EngineException.invalid("`since` time (%s) cannot be after `until` time (%s)", req.query("since"), req.query("until"));
    }
    Filters filters = Filters.parse(req.query("filters")).validate(FILTERS);
    Predicate<Event> match = e -> matches(filters, e);
    try (EventBus.Subscription sub = bus.subscribe(match)) {
      var out = res.stream(200, "application/json");
      out.flush();
      for (Event e : sub.past()) {
        if (e.timeNano() >= since && e.timeNano() <= until && since != Long.MIN_VALUE) {
          out.writeJson(wire(e));
        }
      }
      var gone = res.clientGone();
      while (!gone.isDone()) {
        long left = until == Long.MAX_VALUE ? 1_000_000_000L : until - Timestamps.nowNanos();
        if (left <= 0 || (until != Long.MAX_VALUE && until < now)) {
          break;
        }
        Event e = sub.queue().poll(Math.min(left, 1_000_000_000L), TimeUnit.NANOSECONDS);
        if (e != null && e.timeNano() <= until) {
          out.writeJson(wire(e));
        }
      }
      out.close();
    }
  }


  /** Accepts dockerd's forms: unix seconds with optional fraction ("1700000000.123456789") or RFC 3339. */
  static long parseTime(String v, String name, long dflt) {
    if (v == null || v.isEmpty()) {
      return dflt;
    }
    try {
      return new BigDecimal(v).movePointRight(9).longValueExact();
    } catch (NumberFormatException | ArithmeticException e) {
      try {
        return Timestamps.nanos(Instant.parse(v));
      } catch (DateTimeParseException e2) {
        throw EngineException.invalid("invalid value for %s: %s", name, v);
      }
    }
  }

  private boolean matches(Filters f, Event e) {
    if (!f.matchAny("type", e.type()) || !f.matchAny("scope", "local")) {
      return false;
    }
    if (f.has("event") && !f.get("event").contains(e.action())
        && !f.get("event").contains(e.action().split(":", 2)[0])) {
      return false;
    }
    if (f.has("daemon") && !(e.type().equals("daemon") && (f.get("daemon").contains(engineId)
        || f.get("daemon").contains(e.attributes().getOrDefault("name", ""))))) {
      return false;
    }
    if (f.has("image")) {
      String image = e.type().equals("image") ? e.actorId() : e.attributes().getOrDefault("image", "");
      String name = e.attributes().getOrDefault("name", "");
      boolean hit = false;
      for (String want : f.get("image")) {
        hit |= want.equals(image) || want.equals(name) || image.startsWith(want) || stripTag(name).equals(want)
            || ("sha256:" + want).equals(image) || image.startsWith("sha256:" + want);
      }
      if (!hit) {
        return false;
      }
    }
    for (String t : new String[] {"container", "network", "volume"}) {
      if (f.has(t) && !(e.type().equals(t) && (f.get(t).contains(e.actorId())
          || f.get(t).contains(e.attributes().getOrDefault("name", ""))))) {
        return false;
      }
    }
    return f.matchLabels("label", e.attributes());
  }

  private static String stripTag(String name) {
    int slash = name.lastIndexOf('/');
    int colon = name.lastIndexOf(':');
    return colon > slash ? name.substring(0, colon) : name;
  }

  static Map<String, Object> wire(Event e) {
    Map<String, Object> m = new LinkedHashMap<>();
    if (e.type().equals("container") || e.type().equals("image")) {
      m.put("status", e.action());
      m.put("id", e.actorId());
      if (e.attributes().containsKey("image")) {
        m.put("from", e.attributes().get("image"));
      }
    }
    m.put("Type", e.type());
    m.put("Action", e.action());
    m.put("Actor", Map.of("ID", e.actorId(), "Attributes", e.attributes()));
    m.put("scope", "local");
    m.put("time", e.timeSeconds());
    m.put("timeNano", e.timeNano());
    return m;
  }
}
