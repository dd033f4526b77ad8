package berth.engine.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.security.auth.module.UnixSystem;

/**
 * Root gating for integration tests (containerd's RequiresRoot): with {@code -Dberth.it.root=true}
 * a non-root run fails loudly instead of skipping; without it, a non-root run skips.
 */
public final class RequiresRoot {
  private RequiresRoot() {}

  /** Fails if root was required but is missing; skips when not root and not required. */
  public static void check() {
    boolean root = new UnixSystem().getUid() == 0;
    if (!root && Boolean.getBoolean("berth.it.root")) {
      fail("berth.it.root=true but this test is not running as root");
    }
    assumeTrue(root, "needs root (run with -Dberth.it.root=true as root)");
  }
}
