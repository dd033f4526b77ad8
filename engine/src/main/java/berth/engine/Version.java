package berth.engine;

/** Berth's version, read from the jar manifest where there is one. */
public final class Version {
  public static final String VERSION = orElse(Version.class.getPackage().getImplementationVersion(), "0.1.0-dev");
  public static final String GIT_COMMIT = orElse(System.getProperty("berth.commit"), "unknown");
  public static final String BUILD_TIME = orElse(System.getProperty("berth.buildTime"), "");

  private Version() {}

  private static String orElse(String v, String dflt) {
    return v == null || v.isEmpty() ? dflt : v;
  }
}
