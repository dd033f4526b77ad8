package berth.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PullerTest {
  @Test
  void sizesAsTheCliShowsThem() {
    assertEquals("0B", Puller.human(0));
    assertEquals("527B", Puller.human(527));
    assertEquals("100B", Puller.human(100));
    assertEquals("1kB", Puller.human(1000));
    assertEquals("2.098MB", Puller.human(2_097_664));
    assertEquals("1.5GB", Puller.human(1_500_000_000L));
  }

  @Test
  void progressBarHasFiftyColumnsAndAHead() {
    assertEquals("[>" + " ".repeat(50) + "] 0B/100B", Puller.bar(0, 100));
    assertEquals("[" + "=".repeat(25) + ">" + " ".repeat(25) + "] 50B/100B", Puller.bar(50, 100));
    assertEquals("[" + "=".repeat(50) + ">] 100B/100B", Puller.bar(100, 100));
  }
}
