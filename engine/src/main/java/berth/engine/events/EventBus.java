package berth.engine.events;

import berth.engine.api.types.Timestamps;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Predicate;

/**
 * Publishes engine events to subscribers and keeps the most recent ones for {@code since} replays, as
 * dockerd's events service does (its buffer holds 256). Thread-safe.
 */
public final class EventBus {
  static final int HISTORY = 256;
  private final Deque<Event> history = new ArrayDeque<>();
  private final List<Subscription> subscribers = new CopyOnWriteArrayList<>();
  private long lastNano;

  /** Records and delivers an event stamped now. */
  public void publish(String type, String action, String actorId, Map<String, String> attributes) {
    synchronized (history) {
      long nano = Timestamps.nowNanos();
      lastNano = Math.max(nano, lastNano + 1); // strictly increasing, so since/until are exact
      Event e = new Event(type, action, actorId, Map.copyOf(attributes), lastNano);
      history.addLast(e);
      if (history.size() > HISTORY) {
        history.removeFirst();
      }
      // Delivered under the same lock as the history, as dockerd's events.Log publishes under its mutex:
      // otherwise a subscribe() between the two steps gets the event both in its snapshot and in its
      // queue, and two publishers can enqueue out of timeNano order.
      for (Subscription s : subscribers) {
        if (s.filter.test(e)) {
          s.queue.offer(e);
        }
      }
    }
  }

  /**
   * Subscribes to events matching the filter; the snapshot holds the recorded events that matched
   * (taken atomically with the subscription, so none is missed or repeated). Close to unsubscribe.
   * The filter runs under the bus's lock: it must be quick and must not publish.
   */
  public Subscription subscribe(Predicate<Event> filter) {
    Subscription s = new Subscription(filter);
    synchronized (history) {
      for (Event e : history) {
        if (filter.test(e)) {
          s.past.add(e);
        }
      }
      subscribers.add(s);
    }
    return s;
  }

  public int listeners() {
    return subscribers.size();
  }

  /** One subscriber's past events and its queue of new ones. */
  public final class Subscription implements AutoCloseable {
    private final Predicate<Event> filter;
    private final List<Event> past = new ArrayList<>();
    private final BlockingQueue<Event> queue = new LinkedBlockingQueue<>();

    private Subscription(Predicate<Event> filter) {
      this.filter = filter;
    }

    public List<Event> past() {
      return past;
    }

    public BlockingQueue<Event> queue() {
      return queue;
    }

    @Override
    public void close() {
      subscribers.remove(this);
    }
  }
}
