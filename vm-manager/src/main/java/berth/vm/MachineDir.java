package berth.vm;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Every on-disk name of one machine, under {@code <home>/machines/<name>/} (lima's filenames.go). Drivers and
 * the SSH channel take their paths from here, never build them. Immutable.
 */
public final class MachineDir {
  /** The machine's filled config, as JSON ({@link MachineStore}). */
  public static final String MACHINE_JSON = "machine.json";
  /** The persistent data disk (qcow2), the guest's /var/lib/berth; kept across boot-image upgrades. */
  public static final String DATA_DISK = "data.qcow2";
  /** Everything the guest wrote on its serial console during the current boot. */
  public static final String CONSOLE_LOG = "console.log";
  /** The console log of the boot before, kept when a start rotates the log. */
  public static final String CONSOLE_LOG_PREVIOUS = "console.log.1";
  /** The machine's SSH private key (OpenSSH format), made at create time; the guest accepts only this key. */
  public static final String SSH_KEY = "id_ecdsa";
  /** Its public half (one OpenSSH line), passed to the guest as berth.key on the kernel command line. */
  public static final String SSH_PUBLIC_KEY = "id_ecdsa.pub";
  /** The guest agent's host key, pinned on first connection. */
  public static final String KNOWN_HOST = "known_host";

  private final Path path;

  public MachineDir(Path path) {
    this.path = path.toAbsolutePath().normalize();
  }

  public Path path() {
    return path;
  }

  public Path machineJson() {
    return path.resolve(MACHINE_JSON);
  }

  public Path dataDisk() {
    return path.resolve(DATA_DISK);
  }

  public Path consoleLog() {
    return path.resolve(CONSOLE_LOG);
  }

  public Path previousConsoleLog() {
    return path.resolve(CONSOLE_LOG_PREVIOUS);
  }

  public Path sshKey() {
    return path.resolve(SSH_KEY);
  }

  public Path sshPublicKey() {
    return path.resolve(SSH_PUBLIC_KEY);
  }

  public Path knownHost() {
    return path.resolve(KNOWN_HOST);
  }

  /** Removes the directory and everything in it; does nothing if it is already gone. Not followed: symlinks. */
  public void deleteAll() throws IOException {
    if (!Files.exists(path)) {
      return;
    }
    Files.walkFileTree(path, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.deleteIfExists(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null && !(e instanceof NoSuchFileException)) {
          throw e;
        }
        Files.deleteIfExists(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MachineDir d && d.path.equals(path);
  }

  @Override
  public int hashCode() {
    return path.hashCode();
  }

  @Override
  public String toString() {
    return path.toString();
  }
}
