package berth.engine.network;

/** Dotted IPv4 text and the MAC address Docker derives from an endpoint's IPv4 address (02:42 + its bytes). */
final class NetworkAddresses {
  private NetworkAddresses() {}

  static String ip(long a) {
    return ((a >> 24) & 255) + "." + ((a >> 16) & 255) + "." + ((a >> 8) & 255) + "." + (a & 255);
  }

  static String mac(long a) {
    return String.format("02:42:%02x:%02x:%02x:%02x", (a >> 24) & 255, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  }

  static boolean validMac(String m) {
    return m.matches("(?i)[0-9a-f]{2}(:[0-9a-f]{2}){5}");
  }
}
