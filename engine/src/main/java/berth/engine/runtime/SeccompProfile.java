package berth.engine.runtime;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A seccomp profile in Docker's format ({@code --security-opt seccomp=<file>}, the CLI sends the file's
 * content): rules that carry {@code includes}/{@code excludes} conditions on capabilities, architecture
 * and kernel version, and {@code archMap} or {@code architectures}. {@link #resolve} turns it into the
 * {@link OciSpec.Seccomp} runc loads, as moby's {@code profiles/seccomp.setupSeccomp} does.
 *
 * <p>{@link #builtin()} is Berth's default profile, {@code seccomp-default.json} next to this class:
 * deny by default with EPERM and allow what ordinary programs need, following the rules Docker
 * documents (https://docs.docker.com/engine/security/seccomp/). Immutable and thread-safe.
 */
public final class SeccompProfile {
  private static final ObjectMapper JSON = new ObjectMapper()
      .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  private static final Set<String> ACTIONS = Set.of("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
      "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY");
  private static final Set<String> OPS = Set.of("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
      "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ");
  /** Go's GOARCH names (which profiles use in includes/excludes) to libseccomp's. */
  private static final Map<String, String> NATIVE = Map.of(
      "amd64", "SCMP_ARCH_X86_64", "386", "SCMP_ARCH_X86", "arm64", "SCMP_ARCH_AARCH64", "arm", "SCMP_ARCH_ARM",
      "ppc64le", "SCMP_ARCH_PPC64LE", "s390x", "SCMP_ARCH_S390X", "riscv64", "SCMP_ARCH_RISCV64");
  private static final String RESOURCE = "seccomp-default.json";
  private static volatile SeccompProfile builtin;

  private final Profile profile;

  private SeccompProfile(Profile profile) {
    this.profile = profile;
  }

  /** Berth's default profile, parsed once. */
  public static SeccompProfile builtin() {
    SeccompProfile p = builtin;
    if (p == null) {
      try (InputStream in = SeccompProfile.class.getResourceAsStream(RESOURCE)) {
        if (in == null) {
          throw new IllegalStateException("resource " + RESOURCE + " is missing");
        }
        p = parse(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      builtin = p;
    }
    return p;
  }

  /**
   * Parses and checks a profile in Docker's format.
   *
   * @throws EngineException INVALID_PARAMETER "Decoding seccomp profile failed: …" if it is not one
   */
  public static SeccompProfile parse(String json) {
    Profile p;
    try {
      p = JSON.readValue(json, Profile.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw EngineException.invalid("Decoding seccomp profile failed: %s", e.getOriginalMessage());
    }
    if (p == null) {
      throw EngineException.invalid("Decoding seccomp profile failed: empty profile");
    }
    List<String> errs = new ArrayList<>();
    if (p.architectures() != null && !p.architectures().isEmpty() && p.archMap() != null && !p.archMap().isEmpty()) {
      errs.add("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures'"
          + " or 'archMap'");
    }
    if (p.defaultAction() != null && !p.defaultAction().isEmpty() && !ACTIONS.contains(p.defaultAction())) {
      errs.add("unknown seccomp action \"" + p.defaultAction() + "\"");
    }
    for (Rule r : p.syscalls() == null ? List.<Rule>of() : p.syscalls()) {
      if (r.name() != null && !r.name().isEmpty() && r.names() != null && !r.names().isEmpty()) {
        errs.add("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
      }
      if (!ACTIONS.contains(r.action())) {
        errs.add("unknown seccomp action \"" + r.action() + "\"");
      }
      for (Arg a : r.args() == null ? List.<Arg>of() : r.args()) {
        if (!OPS.contains(a.op())) {
          errs.add("unknown seccomp operator \"" + a.op() + "\"");
        }
        for (BigInteger v : new BigInteger[] {a.value(), a.valueTwo()}) {
          if (v != null && (v.signum() < 0 || v.bitLength() > 64)) {
            errs.add("seccomp argument value " + v + " is not an unsigned 64-bit number");
          }
        }
      }
      for (Filter f : new Filter[] {r.includes(), r.excludes()}) {
        if (f != null && f.minKernel() != null && kernel(f.minKernel()) == null) {
          errs.add("invalid kernel version: " + f.minKernel() + ", expected \"<kernel>.<major>\"");
        }
      }
    }
    if (!errs.isEmpty()) {
      throw EngineException.invalid("Decoding seccomp profile failed: %s", String.join("\n", errs));
    }
    return new SeccompProfile(p);
  }

  /**
   * The filter for a container whose bounding set is {@code capabilities}, on a kernel whose release is
   * {@code kernelVersion} (e.g. "6.1.0-18-amd64"), for Go architecture {@code goArch} (e.g. "amd64").
   * Returns null for a profile with no default action and no rules, which Docker reads as "no seccomp".
   */
  public OciSpec.Seccomp resolve(List<String> capabilities, String kernelVersion, String goArch) {
    if ((profile.defaultAction() == null || profile.defaultAction().isEmpty()) && nullToEmpty(profile.syscalls())
        .isEmpty()) {
      return null;
    }
    List<String> arches = new ArrayList<>(nullToEmpty(profile.architectures()));
    for (ArchMap m : nullToEmpty(profile.archMap())) {
      if (m.architecture().equals(NATIVE.get(goArch))) {
        arches.add(m.architecture());
        arches.addAll(nullToEmpty(m.subArchitectures()));
      }
    }
    int[] kernel = kernel(kernelVersion);
    List<OciSpec.Syscall> rules = new ArrayList<>();
    for (Rule r : nullToEmpty(profile.syscalls())) {
      if (applies(r, capabilities, kernel, goArch)) {
        List<String> names = r.name() != null && !r.name().isEmpty() ? List.of(r.name()) : r.names();
        List<OciSpec.Arg> args = nullToEmpty(r.args()).stream()
            .map(a -> new OciSpec.Arg(a.index(), u64(a.value()), a.valueTwo() == null || a.valueTwo().signum() == 0
                ? null : u64(a.valueTwo()), a.op()))
            .toList();
        rules.add(new OciSpec.Syscall(names, r.action(), r.errnoRet(), args.isEmpty() ? null : args));
      }
    }
    return new OciSpec.Seccomp(profile.defaultAction(), profile.defaultErrnoRet(), arches.isEmpty() ? null : arches,
        profile.flags(), rules);
  }

  private static boolean applies(Rule r, List<String> caps, int[] kernel, String arch) {
    Filter ex = r.excludes();
    if (ex != null) {
      if (nullToEmpty(ex.arches()).contains(arch) || nullToEmpty(ex.caps()).stream().anyMatch(caps::contains)) {
        return false;
      }
      if (ex.minKernel() != null && atLeast(kernel, kernel(ex.minKernel()))) {
        return false;
      }
    }
    Filter in = r.includes();
    if (in != null) {
      if (!nullToEmpty(in.arches()).isEmpty() && !in.arches().contains(arch)) {
        return false;
      }
      if (!caps.containsAll(nullToEmpty(in.caps()))) {
        return false;
      }
      if (in.minKernel() != null && !atLeast(kernel, kernel(in.minKernel()))) {
        return false;
      }
    }
    return true;
  }

  private static boolean atLeast(int[] have, int[] want) {
    if (have == null) {
      return false; // an unreadable kernel version meets no minimum
    }
    return have[0] != want[0] ? have[0] > want[0] : have[1] >= want[1];
  }

  /** "major.minor" from a kernel release string, or null. */
  private static int[] kernel(String release) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)").matcher(release == null ? ""
        : release);
    return m.find() ? new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))} : null;
  }

  private static long u64(BigInteger v) {
    return v == null ? 0 : v.longValue(); // the low 64 bits: the unsigned value in a long
  }

  private static <T> List<T> nullToEmpty(List<T> l) {
    return l == null ? List.of() : l;
  }

  // Docker's profile format (moby/profiles seccomp.Seccomp). Field names are the JSON keys.
  private record Profile(String defaultAction, Integer defaultErrnoRet, List<String> architectures,
      List<ArchMap> archMap, List<Rule> syscalls, List<String> flags) {}

  private record ArchMap(String architecture, List<String> subArchitectures) {}

  private record Rule(String name, List<String> names, String action, Integer errnoRet, List<Arg> args,
      String comment, Filter includes, Filter excludes) {}

  private record Arg(int index, BigInteger value, BigInteger valueTwo, String op) {}

  private record Filter(List<String> caps, List<String> arches, String minKernel) {}
}
