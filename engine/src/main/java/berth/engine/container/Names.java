package berth.engine.container;

import berth.engine.errdefs.EngineException;
import java.security.SecureRandom;
import java.util.regex.Pattern;

/** Container names: Docker's validity rule, and generated "adjective_name" names for unnamed containers. */
final class Names {
  private static final Pattern VALID = Pattern.compile("/?[a-zA-Z0-9][a-zA-Z0-9_.-]+");
  private static final String[] LEFT = {"amazing", "brave", "calm", "clever", "eager", "gentle", "happy", "jolly",
      "keen", "lucid", "merry", "nifty", "quirky", "serene", "sharp", "sleepy", "swift", "tender", "vivid", "witty"};
  private static final String[] RIGHT = {"bell", "curie", "darwin", "euler", "faraday", "galois", "hopper", "hypatia",
      "kepler", "lamarr", "lovelace", "meitner", "noether", "pascal", "ritchie", "shannon", "tesla", "turing",
      "volta", "wozniak"};
  private static final SecureRandom RANDOM = new SecureRandom();

  private Names() {}

  /** The name without its leading "/"; INVALID_PARAMETER with dockerd's message when it is not allowed. */
  static String validate(String name) {
    if (!VALID.matcher(name).matches()) {
      throw EngineException.invalid("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
    }
    return name.startsWith("/") ? name.substring(1) : name;
  }

  /** A random name; the caller retries on a collision. */
  static String generate(int attempt) {
    String n = LEFT[RANDOM.nextInt(LEFT.length)] + "_" + RIGHT[RANDOM.nextInt(RIGHT.length)];
    return attempt == 0 ? n : n + RANDOM.nextInt(100);
  }
}
