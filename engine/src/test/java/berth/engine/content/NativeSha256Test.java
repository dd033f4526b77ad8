package berth.engine.content;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Nettle's SHA-256 gives the JDK's digests, whatever the sizes and order of the updates. */
class NativeSha256Test {
  private final Random random = new Random(42);

  @Test
  void loadsOnDebianAndIsWhatTheEngineUses() {
    // libnettle.so.8 ships in libnettle8, which apt itself needs (through GnuTLS).
    assertTrue(NativeSha256.AVAILABLE, "libnettle.so.8 did not load");
    assertEquals(NativeSha256.class, Digest.newSha256().getClass());
  }

  @Test
  void sameDigestsAsTheJdkForUpdatesOfEverySize() throws Exception {
    // sizes around SHA-256's 64-byte block and the 64 KiB scratch the native digest copies through
    int[] sizes = {0, 1, 55, 56, 63, 64, 65, 511, 512, 65535, 65536, 65537, 200_000};
    MessageDigest jdk = MessageDigest.getInstance("SHA-256");
    NativeSha256 nat = new NativeSha256();
    for (int size : sizes) {
      byte[] data = bytes(size + 7);
      jdk.update(data, 3, size);
      nat.update(data, 3, size);
      assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(slice(data, 3, size)),
          new NativeSha256().digest(slice(data, 3, size)), "one update of " + size);
    }
    jdk.update((byte) 7);
    nat.update((byte) 7);
    assertArrayEquals(jdk.digest(), nat.digest(), "all sizes in one stream");
    // digest() resets, as MessageDigest's contract says
    assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(), nat.digest());
  }

  @Test
  void cloneForksTheStateAndResetStartsOver() throws Exception {
    byte[] a = bytes(1000);
    byte[] b = bytes(3000);
    NativeSha256 nat = new NativeSha256();
    nat.update(a);
    MessageDigest fork = (MessageDigest) nat.clone();
    nat.update(b);
    assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(a), fork.digest());
    MessageDigest jdk = MessageDigest.getInstance("SHA-256");
    jdk.update(a);
    jdk.update(b);
    assertArrayEquals(jdk.digest(), nat.digest());
    nat.update(b);
    nat.reset();
    nat.update(a);
    assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(a), nat.digest());
  }

  @Test
  void directAndHeapByteBuffers() throws Exception {
    byte[] data = bytes(100_000);
    ByteBuffer direct = ByteBuffer.allocateDirect(data.length + 10);
    direct.position(10);
    direct.put(data);
    direct.position(10);
    NativeSha256 nat = new NativeSha256();
    nat.update(direct);
    assertEquals(direct.limit(), direct.position());
    nat.update(ByteBuffer.wrap(data, 5, 50));
    MessageDigest jdk = MessageDigest.getInstance("SHA-256");
    jdk.update(data);
    jdk.update(data, 5, 50);
    assertArrayEquals(jdk.digest(), nat.digest());
  }

  private byte[] bytes(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  private static byte[] slice(byte[] data, int off, int len) {
    byte[] out = new byte[len];
    System.arraycopy(data, off, out, 0, len);
    return out;
  }
}
