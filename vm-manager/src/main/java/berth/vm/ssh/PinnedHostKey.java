package berth.vm.ssh;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PublicKey;
import java.util.logging.Logger;
import org.apache.sshd.client.keyverifier.ServerKeyVerifier;
import org.apache.sshd.client.session.ClientSession;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;

/**
 * Trust on first use for one guest: the first host key seen is written to a file (one OpenSSH public key
 * line); later a different key is refused, and {@link #refusal()} says why. Thread-safe.
 */
final class PinnedHostKey implements ServerKeyVerifier {
  private static final Logger LOG = Logger.getLogger(PinnedHostKey.class.getName());
  private final Path file;
  private volatile String refusal;

  PinnedHostKey(Path file) {
    this.file = file;
  }

  /** Why the last key was refused, or null. */
  String refusal() {
    return refusal;
  }

  @Override
  public synchronized boolean verifyServerKey(ClientSession session, SocketAddress remote, PublicKey key) {
    String seen = PublicKeyEntry.toString(key);
    try {
      if (!Files.exists(file)) {
        record(seen);
        LOG.info("recorded the guest's host key " + KeyUtils.getFingerPrint(key) + " in " + file);
        return true;
      }
      String pinned = firstKey(Files.readString(file, StandardCharsets.US_ASCII));
      if (seen.equals(pinned)) {
        refusal = null;
        return true;
      }
      refusal = "the guest at " + remote + " presented host key " + KeyUtils.getFingerPrint(key)
          + ", not the one recorded in " + file + "; refusing to connect (if the machine was re-created, delete that file)";
    } catch (IOException e) {
      refusal = "cannot check the guest's host key against " + file + ": " + e.getMessage();
    }
    LOG.warning(refusal);
    return false;
  }

  /** The "type base64" part of the first key line in {@code text}, or "" if there is none. */
  static String firstKey(String text) {
    for (String line : text.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 2 && !f[0].startsWith("#")) {
        return f[0] + " " + f[1];
      }
    }
    return "";
  }

  private void record(String keyLine) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, ".host-key-", ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      Files.writeString(tmp, keyLine + "\n", StandardCharsets.US_ASCII);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
