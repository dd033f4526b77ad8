package berth.engine.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Loads the engine configuration in three steps: parse the file (unknown keys are an error), merge it
 * with the flags (a key set in both is an error, as dockerd's findConfigurationConflicts), fill the
 * built-in defaults, then validate and report every problem at once.
 *
 * <p>Merge rule: a flag and the file may not both set a key; lists and maps are taken whole from
 * whichever of the two sets them; then defaults fill whatever is still null.
 */
public final class ConfigLoader {
  public static final String DEFAULT_DATA_ROOT = "/var/lib/berth";
  public static final String DEFAULT_HOST = "unix:///run/berth/docker.sock";
  /** The largest build context (uncompressed tar bytes) one build may send: generous, a guard against a runaway disk. */
  public static final long DEFAULT_BUILD_CONTEXT_MAX_SIZE = 16L << 30;
  static final Set<String> LOG_DRIVERS = Set.of("json-file", "local", "none");
  private static final ObjectMapper MAPPER = new ObjectMapper()
      .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);

  private ConfigLoader() {}

  /** A configuration the engine cannot start with; the message names each bad key. */
  public static final class InvalidConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidConfigException(String message) {
      super(message);
    }
  }

  /** Parses a daemon.json-style file. Unknown keys and wrongly typed values name the key. */
  public static EngineConfig parse(Path file) throws InvalidConfigException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new InvalidConfigException("unable to read config file " + file + ": " + e.getMessage());
    }
    JsonNode tree;
    try {
      tree = MAPPER.readTree(bytes);
    } catch (IOException e) {
      String why = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
      throw new InvalidConfigException("invalid JSON in config file " + file + ": " + why);
    }
    if (tree == null || tree.isMissingNode() || tree.isNull()) {
      return EngineConfig.empty(); // an empty file, or JSON null (which dockerd also reads as "nothing set")
    }
    if (!tree.isObject()) {
      throw new InvalidConfigException("config file " + file + " must hold a JSON object");
    }
    Set<String> known = knownKeys();
    Set<String> unknown = new TreeSet<>();
    for (Iterator<String> it = tree.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!known.contains(k)) {
        unknown.add(k);
      }
    }
    if (!unknown.isEmpty()) {
      throw new InvalidConfigException("the following directives don't match any configuration option: "
          + String.join(", ", unknown));
    }
    try {
      return MAPPER.treeToValue(tree, EngineConfig.class);
    } catch (MismatchedInputException e) {
      String key = e.getPath().isEmpty() ? "?" : e.getPath().get(0).getFieldName();
      throw new InvalidConfigException("invalid value for configuration option " + key + ": " + e.getOriginalMessage());
    } catch (JsonProcessingException e) {
      throw new InvalidConfigException("invalid config file " + file + ": " + e.getOriginalMessage());
    }
  }

  static Set<String> knownKeys() {
    Set<String> keys = new TreeSet<>();
    for (var c : EngineConfig.class.getRecordComponents()) {
      keys.add(key(c));
    }
    return keys;
  }

  /** The daemon.json key of a field (its @JsonProperty, which Java puts on the accessor). */
  private static String key(java.lang.reflect.RecordComponent c) {
    return c.getAccessor().getAnnotation(com.fasterxml.jackson.annotation.JsonProperty.class).value();
  }

  /** Merges flags over the file; a key set by both is an error naming each such key and both values. */
  public static EngineConfig merge(EngineConfig file, EngineConfig flags) throws InvalidConfigException {
    List<String> conflicts = new ArrayList<>();
    Object[] values = new Object[EngineConfig.class.getRecordComponents().length];
    int i = 0;
    for (var c : EngineConfig.class.getRecordComponents()) {
      Object f = get(c, file);
      Object g = get(c, flags);
      if (f != null && g != null) {
        String key = key(c);
        conflicts.add(key + ": (from flag: " + g + ", from file: " + f + ")");
      }
      values[i++] = g != null ? g : f;
    }
    if (!conflicts.isEmpty()) {
      throw new InvalidConfigException("the following directives are specified both as a flag and in the configuration file: "
          + String.join(", ", conflicts));
    }
    return construct(values);
  }

  /** Fills built-in defaults into every unset key. */
  public static EngineConfig fill(EngineConfig c) {
    return new EngineConfig(
        c.dataRoot() != null ? c.dataRoot() : DEFAULT_DATA_ROOT,
        c.execRoot() != null ? c.execRoot() : defaultExecRoot(c.dataRoot() != null ? c.dataRoot() : DEFAULT_DATA_ROOT),
        c.hosts() != null && !c.hosts().isEmpty() ? c.hosts() : List.of(DEFAULT_HOST),
        c.logDriver() != null ? c.logDriver() : "json-file",
        c.logOpts() != null ? c.logOpts() : Map.of(),
        c.liveRestore() != null ? c.liveRestore() : Boolean.FALSE,
        c.insecureRegistries() != null ? c.insecureRegistries() : List.of(),
        c.registryMirrors() != null ? c.registryMirrors() : List.of(),
        c.defaultAddressPools() != null ? c.defaultAddressPools() : List.of(
            new EngineConfig.AddressPool("172.17.0.0/16", 16), new EngineConfig.AddressPool("172.18.0.0/16", 16),
            new EngineConfig.AddressPool("172.19.0.0/16", 16), new EngineConfig.AddressPool("172.20.0.0/14", 16),
            new EngineConfig.AddressPool("172.24.0.0/14", 16), new EngineConfig.AddressPool("172.28.0.0/14", 16),
            new EngineConfig.AddressPool("192.168.0.0/16", 20)),
        c.debug() != null ? c.debug() : Boolean.FALSE,
        c.tls() != null ? c.tls() : Boolean.FALSE,
        c.tlsVerify() != null ? c.tlsVerify() : Boolean.FALSE,
        c.tlsCaCert(), c.tlsCert(), c.tlsKey(), c.pidFile(),
        c.maxConcurrentDownloads() != null ? c.maxConcurrentDownloads() : 3,
        c.maxConcurrentUploads() != null ? c.maxConcurrentUploads() : 5,
        c.buildContextMaxSize() != null ? c.buildContextMaxSize() : DEFAULT_BUILD_CONTEXT_MAX_SIZE);
  }

  /**
   * Where running containers keep their sockets and runtime state (a tmpfs): {@code /run/berth/exec} for the
   * default data root, else a directory named after a hash of the data root, so that engines on different
   * data roots never share one and unix socket paths stay under the kernel's 108-byte limit.
   */
  public static String defaultExecRoot(String dataRoot) {
    if (dataRoot.equals(DEFAULT_DATA_ROOT)) {
      return "/run/berth/exec";
    }
    try {
      byte[] h = java.security.MessageDigest.getInstance("SHA-256")
          .digest(dataRoot.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return "/run/berth/x-" + java.util.HexFormat.of().formatHex(h, 0, 4);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reports every invalid value at once; returns the config unchanged when all is well. */
  public static EngineConfig validate(EngineConfig c) throws InvalidConfigException {
    List<String> errors = new ArrayList<>();
    if (!c.dataRoot().startsWith("/")) {
      errors.add("data-root: must be an absolute path, got \"" + c.dataRoot() + "\"");
    }
    if (!c.execRoot().startsWith("/")) {
      errors.add("exec-root: must be an absolute path, got \"" + c.execRoot() + "\"");
    } else if (c.execRoot().length() > 24) {
      errors.add("exec-root: must be at most 24 characters so container socket paths fit in 108 bytes, got \""
          + c.execRoot() + "\"");
    }
    boolean tcp = false;
    for (String h : c.hosts()) {
      if (h.startsWith("unix://")) {
        if (!h.startsWith("unix:///")) {
          errors.add("hosts: unix socket address must be absolute (unix:///path), got \"" + h + "\"");
        }
      } else if (h.startsWith("tcp://")) {
        tcp = true;
        try {
          URI u = new URI(h);
          if (u.getHost() == null) {
            errors.add("hosts: invalid tcp address \"" + h + "\"");
          }
        } catch (URISyntaxException e) {
          errors.add("hosts: invalid tcp address \"" + h + "\"");
        }
      } else {
        errors.add("hosts: unsupported address \"" + h + "\" (use unix:///path or tcp://host:port)");
      }
    }
    if (tcp && !(Boolean.TRUE.equals(c.tlsVerify()) && c.tlsCaCert() != null && c.tlsCert() != null && c.tlsKey() != null)) {
      errors.add("hosts: a tcp:// address needs mutual TLS: set tlsverify, tlscacert, tlscert and tlskey");
    }
    if (!LOG_DRIVERS.contains(c.logDriver())) {
      errors.add("log-driver: unknown log driver \"" + c.logDriver() + "\" (supported: json-file, local, none)");
    }
    for (var e : c.logOpts().entrySet()) {
      if (!Set.of("max-size", "max-file", "compress", "mode", "max-buffer-size", "labels", "env", "tag").contains(e.getKey())) {
        errors.add("log-opts: unknown log opt '" + e.getKey() + "'");
      }
    }
    for (String r : c.insecureRegistries()) {
      if (r.contains("://") || r.isBlank()) {
        errors.add("insecure-registries: \"" + r + "\" must be a host[:port] or a CIDR, without a scheme");
      } else if (r.contains("/") && Cidr.parse(r) == null) {
        errors.add("insecure-registries: invalid CIDR \"" + r + "\"");
      }
    }
    for (String m : c.registryMirrors()) {
      try {
        URI u = new URI(m);
        if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
          errors.add("registry-mirrors: invalid mirror \"" + m + "\": must be an http:// or https:// URL");
        }
      } catch (URISyntaxException e) {
        errors.add("registry-mirrors: invalid mirror \"" + m + "\"");
      }
    }
    if (c.maxConcurrentDownloads() < 1 || c.maxConcurrentDownloads() > 64) {
      errors.add("max-concurrent-downloads: must be between 1 and 64, got " + c.maxConcurrentDownloads());
    }
    if (c.buildContextMaxSize() != null && c.buildContextMaxSize() < 1) {
      errors.add("build-context-max-size: must be a positive number of bytes, got " + c.buildContextMaxSize());
    }
    if (c.maxConcurrentUploads() < 1 || c.maxConcurrentUploads() > 64) {
      errors.add("max-concurrent-uploads: must be between 1 and 64, got " + c.maxConcurrentUploads());
    }
    for (EngineConfig.AddressPool p : c.defaultAddressPools()) {
      Cidr base = p.base() == null ? null : Cidr.parse(p.base());
      if (base == null) {
        errors.add("default-address-pools: invalid base \"" + p.base() + "\"");
      } else if (p.size() == null || p.size() < base.prefix() || p.size() > 30) {
        errors.add("default-address-pools: size " + p.size() + " for base " + p.base()
            + " must be between the base's prefix length and 30");
      }
    }
    if (!errors.isEmpty()) {
      throw new InvalidConfigException("invalid configuration: " + String.join("; ", errors));
    }
    return c;
  }

  /** parse (if a file is given) → merge with flags → fill → validate. */
  public static EngineConfig load(Path file, EngineConfig flags) throws InvalidConfigException {
    EngineConfig fromFile = file == null ? EngineConfig.empty() : parse(file);
    return validate(fill(merge(fromFile, flags)));
  }

  private static Object get(java.lang.reflect.RecordComponent c, EngineConfig cfg) {
    try {
      return c.getAccessor().invoke(cfg);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static EngineConfig construct(Object[] values) {
    try {
      var comps = EngineConfig.class.getRecordComponents();
      Class<?>[] types = new Class<?>[comps.length];
      for (int i = 0; i < comps.length; i++) {
        types[i] = comps[i].getType();
      }
      return EngineConfig.class.getDeclaredConstructor(types).newInstance(values);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }
}
