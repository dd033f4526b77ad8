package berth.engine.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Publishing, filtering, the 256-event history and the atomic snapshot-plus-queue subscription. */
class EventBusTest {
  private final EventBus bus = new EventBus();

  private static List<String> ids(List<Event> events) {
    return events.stream().map(Event::actorId).toList();
  }

  @Test
  void subscriberReceivesMatchingEventsPublishedAfterSubscribing() {
    try (EventBus.Subscription images = bus.subscribe(e -> e.type().equals("image"))) {
      bus.publish("container", "create", "c1", Map.of());
      bus.publish("image", "tag", "i1", Map.of("name", "busybox:latest"));
      bus.publish("image", "untag", "i2", Map.of());

      List<Event> got = new ArrayList<>();
      images.queue().drainTo(got);
      assertEquals(List.of("i1", "i2"), ids(got));
      assertEquals("tag", got.get(0).action());
      assertEquals(Map.of("name", "busybox:latest"), got.get(0).attributes());
      assertTrue(images.past().isEmpty());
    }
  }

  @Test
  void snapshotHoldsRecordedEventsThatMatchTheFilter() {
    bus.publish("container", "create", "c1", Map.of());
    bus.publish("image", "tag", "i1", Map.of());
    bus.publish("container", "start", "c1", Map.of());
    try (EventBus.Subscription s = bus.subscribe(e -> e.type().equals("container"))) {
      assertEquals(List.of("create", "start"), s.past().stream().map(Event::action).toList());
      assertTrue(s.queue().isEmpty());
    }
  }

  @Test
  void closedSubscriptionGetsNothingMore() {
    EventBus.Subscription s = bus.subscribe(e -> true);
    assertEquals(1, bus.listeners());
    s.close();
    assertEquals(0, bus.listeners());
    bus.publish("image", "tag", "i1", Map.of());
    assertTrue(s.queue().isEmpty());
  }

  @Test
  void attributesAreCopiedWhenPublished() {
    Map<String, String> attrs = new HashMap<>(Map.of("name", "a"));
    bus.publish("image", "tag", "i1", attrs);
    attrs.put("name", "changed");
    try (EventBus.Subscription s = bus.subscribe(e -> true)) {
      assertEquals("a", s.past().get(0).attributes().get("name"));
    }
  }

  @Test
  void historyKeepsOnlyTheLast256Events() {
    for (int i = 0; i < 300; i++) {
      bus.publish("image", "tag", String.valueOf(i), Map.of());
    }
    try (EventBus.Subscription s = bus.subscribe(e -> true)) {
      assertEquals(256, EventBus.HISTORY);
      assertEquals(256, s.past().size());
      assertEquals("44", s.past().get(0).actorId());
      assertEquals("299", s.past().get(255).actorId());
    }
  }

  @Test
  void timeNanoIsStrictlyIncreasingEvenWithinOneClockTick() {
    try (EventBus.Subscription s = bus.subscribe(e -> true)) {
      for (int i = 0; i < 5000; i++) {
        bus.publish("image", "tag", String.valueOf(i), Map.of());
      }
      List<Event> got = new ArrayList<>();
      s.queue().drainTo(got);
      assertEquals(5000, got.size());
      for (int i = 1; i < got.size(); i++) {
        assertTrue(got.get(i).timeNano() > got.get(i - 1).timeNano(), "event " + i + " is not after event " + (i - 1));
      }
      long now = System.currentTimeMillis() * 1_000_000L;
      assertTrue(Math.abs(got.get(0).timeNano() - now) < TimeUnit.SECONDS.toNanos(10), "timeNano is wall-clock time");
      assertEquals(got.get(0).timeNano() / 1_000_000_000L, got.get(0).timeSeconds());
    }
  }

  @Test
  void concurrentPublishersGetDistinctTimesAndEachSubscriberSeesThemInTimeOrder() throws Exception {
    int threads = 4;
    int each = 5000;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try (EventBus.Subscription s = bus.subscribe(e -> true)) {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        done.add(pool.submit(() -> {
          go.await();
          for (int i = 0; i < each; i++) {
            bus.publish("container", "exec_start", id + "-" + i, Map.of());
          }
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get(30, TimeUnit.SECONDS);
      }
      List<Event> got = new ArrayList<>();
      s.queue().drainTo(got);
      assertEquals(threads * each, got.size());
      Set<Long> times = new HashSet<>();
      got.forEach(e -> times.add(e.timeNano()));
      assertEquals(threads * each, times.size(), "two events share a timeNano");
      for (int i = 1; i < got.size(); i++) {
        assertTrue(got.get(i).timeNano() > got.get(i - 1).timeNano(),
            "subscriber got event " + got.get(i).actorId() + " after the later " + got.get(i - 1).actorId());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void snapshotPlusQueueHasNoGapOrDuplicateUnderConcurrentPublishing() throws Exception {
    // One publisher numbers its events 0, 1, 2 ... Each subscription, taken while it runs, must see across
    // past() then queue() every number from its first one up to a horizon exactly once: a duplicate or a hole
    // means the snapshot and the live queue were not taken atomically. The horizon bounds each queue.
    long budget = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong published = new AtomicLong();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<?> publisher = pool.submit(() -> {
        for (long i = 0; !stop.get(); i++) {
          bus.publish("image", "tag", String.valueOf(i), Map.of());
          published.set(i + 1);
        }
      });
      int subscriptions = 0;
      while (System.nanoTime() < budget) {
        // batches of subscriptions taken back to back: each races the publisher for the lock
        List<EventBus.Subscription> batch = new ArrayList<>();
        List<AtomicLong> horizons = new ArrayList<>();
        try {
          for (int i = 0; i < 50; i++) {
            AtomicLong horizon = new AtomicLong(Long.MAX_VALUE);
            batch.add(bus.subscribe(e -> Long.parseLong(e.actorId()) <= horizon.get()));
            horizon.set(published.get() + 1000);
            horizons.add(horizon);
          }
          for (int b = 0; b < batch.size(); b++) {
            EventBus.Subscription s = batch.get(b);
            long horizon = horizons.get(b).get();
            List<Event> seen = new ArrayList<>(s.past());
            while (seen.isEmpty() || Long.parseLong(seen.get(seen.size() - 1).actorId()) < horizon) {
              Event live = s.queue().poll(10, TimeUnit.SECONDS);
              assertTrue(live != null, "the live queue stalled");
              seen.add(live);
            }
            s.queue().drainTo(seen);
            seen.removeIf(e -> Long.parseLong(e.actorId()) > horizon); // queued before the horizon was set
            List<String> got = ids(seen);
            long first = Long.parseLong(got.get(0));
            assertEquals(horizon - first + 1, got.size(), () -> describe(got) + " from " + first + " to " + horizon
                + " (" + s.past().size() + " from the snapshot)");
            for (int i = 0; i < got.size(); i++) {
              assertEquals(String.valueOf(first + i), got.get(i), "a gap or duplicate at position " + i);
            }
            subscriptions++;
          }
        } finally {
          batch.forEach(EventBus.Subscription::close);
        }
      }
      assertTrue(subscriptions >= 50, "too few subscriptions raced the publisher: " + subscriptions);
      stop.set(true);
      publisher.get(10, TimeUnit.SECONDS);
    } finally {
      stop.set(true);
      pool.shutdownNow();
    }
  }

  private static String describe(List<String> ids) {
    Set<String> once = new HashSet<>();
    for (String id : ids) {
      if (!once.add(id)) {
        return ids.size() + " events, " + id + " twice";
      }
    }
    return ids.size() + " events, none twice";
  }
}
