package berth.vm.ssh;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.util.Iterator;
import org.apache.sshd.common.NamedResource;
import org.apache.sshd.common.keyprovider.KeyPairProvider;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.config.keys.writer.openssh.OpenSSHKeyPairResourceWriter;
import org.apache.sshd.common.util.security.SecurityUtils;

/**
 * A machine's SSH key pair, made once when the machine is created: an ECDSA P-256 key (the JDK has it with no
 * extra provider) in OpenSSH's private key format, mode 0600, and its public line beside it ({@code FILE.pub}).
 * The guest accepts only this key. Stateless.
 */
public final class MachineKey {
  static final String COMMENT = "berth-machine";

  private MachineKey() {}

  /**
   * Generates the key pair into {@code privateKey} and {@code privateKey.pub}; returns the public key line
   * (OpenSSH {@code authorized_keys} format). Refuses to overwrite an existing key.
   */
  public static String generate(Path privateKey) throws IOException {
    KeyPair kp;
    try {
      kp = KeyUtils.generateKeyPair(KeyPairProvider.ECDSA_SHA2_NISTP256, 256);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot generate an ECDSA P-256 key: " + e.getMessage(), e);
    }
    Path pub = publicKeyFile(privateKey);
    Files.createFile(privateKey, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try (OutputStream out = Files.newOutputStream(privateKey)) {
      OpenSSHKeyPairResourceWriter.INSTANCE.writePrivateKey(kp, COMMENT, null, out);
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      Files.deleteIfExists(privateKey);
      throw e instanceof IOException io ? io : new IOException("cannot write " + privateKey + ": " + e.getMessage(), e);
    }
    String line = PublicKeyEntry.toString(kp.getPublic()) + " " + COMMENT;
    Files.writeString(pub, line + "\n", StandardCharsets.US_ASCII);
    return line;
  }

  /** The public key file beside {@code privateKey}. */
  public static Path publicKeyFile(Path privateKey) {
    return privateKey.resolveSibling(privateKey.getFileName() + ".pub");
  }

  /** Reads the key pair from {@code privateKey}; the message names the file if it is missing or not a key. */
  public static KeyPair load(Path privateKey) throws IOException {
    try (InputStream in = Files.newInputStream(privateKey)) {
      Iterable<KeyPair> keys = SecurityUtils.loadKeyPairIdentities(null, NamedResource.ofName(privateKey.toString()), in, null);
      Iterator<KeyPair> it = keys == null ? null : keys.iterator();
      if (it == null || !it.hasNext()) {
        throw new IOException("no key in " + privateKey);
      }
      return it.next();
    } catch (GeneralSecurityException e) {
      throw new IOException("not a usable private key: " + privateKey + ": " + e.getMessage(), e);
    }
  }
}
