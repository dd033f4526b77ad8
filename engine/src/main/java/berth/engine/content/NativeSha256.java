package berth.engine.content;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.logging.Logger;

/**
 * SHA-256 computed by Nettle (GnuTLS's crypto library, libnettle8, on every Debian system since apt
 * needs it), called through JNA; Nettle picks the CPU's SHA instructions where there are some. The
 * engine's JVM runs with the client compiler only, which has no SHA-256 intrinsic: there the JDK's
 * digest hashes at a thirteenth of this speed, and every blob and layer of a pull or load is hashed.
 * Nettle rather than OpenSSL's libcrypto: loaded into the engine, libcrypto had 1.5 MiB resident,
 * Nettle 0.26 MiB. {@link Digest#newSha256()} falls back to the JDK's digest where Nettle cannot be
 * loaded, or when {@code -Dberth.sha256=jdk} asks for it.
 */
final class NativeSha256 extends MessageDigest implements Cloneable {
  private static final int CTX_SIZE = 112; // sizeof(struct sha256_ctx): state[8], count, index, block[64]
  private static final int SCRATCH = 64 << 10;
  private static final ThreadLocal<Memory> SCRATCH_BY_THREAD = ThreadLocal.withInitial(() -> new Memory(SCRATCH));

  private static final Logger LOG = Logger.getLogger(NativeSha256.class.getName());

  /**
   * Whether Nettle is used. Found out at the first digest, not at the engine's start: binding the library costs
   * tens of milliseconds natively and ten times that in an emulated guest, on the start's critical path.
   */
  static final boolean AVAILABLE = register();

  private Memory ctx = new Memory(CTX_SIZE);

  NativeSha256() {
    super("SHA-256");
    engineReset();
  }

  private static boolean register() {
    String why;
    if ("jdk".equals(System.getProperty("berth.sha256"))) {
      why = "-Dberth.sha256=jdk";
    } else {
      try {
        Native.register(NativeSha256.class, NativeLibrary.getInstance("libnettle.so.8"));
        return true;
      } catch (UnsatisfiedLinkError | RuntimeException e) {
        why = "libnettle.so.8 (Debian's libnettle8) did not load: " + e.getMessage();
      }
    }
    LOG.warning("SHA-256 by the JDK, not Nettle (" + why + "): loads and pulls hash several times slower");
    return false;
  }

  private static native void nettle_sha256_init(Pointer ctx);

  private static native void nettle_sha256_update(Pointer ctx, long length, Pointer data);

  /** Writes the digest and starts the context over. */
  private static native void nettle_sha256_digest(Pointer ctx, long length, byte[] digest);

  @Override
  protected int engineGetDigestLength() {
    return 32;
  }

  @Override
  protected void engineReset() {
    nettle_sha256_init(ctx);
  }

  @Override
  protected void engineUpdate(byte input) {
    engineUpdate(new byte[] {input}, 0, 1);
  }

  @Override
  protected void engineUpdate(byte[] input, int offset, int len) {
    Memory scratch = SCRATCH_BY_THREAD.get();
    while (len > 0) {
      int n = Math.min(len, SCRATCH);
      scratch.write(0, input, offset, n);
      nettle_sha256_update(ctx, n, scratch);
      offset += n;
      len -= n;
    }
  }

  @Override
  protected void engineUpdate(ByteBuffer input) {
    if (!input.isDirect()) {
      super.engineUpdate(input);
      return;
    }
    int n = input.remaining();
    if (n > 0) {
      nettle_sha256_update(ctx, n, Native.getDirectBufferPointer(input).share(input.position()));
      input.position(input.limit());
    }
  }

  @Override
  protected byte[] engineDigest() {
    byte[] out = new byte[32];
    nettle_sha256_digest(ctx, out.length, out);
    return out;
  }

  @Override
  public Object clone() throws CloneNotSupportedException {
    NativeSha256 copy = (NativeSha256) super.clone();
    copy.ctx = new Memory(CTX_SIZE);
    copy.ctx.write(0, ctx.getByteArray(0, CTX_SIZE), 0, CTX_SIZE);
    return copy;
  }
}
