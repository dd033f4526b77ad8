package berth.desktop.cli;

import berth.vm.Machine;
import berth.vm.MachineConfig;
import berth.vm.MachineException;
import berth.vm.MachineState;
import berth.vm.MachineStatus;
import berth.vm.MachineStore;
import berth.vm.Machines;
import berth.vm.driver.Drivers;
import berth.vm.driver.MachineDriver;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code berth}: the Berth machine from the command line. {@code start} boots the machine and leaves a
 * background {@code berth serve} process holding the host's API socket ({@code <home>/run/docker.sock}); the
 * other commands act on the machine and that process.
 */
@Command(name = "berth", mixinStandardHelpOptions = true, version = "Berth 0.1.0",
    description = "Runs Berth's machine: a small Linux VM with the container engine, its API on a host socket.",
    subcommands = {BerthCli.Start.class, BerthCli.Stop.class, BerthCli.Restart.class, BerthCli.Status.class,
        BerthCli.Ssh.class, BerthCli.Logs.class, BerthCli.Delete.class, BerthCli.MachineCmd.class, BerthCli.Serve.class})
public final class BerthCli {
  @Option(names = "--home", description = "Berth's home (default ~/.berth, or $BERTH_HOME)")
  Path home;

  @Option(names = "--image", description = "The guest boot image directory (default $BERTH_IMAGE)")
  Path image;

  @Option(names = {"-n", "--name"}, description = "The machine (default: ${DEFAULT-VALUE})", defaultValue = "default")
  String name;

  /** Held: java.util.logging keeps loggers weakly, and a collected one forgets its level. */
  private static final java.util.logging.Logger SSH_LIBRARY = java.util.logging.Logger.getLogger("org.apache.sshd");

  public static void main(String[] args) {
    if (args.length == 0 || !args[0].equals("serve")) {
      // The SSH library's INFO and WARNING lines (a refused connection while the guest boots, its I/O provider)
      // are for serve's log, not for the terminal of `berth start`: what fails there is told as the command's error.
      SSH_LIBRARY.setLevel(java.util.logging.Level.SEVERE);
    }
    System.exit(commandLine().execute(args));
  }

  /** The command line as main runs it. */
  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new BerthCli());
    cl.setExecutionExceptionHandler((e, c, p) -> {
      c.getErr().println("berth: " + message(e));
      return 1;
    });
    // `berth ssh ls -l`: everything from the command on is the guest's, options included (as `docker run IMAGE ...`)
    cl.getSubcommands().get("ssh").setStopAtPositional(true).setUnmatchedOptionsArePositionalParams(true);
    return cl;
  }

  /** What a failed command says: our own exceptions' messages; a file system error with its file and reason. */
  static String message(Exception e) {
    if (e instanceof java.nio.file.NoSuchFileException f) {
      return f.getFile() + ": no such file or directory";
    } else if (e instanceof java.nio.file.AccessDeniedException f) {
      return f.getFile() + ": permission denied";
    } else if (e instanceof java.nio.file.FileAlreadyExistsException f) {
      return f.getFile() + ": file exists";
    } else if (e instanceof java.nio.file.DirectoryNotEmptyException f) {
      return f.getFile() + ": directory not empty";
    } else if (e instanceof java.nio.file.NotDirectoryException f) {
      return f.getFile() + ": not a directory";
    } else if (e instanceof java.nio.file.FileSystemException f && f.getReason() == null) {
      return f.getFile() + ": " + f.getClass().getSimpleName();
    }
    return e instanceof MachineException || e instanceof IOException ? e.getMessage() : e.toString();
  }

  Path home() {
    if (home != null) {
      return home;
    }
    String env = System.getenv("BERTH_HOME");
    return env != null && !env.isEmpty() ? Path.of(env) : MachineStore.defaultHome();
  }

  Path socket() {
    return home().resolve("run/docker.sock");
  }

  Path serverPid() {
    return new MachineStore(home()).dir(name).path().resolve("serve.pid");
  }

  MachineDriver driver(String driverName) {
    Path img = image != null ? image : Optional.ofNullable(System.getenv("BERTH_IMAGE")).map(Path::of)
        .orElseThrow(() -> new MachineException(MachineException.Kind.INVALID,
            "no guest boot image: give --image DIR or set BERTH_IMAGE"));
    return Drivers.named(driverName == null ? "libvirt" : driverName, img);
  }

  /** An existing machine with its driver (closed with this) and {@link Machines} over both. */
  record Opened(Machine machine, MachineDriver driver, Machines machines) implements AutoCloseable {
    @Override
    public void close() throws IOException {
      driver.close();
    }
  }

  /** Opens the machine {@code --name} (NOT_FOUND if it does not exist) with the driver its config names. */
  Opened open() throws IOException {
    MachineStore store = new MachineStore(home());
    Machine m = store.get(name);
    MachineDriver d = driver(m.config().driver());
    return new Opened(m, d, new Machines(store, d));
  }

  /**
   * The machine's lock (between processes), held until the returned channel is closed: one {@code start}, {@code stop} or {@code delete}
   * acts on a machine at a time; a second one waits, saying so, instead of racing the first.
   */
  java.nio.channels.FileChannel lock(PrintWriter err) throws IOException {
    Path f = home().resolve("locks").resolve(name + ".lock");
    Files.createDirectories(f.getParent());
    java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.WRITE);
    try {
      if (ch.tryLock() == null) {
        err.println("berth: waiting for another berth command on machine \"" + name + "\" to finish");
        err.flush();
        ch.lock();
      }
      return ch; // closing the channel releases the lock
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** The running {@code berth serve} of this machine, if any. */
  Optional<ProcessHandle> server() {
    try {
      return ProcessHandle.of(Long.parseLong(Files.readString(serverPid()).strip())).filter(ProcessHandle::isAlive);
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  void stopServer() throws IOException {
    Optional<ProcessHandle> s = server();
    if (s.isPresent()) {
      s.get().destroy(); // SIGTERM: it closes the forward and removes the socket
      try {
        s.get().onExit().get(20, java.util.concurrent.TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        s.get().destroyForcibly();
        Files.deleteIfExists(socket());
      } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
        throw new IOException("waiting for the socket's server to stop: " + e, e);
      }
    }
    Files.deleteIfExists(serverPid());
  }

  @Command(name = "start", description = "Creates the machine if needed, boots it and serves its API socket.")
  static final class Start implements Callable<Integer> {
    @ParentCommand BerthCli top;
    @Option(names = "--cpus") Integer cpus;
    @Option(names = "--memory", description = "e.g. 2GiB") String memory;
    @Option(names = "--disk", description = "data disk size, e.g. 64GiB (at create)") String disk;
    @Option(names = "--driver", description = "libvirt") String driver;
    @Option(names = "--accel", description = "auto, tcg, kvm, hvf") String accel;
    @Option(names = "--timeout", description = "seconds to wait for the engine (default ${DEFAULT-VALUE})",
        defaultValue = "300") int timeout;
    @Option(names = "--share", paramLabel = "DIR[:GUEST_DIR]", description = "a host directory the containers can "
        + "bind-mount, at the same path in the guest unless GUEST_DIR is given; repeatable; replaces the machine's "
        + "shares (they change only while it is stopped)") List<String> shares;
    @Option(names = "--no-shares", description = "remove the machine's shares (while it is stopped)") boolean noShares;
    @Option(names = "--use-context", description = "make the machine the docker CLI's default (docker context use "
        + DockerContext.NAME + ")") boolean useContext;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = new CommandLine(this).getOut();
      try (var lock = top.lock(new CommandLine(this).getErr());
           MachineDriver d = top.driver(driver)) {
        Machines machines = new Machines(new MachineStore(top.home()), d);
        if (noShares && shares != null) {
          throw new MachineException(MachineException.Kind.INVALID, "--share and --no-shares contradict each other");
        }
        MachineConfig overrides = MachineConfig.EMPTY.withCpus(cpus).withMemory(memory).withDisk(disk).withAccel(accel)
            .withShares(noShares ? List.of() : shares == null ? null : shares.stream().map(Start::share).toList());
        Machine m = machines.createIfMissing(top.name, overrides);
        long t0 = System.nanoTime();
        java.util.function.Consumer<String> progress = line -> out.println("berth: " + line);
        machines.boot(m, progress);
        boolean serving = top.server().isPresent() && Machines.pings(top.socket());
        if (!serving && Files.exists(m.dir().knownHost())) {
          // the socket's server starts while the guest boots (its JVM and SSH login overlap the boot); not on a
          // first boot, whose host key is pinned by the one connection below
          top.stopServer();
          spawnServer();
        }
        try {
          machines.awaitReady(m, Duration.ofSeconds(timeout), progress);
        } catch (IOException | RuntimeException e) {
          top.stopServer();
          throw e;
        }
        if (!serving) {
          if (top.server().isEmpty()) {
            spawnServer();
          }
          long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
          while (!Machines.pings(top.socket())) {
            if (System.nanoTime() > deadline || top.server().isEmpty()) {
              throw new IOException("the API socket " + top.socket() + " did not come up; see "
                  + m.dir().path().resolve("serve.log"));
            }
            Thread.sleep(100);
          }
        }
        out.printf("berth: machine %s is running (%.1f s)%n", m.name(), (System.nanoTime() - t0) / 1e9);
        DockerContext context = new DockerContext("docker");
        boolean haveContext;
        try {
          haveContext = context.ensure(top.socket());
        } catch (IOException e) {
          if (useContext) {
            throw e;
          }
          new CommandLine(this).getErr().println("berth: warning: " + e.getMessage());
          haveContext = false;
        }
        if (useContext && haveContext) {
          context.use();
          out.println("The docker CLI now uses it (docker context \"" + DockerContext.NAME + "\"); or point docker at it with:");
        } else {
          out.println("Point docker at it with:");
        }
        out.println("  export DOCKER_HOST=unix://" + top.socket());
        if (haveContext && !useContext) {
          out.println("or: docker context use " + DockerContext.NAME);
        } else if (useContext && !haveContext) {
          throw new IOException("no docker CLI on the PATH: cannot select a docker context");
        }
        return 0;
      }
    }

    /** {@code DIR} or {@code DIR:GUEST_DIR} (split at the last ":/"), DIR made absolute against the working directory. */
    static MachineConfig.Share share(String arg) {
      int at = arg.lastIndexOf(":/");
      String source = at > 0 ? arg.substring(0, at) : arg;
      String target = at > 0 ? arg.substring(at + 1) : null;
      return new MachineConfig.Share(source.isEmpty() ? source : Path.of(source).toAbsolutePath().normalize().toString(),
          target);
    }

    private void spawnServer() throws IOException {
      ProcessHandle.Info self = ProcessHandle.current().info();
      String java = self.command().orElse("java");
      // C1 only, and this JVM's class-data archive: the server starts while the guest boots, on the same host
      // cores as the guest's emulated CPUs. Its own start then costs the host 1.1 s of CPU instead of 1.9, and
      // its socket answers 0.5 s sooner; the bytes it carries are limited by the guest, not by its JIT.
      List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-Xmx64m", "-XX:TieredStopAtLevel=1",
          "-XX:CICompilerCount=1"));
      cmd.addAll(sharedArchiveOptions(self.arguments().map(List::of).orElse(List.of())));
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), BerthCli.class.getName(), "--home",
          top.home().toString(), "--name", top.name));
      if (top.image != null) {
        cmd.addAll(List.of("--image", top.image.toString()));
      }
      cmd.add("serve");
      Path log = new MachineStore(top.home()).dir(top.name).path().resolve("serve.log");
      Files.writeString(top.serverPid(), detach(cmd, log) + "\n");
    }

    /**
     * The class-data-sharing options among a JVM's arguments ({@code -XX:SharedArchiveFile=...} and
     * {@code -Xlog:cds...}), looked for only before the main class or jar: what follows those is the program's.
     */
    static List<String> sharedArchiveOptions(List<String> jvmArgs) {
      List<String> found = new ArrayList<>();
      for (int i = 0; i < jvmArgs.size(); i++) {
        String a = jvmArgs.get(i);
        if (a.equals("-cp") || a.equals("-classpath") || a.equals("--class-path")) {
          i++; // its value
        } else if (a.equals("-jar") || !a.startsWith("-")) {
          break;
        } else if (a.startsWith("-XX:SharedArchiveFile=") || a.startsWith("-Xlog:cds")) {
          found.add(a);
        }
      }
      return found;
    }

    /**
     * Starts {@code cmd} in the background, output to {@code log}, as a child of a shell that exits at once: the
     * server is then no child of this JVM, whose exit would otherwise wait 0.3 s for the thread blocked in
     * waitpid for it (HotSpot waits for threads in native code before it exits). Returns the server's pid.
     */
    static long detach(List<String> cmd, Path log) throws IOException {
      List<String> sh = new ArrayList<>(List.of("/bin/sh", "-c", "exec 3>\"$0\" || exit 1; \"$@\" </dev/null >&3 2>&3 3>&- & echo $!",
          log.toString()));
      sh.addAll(cmd);
      Process p = new ProcessBuilder(sh).redirectErrorStream(true).start();
      String out;
      try (var in = p.getInputStream()) {
        out = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
      }
      try {
        int rc = p.waitFor();
        if (rc != 0 || !out.matches("[0-9]+")) {
          throw new IOException("could not start the socket's server (" + String.join(" ", cmd) + "): " + out);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting the socket's server", e);
      }
      return Long.parseLong(out);
    }
  }

  @Command(name = "serve", hidden = true, description = "Serves a running machine's API socket (started by start).")
  static final class Serve implements Callable<Integer> {
    @ParentCommand BerthCli top;

    @Override
    public Integer call() throws Exception {
      try (Opened o = top.open()) {
        Machines machines = o.machines();
        Machine m = o.machine();
        // SIGTERM (stop, delete, a new start): interrupt serve, which closes the forward and removes the socket,
        // and let the JVM go once it has; waiting for the main thread itself would deadlock with System.exit
        Thread main = Thread.currentThread();
        java.util.concurrent.CountDownLatch served = new java.util.concurrent.CountDownLatch(1);
        Thread hook = new Thread(() -> {
          main.interrupt();
          try {
            served.await(10, java.util.concurrent.TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        try {
          machines.serve(m, top.socket());
        } catch (java.io.InterruptedIOException e) {
          // stopped by SIGTERM; serve removed the socket
        } finally {
          served.countDown();
        }
        return 0;
      }
    }
  }

  @Command(name = "stop", description = "Stops the machine: its engine stops its containers, then the VM powers off.")
  static final class Stop implements Callable<Integer> {
    @ParentCommand BerthCli top;
    @Option(names = "--grace", description = "seconds before the VM is forced off (default ${DEFAULT-VALUE})",
        defaultValue = "90") int grace;

    @Override
    public Integer call() throws Exception {
      try (var lock = top.lock(new CommandLine(this).getErr()); Opened o = top.open()) {
        top.stopServer();
        o.machines().stop(o.machine(), Duration.ofSeconds(grace));
        new CommandLine(this).getOut().println("berth: machine " + o.machine().name() + " stopped");
        return 0;
      }
    }
  }

  @Command(name = "restart", description = "Stops, then starts the machine.")
  static final class Restart implements Callable<Integer> {
    @ParentCommand BerthCli top;

    @Override
    public Integer call() throws Exception {
      CommandLine cl = commandLine(); // with main's error handling: a failed step says why, without a stack trace
      int rc = cl.execute(argsFor("stop"));
      return rc != 0 ? rc : cl.execute(argsFor("start"));
    }

    private String[] argsFor(String cmd) {
      List<String> a = new ArrayList<>(List.of("--home", top.home().toString(), "--name", top.name));
      if (top.image != null) {
        a.addAll(List.of("--image", top.image.toString()));
      }
      a.add(cmd);
      return a.toArray(String[]::new);
    }
  }

  @Command(name = "status", description = "Prints the machine's status.")
  static final class Status implements Callable<Integer> {
    @ParentCommand BerthCli top;
    @Option(names = "--format", description = "text or json") String format;

    @Override
    public Integer call() throws Exception {
      try (Opened o = top.open()) {
        Machine m = o.machine();
        MachineState s = o.machines().status(m);
        boolean api = s.status() == MachineStatus.RUNNING && Machines.pings(top.socket());
        PrintWriter out = new CommandLine(this).getOut();
        if ("json".equals(format)) {
          out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(java.util.Map.of(
              "name", m.name(), "status", s.status().toString(), "reasons", s.reasons(),
              "socket", top.socket().toString(), "api", api)));
        } else {
          out.println(m.name() + ": " + s + (api ? " (API on " + top.socket() + ")" : ""));
        }
        return 0;
      }
    }
  }

  @Command(name = "ssh", description = "Runs a command in the machine, or a shell without one (OpenSSH's ssh).")
  static final class Ssh implements Callable<Integer> {
    @ParentCommand BerthCli top;
    @CommandLine.Parameters(arity = "0..*") List<String> command = List.of();

    @Override
    public Integer call() throws Exception {
      try (Opened o = top.open()) {
        Machine m = o.machine();
        var e = o.driver().sshEndpoint(m);
        Path known = m.dir().path().resolve("known_hosts.openssh");
        // the pinned host key, in the form OpenSSH reads
        Files.writeString(known, "[" + e.host() + "]:" + e.port() + " "
            + Files.readString(m.dir().knownHost(), StandardCharsets.US_ASCII).strip() + "\n");
        List<String> cmd = new ArrayList<>(List.of("ssh", "-q", "-i", m.dir().sshKey().toString(), "-p",
            Integer.toString(e.port()), "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + known,
            "-o", "StrictHostKeyChecking=yes", "root@" + e.host()));
        if (!command.isEmpty()) {
          cmd.add("--");
          cmd.addAll(command);
        }
        return new ProcessBuilder(cmd).inheritIO().start().waitFor();
      }
    }
  }

  @Command(name = "logs", description = "Prints the machine's console log (the guest's boot and agent).")
  static final class Logs implements Callable<Integer> {
    @ParentCommand BerthCli top;

    @Override
    public Integer call() throws Exception {
      try (Opened o = top.open()) {
        Path log = o.driver().consoleLog(o.machine());
        if (Files.exists(log)) {
          System.out.write(Files.readAllBytes(log));
          System.out.flush();
        }
        return 0;
      }
    }
  }

  @Command(name = "delete", description = "Deletes the machine: VM, data disk (images, containers, volumes) and keys.")
  static final class Delete implements Callable<Integer> {
    @ParentCommand BerthCli top;

    @Override
    public Integer call() throws Exception {
      try (var lock = top.lock(new CommandLine(this).getErr()); Opened o = top.open()) {
        top.stopServer();
        o.machines().delete(top.name);
        new CommandLine(this).getOut().println("berth: machine " + top.name + " deleted");
        return 0;
      }
    }
  }

  @Command(name = "machine", description = "Machines.", subcommands = MachineCmd.Ls.class)
  static final class MachineCmd {
    @ParentCommand BerthCli top;

    @Command(name = "ls", description = "Lists the machines and their status.")
    static final class Ls implements Callable<Integer> {
      @ParentCommand MachineCmd parent;

      @Override
      public Integer call() throws Exception {
        BerthCli top = parent.top;
        MachineStore store = new MachineStore(top.home());
        PrintWriter out = new CommandLine(this).getOut();
        out.printf("%-20s %-10s %s%n", "NAME", "DRIVER", "STATUS");
        for (String n : store.names()) {
          Machine m = store.get(n);
          try (MachineDriver d = top.driver(m.config().driver())) {
            out.printf("%-20s %-10s %s%n", n, m.config().driver(), d.status(m));
          }
        }
        return 0;
      }
    }
  }
}
