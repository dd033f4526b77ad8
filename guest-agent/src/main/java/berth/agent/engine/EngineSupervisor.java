package berth.agent.engine;

import berth.engine.Engine;
import berth.engine.config.ConfigLoader;
import berth.engine.config.EngineConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The engine inside the agent's JVM: started once on a data root and socket, asked whether it answers
 * {@code /_ping}, and stopped once. Thread-safe; {@link #stop()} is idempotent.
 */
public final class EngineSupervisor {
  private static final Logger LOG = Logger.getLogger(EngineSupervisor.class.getName());
  private final Path socket;
  private Engine engine;
  private boolean stopped;

  private EngineSupervisor(Path socket, Engine engine) {
    this.socket = socket;
    this.engine = engine;
  }

  /**
   * Starts the engine on {@code dataRoot}, listening on {@code socket} (its parent directory is created),
   * with dockerd's other defaults; live restore stays off, so stopping the engine stops the containers as
   * dockerd does when its host shuts down.
   */
  public static EngineSupervisor start(Path dataRoot, Path socket) throws IOException {
    EngineConfig flags = EngineConfig.of(dataRoot.toString(), List.of("unix://" + socket), Boolean.FALSE);
    EngineConfig config;
    try {
      config = ConfigLoader.load(null, flags);
    } catch (ConfigLoader.InvalidConfigException e) {
      throw new IOException("invalid engine configuration: " + e.getMessage(), e);
    }
    Files.createDirectories(socket.getParent());
    return new EngineSupervisor(socket, Engine.start(config));
  }

  /** The engine's API socket. */
  public Path socket() {
    return socket;
  }

  /** True if the engine answers {@code GET /_ping} with 200 OK within {@code timeout}. Never throws. */
  public boolean ping(Duration timeout) {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      CompletableFuture<String> reply = CompletableFuture.supplyAsync(() -> {
        try {
          ch.connect(UnixDomainSocketAddress.of(socket));
          ch.write(ByteBuffer.wrap("GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII)));
          ByteArrayOutputStream out = new ByteArrayOutputStream();
          ByteBuffer buf = ByteBuffer.allocate(4096);
          while (ch.read(buf) >= 0) {
            out.write(buf.array(), 0, buf.position());
            buf.clear();
          }
          return out.toString(StandardCharsets.US_ASCII);
        } catch (IOException e) {
          return "";
        }
      });
      String r = reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return r.startsWith("HTTP/1.1 200") && r.endsWith("OK");
    } catch (IOException | ExecutionException | TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Waits up to {@code timeout} for the engine to answer {@code /_ping}; false if it never did. */
  public boolean awaitPing(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    do {
      if (ping(Duration.ofSeconds(2))) {
        return true;
      }
      Thread.sleep(100);
    } while (System.nanoTime() < deadline);
    return false;
  }

  /**
   * Stops the engine: no new API requests, running containers stopped (live restore is off), the data root
   * released, then the file systems synced. Idempotent; later calls return at once.
   */
  public synchronized void stop() {
    if (stopped) {
      return;
    }
    stopped = true;
    try {
      engine.close();
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.WARNING, "error while stopping the engine", e);
    }
    engine = null;
    sync();
  }

  private static void sync() {
    try {
      Process p = new ProcessBuilder("sync").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        LOG.warning("sync did not finish within 60 s");
      }
    } catch (IOException e) {
      LOG.warning("could not run sync: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
