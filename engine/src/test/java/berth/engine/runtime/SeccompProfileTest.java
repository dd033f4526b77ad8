package berth.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class SeccompProfileTest {
  private static final List<String> DEFAULT_CAPS = OciSpecBuilder.DEFAULT_CAPABILITIES;

  private static OciSpec.Seccomp builtin(List<String> caps, String kernel) {
    return SeccompProfile.builtin().resolve(caps, kernel, "amd64");
  }

  /** Names an ALLOW rule without argument conditions lets through. */
  private static Set<String> allowed(OciSpec.Seccomp s) {
    Set<String> out = new HashSet<>();
    for (OciSpec.Syscall r : s.syscalls()) {
      if (r.action().equals("SCMP_ACT_ALLOW") && r.args() == null) {
        out.addAll(r.names());
      }
    }
    return out;
  }

  /** Every name any rule mentions, whatever its action or conditions. */
  private static Set<String> mentioned(OciSpec.Seccomp s) {
    Set<String> out = new HashSet<>();
    s.syscalls().forEach(r -> out.addAll(r.names()));
    return out;
  }

  private static List<OciSpec.Syscall> rulesFor(OciSpec.Seccomp s, String name) {
    return s.syscalls().stream().filter(r -> r.names().contains(name)).toList();
  }

  @Test
  void theResourceHasTheShapeOfADockerProfile() throws Exception {
    JsonNode p;
    try (InputStream in = SeccompProfile.class.getResourceAsStream("seccomp-default.json")) {
      p = new ObjectMapper().readTree(in);
    }
    assertEquals("SCMP_ACT_ERRNO", p.get("defaultAction").asText());
    assertEquals(1, p.get("defaultErrnoRet").asInt());
    assertEquals("SCMP_ARCH_X86_64", p.get("archMap").get(0).get("architecture").asText());
    assertTrue(p.get("syscalls").isArray() && p.get("syscalls").size() > 10);
    Set<String> actions = Set.of("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO");
    for (JsonNode r : p.get("syscalls")) {
      assertTrue(r.get("names").isArray() && r.get("names").size() > 0, r.toString());
      r.get("names").forEach(n -> assertTrue(n.asText().matches("[_a-z0-9]+"), n.asText()));
      assertTrue(actions.contains(r.get("action").asText()), r.toString());
      assertTrue(r.hasNonNull("comment") && !r.get("comment").asText().isBlank(), "every group names its source");
    }
  }

  @Test
  void resolvesToAnOciFilterForX86() {
    OciSpec.Seccomp s = builtin(DEFAULT_CAPS, "6.1.0-18-amd64");
    assertEquals("SCMP_ACT_ERRNO", s.defaultAction());
    assertEquals(1, s.defaultErrnoRet());
    assertEquals(List.of("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"), s.architectures());
    for (OciSpec.Syscall r : s.syscalls()) {
      assertFalse(r.names().isEmpty());
      assertTrue(Set.of("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO").contains(r.action()));
    }
  }

  @Test
  void allowsWhatOrdinaryProgramsUse() {
    Set<String> ok = allowed(builtin(DEFAULT_CAPS, "6.1.0"));
    for (String name : List.of("read", "write", "openat", "open", "close", "execve", "execveat", "futex", "mmap",
        "munmap", "mprotect", "brk", "epoll_wait", "epoll_pwait", "epoll_ctl", "exit", "exit_group", "wait4",
        "rt_sigaction", "rt_sigreturn", "newfstatat", "statx", "getdents64", "fork", "vfork", "pipe2", "dup3",
        "connect", "accept4", "bind", "listen", "sendmsg", "recvmsg", "setsockopt", "getrandom", "clock_gettime",
        "nanosleep", "prctl", "arch_prctl", "set_tid_address", "set_robust_list", "rseq", "prlimit64", "ioctl",
        "name_to_handle_at", "setuid", "setgid", "setgroups", "capset", "chroot", "fchownat", "mknodat",
        "seccomp", "memfd_create", "copy_file_range", "sendfile", "pidfd_open", "close_range", "faccessat2",
        "ptrace", "process_vm_readv", "_llseek", "socketcall", "mmap2", "fstat64")) {
      assertTrue(ok.contains(name), name + " should be allowed");
    }
  }

  @Test
  void deniesTheDangerousOnes() {
    OciSpec.Seccomp s = builtin(DEFAULT_CAPS, "6.1.0");
    Set<String> ok = allowed(s);
    Set<String> any = mentioned(s);
    for (String name : List.of("add_key", "keyctl", "request_key", "bpf", "kexec_load", "kexec_file_load",
        "init_module", "finit_module", "delete_module", "mount", "umount2", "unshare", "setns", "reboot", "swapon",
        "swapoff", "acct", "pivot_root", "open_by_handle_at", "perf_event_open", "userfaultfd", "vm86", "vm86old",
        "iopl", "ioperm", "quotactl", "syslog", "lookup_dcookie", "settimeofday", "clock_settime", "sethostname",
        "setdomainname", "io_uring_setup", "fsopen", "move_mount", "open_tree", "kcmp", "mbind")) {
      assertFalse(any.contains(name), name + " should fall to the default action (EPERM)");
    }
    assertFalse(ok.contains("clone3"));
    OciSpec.Syscall clone3 = rulesFor(s, "clone3").get(0);
    assertEquals("SCMP_ACT_ERRNO", clone3.action());
    assertEquals(38, clone3.errnoRet(), "ENOSYS, so glibc falls back to clone");
  }

  @Test
  void cloneIsAllowedOnlyWithoutNamespaceFlags() {
    OciSpec.Seccomp s = builtin(DEFAULT_CAPS, "6.1.0");
    List<OciSpec.Syscall> clone = rulesFor(s, "clone");
    assertEquals(1, clone.size());
    assertEquals(List.of(new OciSpec.Arg(0, 0x7E020000L, null, "SCMP_CMP_MASKED_EQ")), clone.get(0).args());
  }

  @Test
  void personalityOnlyWithKnownPersonas() {
    OciSpec.Seccomp s = builtin(DEFAULT_CAPS, "6.1.0");
    List<Long> values = new ArrayList<>();
    for (OciSpec.Syscall r : rulesFor(s, "personality")) {
      assertEquals(1, r.args().size());
      assertEquals("SCMP_CMP_EQ", r.args().get(0).op());
      values.add(r.args().get(0).value());
    }
    assertEquals(List.of(0L, 8L, 0x20000L, 0x20008L, 0xffffffffL), values);
  }

  @Test
  void socketIsAllowedExceptVsock() {
    List<OciSpec.Syscall> socket = rulesFor(builtin(DEFAULT_CAPS, "6.1.0"), "socket");
    assertEquals(List.of(new OciSpec.Arg(0, 40, null, "SCMP_CMP_NE")), socket.get(0).args());
  }

  @Test
  void capSysAdminOpensMountUnshareAndClone3() {
    List<String> caps = Stream.concat(DEFAULT_CAPS.stream(), Stream.of("CAP_SYS_ADMIN")).toList();
    OciSpec.Seccomp s = builtin(caps, "6.1.0");
    Set<String> ok = allowed(s);
    for (String name : List.of("mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf", "sethostname")) {
      assertTrue(ok.contains(name), name);
    }
    assertTrue(rulesFor(s, "clone3").stream().noneMatch(r -> r.action().equals("SCMP_ACT_ERRNO")));
    assertFalse(ok.contains("kexec_load"));
    assertFalse(ok.contains("keyctl"));
  }

  @Test
  void ptraceNeedsKernel48OrCapSysPtrace() {
    assertFalse(allowed(builtin(DEFAULT_CAPS, "4.4.0-210-generic")).contains("ptrace"));
    assertTrue(allowed(builtin(DEFAULT_CAPS, "4.8.0")).contains("ptrace"));
    List<String> caps = Stream.concat(DEFAULT_CAPS.stream(), Stream.of("CAP_SYS_PTRACE")).toList();
    assertTrue(allowed(builtin(caps, "4.4.0")).contains("ptrace"));
    assertTrue(allowed(builtin(caps, "4.4.0")).contains("kcmp"));
  }

  @Test
  void aCustomProfileInDockersFormat() {
    SeccompProfile p = SeccompProfile.parse("""
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
         "syscalls": [
           {"name": "chmod", "action": "SCMP_ACT_ERRNO"},
           {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
           {"names": ["getcwd"], "action": "SCMP_ACT_KILL", "includes": {"arches": ["arm64"]}},
           {"names": ["write"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_NE"}]}],
         "unknownField": 1}
        """);
    OciSpec.Seccomp s = p.resolve(DEFAULT_CAPS, "6.1", "amd64");
    assertEquals("SCMP_ACT_ALLOW", s.defaultAction());
    assertEquals(List.of("SCMP_ARCH_X86_64"), s.architectures());
    assertEquals(3, s.syscalls().size());
    assertEquals(List.of("chmod"), s.syscalls().get(0).names());
    assertEquals(13, s.syscalls().get(1).errnoRet());
    assertEquals(-1L, s.syscalls().get(2).args().get(0).value(), "uint64 max kept bit for bit");
  }

  @Test
  void anEmptyProfileMeansNoFilter() {
    assertNull(SeccompProfile.parse("{}").resolve(DEFAULT_CAPS, "6.1", "amd64"));
  }

  @Test
  void badProfilesAreInvalidParameters() {
    EngineException e = assertThrows(EngineException.class, () -> SeccompProfile.parse("{not json"));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertTrue(e.getMessage().startsWith("Decoding seccomp profile failed: "), e.getMessage());

    e = assertThrows(EngineException.class, () -> SeccompProfile.parse("""
        {"defaultAction": "SCMP_ACT_NOPE", "architectures": ["SCMP_ARCH_X86_64"],
         "archMap": [{"architecture": "SCMP_ARCH_X86_64"}],
         "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"},
                      {"names": ["c"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "LT"}],
                       "includes": {"minKernel": "four"}}]}
        """));
    assertEquals("""
        Decoding seccomp profile failed: both 'architectures' and 'archMap' are specified in the seccomp profile, \
        use either 'architectures' or 'archMap'
        unknown seccomp action "SCMP_ACT_NOPE"
        'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'
        unknown seccomp operator "LT"
        invalid kernel version: four, expected "<kernel>.<major>\"""", e.getMessage());
  }
}
