package berth.engine.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Reads a real cgroup with a process in it, then removes it and checks the host keeps nothing: the
 * process is a shell that joins the cgroup (cgroup.procs of every controller) and then execs
 * {@code sleep}, so that sleep's memory is charged to the cgroup (v1 does not move charges with a task).
 */
@Tag("root")
class CgroupsIT {
  private static final Path ROOT = Path.of("/sys/fs/cgroup");
  private static final String PARENT = "/berth-it";
  // v1: the controllers the test joins; cpuacct may be the same hierarchy as cpu (cpu,cpuacct)
  private static final List<String> V1_CONTROLLERS = List.of("memory", "cpu", "cpuacct", "pids");

  @BeforeEach
  void requireRoot() {
    RequiresRoot.check();
  }

  @Test
  void readsALiveCgroupThenRemovesEveryDirectory() throws Exception {
    Cgroups cg = new Cgroups();
    String path = PARENT + "/" + UUID.randomUUID().toString().replace("-", "");
    Path rel = Path.of(path.substring(1));
    Process sleep = null;
    try {
      Set<Path> procs = new LinkedHashSet<>();
      if (cg.version() == Cgroups.Version.V1) {
        for (String c : V1_CONTROLLERS) {
          Path dir = Files.createDirectories(ROOT.resolve(c).resolve(rel));
          procs.add(dir.resolve("cgroup.procs").toRealPath());
        }
      } else {
        Path parent = Files.createDirectories(ROOT.resolve(PARENT.substring(1)));
        enableControllers(parent);
        procs.add(Files.createDirectories(ROOT.resolve(rel)).resolve("cgroup.procs"));
      }
      List<String> cmd = new ArrayList<>(List.of("sh", "-c", "for f; do echo $$ > \"$f\"; done; exec sleep 30", "sh"));
      procs.forEach(p -> cmd.add(p.toString()));
      sleep = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      long pid = sleep.pid();
      awaitExec(pid);

      Cgroups.Stats s = cg.read(path, pid);
      assertEquals(1, s.pids().current(), "the sleep alone");
      assertTrue(s.memory().usage() > 0, "memory usage " + s.memory().usage());
      assertTrue(s.memory().limit() > 0);
      assertTrue(s.cpu().systemUsage() > 0);
      assertTrue(s.cpu().onlineCpus() > 0);
      assertFalse(s.memory().stats().isEmpty());
      assertEquals(0, cg.oomKills(path));
      assertTrue(Files.exists(cg.oomFile(path)));
      assertTrue(cg.exists(path));
      if (cg.version() == Cgroups.Version.V1) {
        assertTrue(cg.dirs(path).size() >= 3, cg.dirs(path).toString());
      }

      sleep.destroyForcibly();
      assertTrue(sleep.waitFor(10, TimeUnit.SECONDS));
      // straight after the exit: the kernel may still hold the cgroup busy for a moment
      cg.remove(path);

      assertEquals(List.of(), cg.dirs(path));
      assertFalse(cg.exists(path));
      assertTrue(cg.exists(PARENT), "the parent is kept");
    } finally {
      if (sleep != null) {
        sleep.destroyForcibly();
        sleep.waitFor(10, TimeUnit.SECONDS);
      }
      cg.remove(path);
      cg.remove(PARENT);
    }
    assertFalse(cg.exists(PARENT));
  }

  /** v2: a leaf has memory.* and pids.* files only if its parent delegates those controllers. */
  private static void enableControllers(Path parent) throws IOException {
    try {
      Files.writeString(parent.resolve("cgroup.subtree_control"), "+cpu +memory +pids");
    } catch (IOException e) {
      Files.writeString(ROOT.resolve("cgroup.subtree_control"), "+cpu +memory +pids");
      Files.writeString(parent.resolve("cgroup.subtree_control"), "+cpu +memory +pids");
    }
  }

  /** Waits until the shell has joined the cgroup and become sleep. */
  private static void awaitExec(long pid) throws Exception {
    Path comm = Path.of("/proc", Long.toString(pid), "comm");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!Files.readString(comm).trim().equals("sleep")) {
      assertTrue(System.nanoTime() < deadline, "sh did not exec sleep");
      Thread.sleep(10);
    }
  }
}
