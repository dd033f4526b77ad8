package berth.agent.sshd;

import com.sun.jna.Native;
import java.io.IOException;

/**
 * Sets the guest's wall clock from the host's ({@code clock_settime(CLOCK_REALTIME)}, JNA direct mapping).
 * Differences under {@link #TOLERANCE_MILLIS} are left alone: the host's reading is already that old when it
 * arrives, and stepping the clock back and forth for nothing confuses make-like tools.
 */
final class GuestClock {
  static final long TOLERANCE_MILLIS = 500;
  private static final int CLOCK_REALTIME = 0;

  static {
    Native.register("c");
  }

  private GuestClock() {}

  private static native int clock_settime(int clock, long[] timespec);

  /** Brings the clock to {@code epochMillis} if it is off by more than the tolerance; returns what it did. */
  static String sync(long epochMillis) throws IOException {
    long off = System.currentTimeMillis() - epochMillis;
    if (Math.abs(off) < TOLERANCE_MILLIS) {
      return "clock within " + Math.abs(off) + " ms of the host's; left alone";
    }
    long[] ts = {Math.floorDiv(epochMillis, 1000), Math.floorMod(epochMillis, 1000) * 1_000_000L};
    if (clock_settime(CLOCK_REALTIME, ts) != 0) {
      throw new IOException("clock_settime failed: errno " + Native.getLastError());
    }
    return "clock set (it was " + off + " ms off)";
  }
}
