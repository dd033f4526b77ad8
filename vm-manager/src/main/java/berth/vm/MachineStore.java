package berth.vm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The machines under one Berth home ({@code ~/.berth} unless told otherwise, e.g. by tests): each is a
 * directory {@code <home>/machines/<name>/} holding {@code machine.json}. Writes are atomic (temporary file,
 * fsync, rename). Not synchronized: callers serialize changes to one machine.
 */
public final class MachineStore {
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(SerializationFeature.INDENT_OUTPUT);

  private final Path machines;

  /** A store under {@code home} (the directory that holds {@code machines/}); nothing is created yet. */
  public MachineStore(Path home) {
    this.machines = home.toAbsolutePath().normalize().resolve("machines");
  }

  /** The user's Berth home, {@code ~/.berth}. */
  public static Path defaultHome() {
    return userHome().resolve(".berth");
  }

  /**
   * The user's home: {@code $HOME} when set, as the docker CLI and libvirt take it, else the password database's
   * (the JVM's {@code user.home}, which ignores {@code $HOME}).
   */
  public static Path userHome() {
    String env = System.getenv("HOME");
    return Path.of(env != null && env.startsWith("/") ? env : System.getProperty("user.home"));
  }

  /** The directory a machine of this name has (or would have). */
  public MachineDir dir(String name) {
    return new MachineDir(machines.resolve(name));
  }

  /**
   * Makes a new machine's directory (mode 0700) and writes its config, which the caller has filled and
   * validated. {@link MachineException.Kind#CONFLICT} if the name is in use.
   */
  public Machine create(String name, MachineConfig config) throws IOException {
    if (name == null || !MachineConfigs.NAME.matcher(name).matches()) {
      throw new MachineException(MachineException.Kind.INVALID,
          "machine name " + MachineConfigs.quote(name) + " is not valid");
    }
    MachineDir dir = dir(name);
    Files.createDirectories(machines);
    try {
      Files.createDirectory(dir.path(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (FileAlreadyExistsException e) {
      throw new MachineException(MachineException.Kind.CONFLICT, "a machine named \"" + name
          + "\" already exists (" + dir + "); choose another name or delete it first");
    }
    Machine m = new Machine(name, dir, config);
    try {
      save(m);
    } catch (IOException | RuntimeException e) {
      dir.deleteAll();
      throw e;
    }
    return m;
  }

  /** Rewrites a machine's config file atomically. */
  public void save(Machine m) throws IOException {
    writeAtomically(m.dir().machineJson(), JSON.writeValueAsBytes(m.config()));
  }

  /** The machine of that name, if its directory and config exist; a corrupt config is BROKEN, not empty. */
  public Optional<Machine> find(String name) throws IOException {
    if (name == null || !MachineConfigs.NAME.matcher(name).matches()) {
      return Optional.empty();
    }
    MachineDir dir = dir(name);
    byte[] json;
    try {
      json = Files.readAllBytes(dir.machineJson());
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    try {
      return Optional.of(new Machine(name, dir, JSON.readValue(json, MachineConfig.class)));
    } catch (JsonProcessingException e) {
      throw new MachineException(MachineException.Kind.BROKEN, "machine \"" + name + "\": "
          + dir.machineJson() + " is not a valid machine config: " + e.getOriginalMessage(), e);
    }
  }

  /** The machine of that name; {@link MachineException.Kind#NOT_FOUND} if there is none. */
  public Machine get(String name) throws IOException {
    return find(name).orElseThrow(() -> new MachineException(MachineException.Kind.NOT_FOUND,
        "no machine named " + MachineConfigs.quote(name) + " (under " + machines + ")"));
  }

  /** The names of every machine directory that has a config, sorted. */
  public List<String> names() throws IOException {
    if (!Files.isDirectory(machines)) {
      return List.of();
    }
    List<String> names = new ArrayList<>();
    try (Stream<Path> s = Files.list(machines)) {
      s.filter(p -> Files.isRegularFile(p.resolve(MachineDir.MACHINE_JSON)))
          .map(p -> p.getFileName().toString()).sorted().forEach(names::add);
    }
    return names;
  }

  private static void writeAtomically(Path target, byte[] data) throws IOException {
    Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buf = ByteBuffer.wrap(data);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
