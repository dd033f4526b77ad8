package berth.engine.sys;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Facts about the machine the engine runs on, read from /proc, /sys and /etc. */
public final class Host {
  private Host() {}

  public static String kernelVersion() {
    return read("/proc/sys/kernel/osrelease", System.getProperty("os.version"));
  }

  public static String hostname() {
    return read("/proc/sys/kernel/hostname", "localhost");
  }

  /** PRETTY_NAME of /etc/os-release, e.g. "Debian GNU/Linux 12 (bookworm)". */
  public static String operatingSystem() {
    return osRelease("PRETTY_NAME", "Linux");
  }

  public static String osVersion() {
    return osRelease("VERSION_ID", "");
  }

  private static String osRelease(String key, String dflt) {
    try {
      for (String line : Files.readAllLines(Path.of("/etc/os-release"), StandardCharsets.UTF_8)) {
        if (line.startsWith(key + "=")) {
          return line.substring(key.length() + 1).replace("\"", "");
        }
      }
    } catch (IOException e) {
      // fall back below
    }
    return dflt;
  }

  /** Total memory in bytes, from /proc/meminfo. */
  public static long memTotal() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      // fall back below
    }
    return Runtime.getRuntime().maxMemory();
  }

  /** "2" on a unified cgroup v2 hierarchy, "1" on v1 or hybrid hosts. */
  public static String cgroupVersion() {
    return Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers")) ? "2" : "1";
  }

  public static boolean ipv4Forwarding() {
    return read("/proc/sys/net/ipv4/ip_forward", "0").equals("1");
  }

  public static boolean bridgeNfIptables() {
    return read("/proc/sys/net/bridge/bridge-nf-call-iptables", "0").equals("1");
  }

  /** Open file descriptors of this process. */
  public static int openFds() {
    String[] fds = new java.io.File("/proc/self/fd").list();
    return fds == null ? 0 : fds.length;
  }

  /** The process ID of this JVM. */
  public static long pid() {
    return ProcessHandle.current().pid();
  }

  /** The first line of a /proc or /sys file; Files.readString can cut such files short on JDK 17. */
  private static String read(String path, String dflt) {
    try {
      var lines = Files.readAllLines(Path.of(path), StandardCharsets.UTF_8);
      return lines.isEmpty() ? dflt : lines.get(0).trim();
    } catch (IOException e) {
      return dflt;
    }
  }
}
