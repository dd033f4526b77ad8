package berth.engine.config;

/** An IPv4 CIDR block such as 172.17.0.0/16. */
public record Cidr(long address, int prefix) {
  /** Parses "a.b.c.d/n"; null when malformed. The address is masked to its network. */
  public static Cidr parse(String s) {
    int slash = s.indexOf('/');
    if (slash < 0) {
      return null;
    }
    long addr = parseIp(s.substring(0, slash));
    int prefix;
    try {
      prefix = Integer.parseInt(s.substring(slash + 1));
    } catch (NumberFormatException e) {
      return null;
    }
    if (addr < 0 || prefix < 0 || prefix > 32) {
      return null;
    }
    long mask = prefix == 0 ? 0 : (0xffffffffL << (32 - prefix)) & 0xffffffffL;
    return new Cidr(addr & mask, prefix);
  }

  /** Parses a dotted IPv4 address into an unsigned 32-bit value, or -1. */
  public static long parseIp(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return -1;
    }
    long v = 0;
    for (String p : parts) {
      if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) {
        return -1;
      }
      int n = Integer.parseInt(p);
      if (n > 255) {
        return -1;
      }
      v = (v << 8) | n;
    }
    return v;
  }

  public boolean contains(long ip) {
    long mask = prefix == 0 ? 0 : (0xffffffffL << (32 - prefix)) & 0xffffffffL;
    return (ip & mask) == address;
  }

  @Override
  public String toString() {
    return ((address >> 24) & 255) + "." + ((address >> 16) & 255) + "." + ((address >> 8) & 255) + "." + (address & 255)
        + "/" + prefix;
  }
}
