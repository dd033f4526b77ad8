package berth.engine;

/**
 * A command line read one flag at a time, as dockerd's flags are written: {@code --name value},
 * {@code --name=value}, and switches that may carry {@code =true} or {@code =false}. The engine's and the guest
 * agent's mains read theirs with it (no picocli: see EngineMain).
 */
public final class Flags {
  private final String[] args;
  private int next;
  private String name;
  private String inline;

  public Flags(String... args) {
    this.args = args;
  }

  /** Moves to the next argument; false when there is none. */
  public boolean next() {
    if (next >= args.length) {
      return false;
    }
    String a = args[next++];
    int eq = a.indexOf('=');
    boolean withValue = a.startsWith("-") && eq > 0;
    name = withValue ? a.substring(0, eq) : a;
    inline = withValue ? a.substring(eq + 1) : null;
    return true;
  }

  /** The current argument, or what precedes its '=' when it is a flag written with one. */
  public String name() {
    return name;
  }

  /** The current flag's value: what follows its '=', else the next argument (consumed); null when neither. */
  public String value() {
    if (inline != null) {
      return inline;
    }
    return next < args.length ? args[next++] : null;
  }

  /** A switch: true unless written {@code =false}; null when its '=' carries something else. */
  public Boolean on() {
    if (inline == null || inline.equalsIgnoreCase("true")) {
      return Boolean.TRUE;
    }
    return inline.equalsIgnoreCase("false") ? Boolean.FALSE : null;
  }

  /** What a switch was written with after its '=' (for a message), or null. */
  public String inline() {
    return inline;
  }
}
