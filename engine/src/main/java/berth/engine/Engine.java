package berth.engine;

import berth.engine.api.build.BuildRouter;
import berth.engine.api.containers.ContainersRouter;
import berth.engine.api.events.EventsRouter;
import berth.engine.api.http.ApiServer;
import berth.engine.api.http.RouteTable;
import berth.engine.api.images.ImagesRouter;
import berth.engine.api.networks.NetworksRouter;
import berth.engine.api.system.SystemRouter;
import berth.engine.api.volumes.VolumesRouter;
import berth.engine.network.NetworkService;
import berth.engine.build.Builder;
import berth.engine.config.ConfigLoader;
import berth.engine.config.EngineConfig;
import berth.engine.distribution.Registry;
import berth.engine.distribution.RegistryHosts;
import berth.engine.container.ContainerService;
import berth.engine.container.ContainerStore;
import berth.engine.content.LocalContentStore;
import berth.engine.events.EventBus;
import berth.engine.image.ImageService;
import berth.engine.image.ImageStore;
import berth.engine.layer.OverlayLayerStore;
import berth.engine.runtime.Monitor;
import berth.engine.runtime.OciSpecBuilder;
import berth.engine.runtime.Runc;
import berth.engine.store.DataRoot;
import berth.engine.volume.VolumeService;
import berth.engine.store.EngineLock;
import berth.engine.store.Trees;
import berth.engine.system.SystemService;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.logging.Logger;

/** The running engine: the one class that builds stores → services → routers and starts the API server. */
public final class Engine implements Closeable {
  private static final Logger LOG = Logger.getLogger(Engine.class.getName());

  static {
    // Netty 4.2 emits JFR events for its buffers unless told not to: the first buffer then sets up JFR's event
    // machinery (hundreds of classes, generated handlers), 1.5 s of the guest's start under emulation, memory
    // on any host. Set before any Netty class is loaded; a -D on the command line still wins.
    if (System.getProperty("io.netty.jfr.enabled") == null) {
      System.setProperty("io.netty.jfr.enabled", "false");
    }
    // Unpooled buffers: an engine serves a few connections at a time, and a pool's chunks stay after a load (1.7 MiB
    // more idle memory with 4.2's adaptive allocator, 8 with the pooled one); a 100 MB `docker load` is about 5 %
    // slower (engine/README.md, "Memory and speed").
    if (System.getProperty("io.netty.allocator.type") == null) {
      System.setProperty("io.netty.allocator.type", "unpooled");
    }
  }

  private final EngineLock lock;
  private final ApiServer server;
  private final EventBus events;
  private final ContainerService containers;
  private final String id;

  private Engine(EngineLock lock, ApiServer server, EventBus events, ContainerService containers, String id) {
    this.lock = lock;
    this.server = server;
    this.events = events;
    this.containers = containers;
    this.id = id;
  }

  /** Builds everything on the configured data root and listens on every configured host; certs.d in /etc/berth. */
  public static Engine start(EngineConfig config) throws IOException {
    return start(config, Path.of("/etc/berth/certs.d"));
  }

  /**
   * Builds everything on the configured data root and listens on every configured host; registry CAs are read
   * from {@code certsDir/<host:port>/*.crt}.
   */
  public static Engine start(EngineConfig config, Path certsDir) throws IOException {
    Phases t = new Phases();
    DataRoot root = new DataRoot(Path.of(config.dataRoot()));
    root.create();
    EngineLock lock = EngineLock.acquire(root.lockFile(), root.root());
    ApiServer server = null;
    ContainerService containers = null;
    NetworkService networks = null;
    FutureTask<Void> networkStart = null;
    try {
      t.mark("data root");
      OverlayLayerStore layers = new OverlayLayerStore(root.layers());
      Builder.recover(root.tmp(), layers);
      Trees.deleteContents(root.tmp());
      EventBus events = new EventBus();
      ImageService images = new ImageService(new LocalContentStore(root.content()), layers,
          new ImageStore(root.images()), events);
      images.setRegistry(new Registry(new RegistryHosts(config.insecureRegistries(), config.registryMirrors(), certsDir)),
          config.maxConcurrentDownloads() == null ? 3 : config.maxConcurrentDownloads(),
          config.maxConcurrentUploads() == null ? 5 : config.maxConcurrentUploads());
      t.mark("images");
      Path tini = Path.of("/usr/bin/tini-static");
      ContainerService.Settings run = new ContainerService.Settings(Runc.find(), Monitor.find(),
          Path.of(config.execRoot()), Path.of("/sys/fs/cgroup"), config.logDriver(), config.logOpts(),
          Boolean.TRUE.equals(config.liveRestore()), Files.isExecutable(tini) ? tini : null);
      t.mark("runtime");
      networks = new NetworkService(root.root().resolve("network"), Path.of(config.execRoot()),
          config.defaultAddressPools(), events);
      // The networks come up (bridges, the firewall's processes: seconds in an emulated guest) while the rest of
      // the engine is built; they are joined before anything that attaches a container and before the API listens.
      NetworkService starting = networks;
      networkStart = new FutureTask<>(() -> {
        starting.start();
        return null;
      });
      Thread starter = new Thread(networkStart, "engine-networks");
      starter.setDaemon(true);
      starter.start();
      t.mark("network records");
      VolumeService volumes = new VolumeService(root.volumes(), root.tmp(), events);
      containers = new ContainerService(new ContainerStore(root.containers()), images, layers, events,
          new OciSpecBuilder(OciSpecBuilder.HostFacts.current()), root.containers(), run, networks, volumes);
      t.mark("volumes, containers");
      images.setUsers(containers);
      images.gc(); // whatever a crash left half-made is unreferenced: remove it
      t.mark("gc");
      String id = engineId(root);
      SystemService system = new SystemService(config, id, images, containers, volumes, events);
      RouteTable routes = new RouteTable(List.of(
          new SystemRouter(system),
          new EventsRouter(events, id),
          new ImagesRouter(images),
          new ContainersRouter(containers),
          new NetworksRouter(networks),
          new VolumesRouter(volumes),
          new BuildRouter(new Builder(images, containers, layers, root.tmp(),
              config.buildContextMaxSize() == null ? ConfigLoader.DEFAULT_BUILD_CONTEXT_MAX_SIZE
                  : config.buildContextMaxSize()))));
      server = new ApiServer(routes, ApiServer.standardHeaders(Version.VERSION));
      ApiServer.Tls tls = Boolean.TRUE.equals(config.tlsVerify())
          ? new ApiServer.Tls(Path.of(config.tlsCaCert()), Path.of(config.tlsCert()), Path.of(config.tlsKey())) : null;
      t.mark("routes");
      join(networkStart);
      t.mark("networks up");
      containers.restore();
      t.mark("restore");
      for (String host : config.hosts()) {
        server.listen(host, tls);
        LOG.info("API listening on " + host);
      }
      t.mark("listen");
      LOG.info("started in " + t);
      return new Engine(lock, server, events, containers, id);
    } catch (IOException | RuntimeException e) {
      if (networkStart != null) {
        try {
          join(networkStart); // its processes finish before anything is undone; a failed start undid itself
        } catch (IOException | RuntimeException ignored) {
          // the failure being handled is e (or this one, already thrown)
        }
      }
      if (server != null) {
        server.close();
      }
      if (containers != null) {
        containers.close();
      } else if (networks != null) {
        networks.close();
      }
      lock.close();
      throw e;
    }
  }

  /** Waits for a start step run on its own thread; its failure is thrown as it was thrown there. */
  private static void join(FutureTask<Void> step) throws IOException {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          step.get();
          return;
        } catch (InterruptedException e) {
          interrupted = true; // the step touches the host: it is always waited for
        } catch (ExecutionException e) {
          if (e.getCause() instanceof IOException io) {
            throw io;
          } else if (e.getCause() instanceof RuntimeException re) {
            throw re;
          } else if (e.getCause() instanceof Error err) {
            throw err;
          }
          throw new IOException(e.getCause());
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** How long each step of a start took, for the log: a slow start (an emulated machine's) shows where it went. */
  private static final class Phases {
    private final long start = System.nanoTime();
    private long last = start;
    private final StringBuilder steps = new StringBuilder();

    void mark(String step) {
      long now = System.nanoTime();
      steps.append(steps.length() == 0 ? "" : ", ").append(step).append(' ').append((now - last) / 1_000_000).append(" ms");
      last = now;
    }

    @Override
    public String toString() {
      return (last - start) / 1_000_000 + " ms (" + steps + ")";
    }
  }

  private static String engineId(DataRoot root) throws IOException {
    Path f = root.root().resolve("engine-id");
    if (Files.exists(f)) {
      return Files.readString(f, StandardCharsets.UTF_8).trim();
    }
    String id = UUID.randomUUID().toString();
    berth.engine.store.AtomicFiles.write(f, id.getBytes(StandardCharsets.UTF_8));
    return id;
  }

  public String id() {
    return id;
  }

  public EventBus events() {
    return events;
  }

  /** Stops serving and releases the data root. */
  @Override
  public void close() throws IOException {
    server.close(); // no new requests, then the containers (stopped unless live restore)
    containers.close(); // closes the networks after the containers
    lock.close();
  }
}
