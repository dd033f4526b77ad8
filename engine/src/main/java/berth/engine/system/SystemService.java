package berth.engine.system;

import berth.engine.Version;
import berth.engine.api.http.ApiVersion;
import berth.engine.api.system.SystemBackend;
import berth.engine.api.types.DiskUsage;
import berth.engine.api.types.Filters;
import berth.engine.api.types.ImageSummary;
import berth.engine.api.types.SystemVersion;
import berth.engine.config.EngineConfig;
import berth.engine.container.ContainerService;
import berth.engine.events.EventBus;
import berth.engine.image.ImageService;
import berth.engine.sys.Host;
import berth.engine.volume.VolumeService;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Engine-wide facts: version, info and disk usage, computed from the services and the host. */
public final class SystemService implements SystemBackend {
  private final EngineConfig config;
  private final String engineId;
  private final ImageService images;
  private final ContainerService containers;
  private final EventBus events;
  private final VolumeService volumes;

  public SystemService(EngineConfig config, String engineId, ImageService images, ContainerService containers,
      VolumeService volumes, EventBus events) {
    this.config = config;
    this.volumes = volumes;
    this.engineId = engineId;
    this.images = images;
    this.containers = containers;
    this.events = events;
  }

  @Override
  public SystemVersion version() {
    Map<String, String> details = new LinkedHashMap<>();
    details.put("ApiVersion", ApiVersion.CURRENT.toString());
    details.put("MinAPIVersion", ApiVersion.MIN.toString());
    details.put("GitCommit", Version.GIT_COMMIT);
    details.put("GoVersion", "java" + Runtime.version().feature());
    details.put("Os", "linux");
    details.put("Arch", "amd64");
    details.put("KernelVersion", Host.kernelVersion());
    details.put("BuildTime", Version.BUILD_TIME);
    details.put("Experimental", "false");
    return new SystemVersion(Map.of("Name", "Berth Engine"),
        List.of(new SystemVersion.Component("Engine", Version.VERSION, details)),
        Version.VERSION, ApiVersion.CURRENT.toString(), ApiVersion.MIN.toString(), Version.GIT_COMMIT,
        "java" + Runtime.version().feature(), "linux", "amd64", Host.kernelVersion(), Version.BUILD_TIME);
  }

  @Override
  public Map<String, Object> info() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("ID", engineId);
    int[] counts = containers.counts();
    m.put("Containers", counts[0] + counts[1] + counts[2]);
    m.put("ContainersRunning", counts[0]);
    m.put("ContainersPaused", counts[1]);
    m.put("ContainersStopped", counts[2]);
    m.put("Images", images.count());
    m.put("Driver", "overlay2");
    m.put("DriverStatus", List.of(List.of("Backing Filesystem", "extfs"), List.of("Supports d_type", "true"),
        List.of("Using metacopy", "false"), List.of("Native Overlay Diff", "true"), List.of("userxattr", "false")));
    m.put("Plugins", Map.of("Volume", List.of("local"), "Network", List.of("bridge", "host", "null"),
        "Authorization", List.of(), "Log", List.of("json-file", "local", "none")));
    m.put("MemoryLimit", true);
    m.put("SwapLimit", true);
    m.put("CpuCfsPeriod", true);
    m.put("CpuCfsQuota", true);
    m.put("CPUShares", true);
    m.put("CPUSet", true);
    m.put("PidsLimit", true);
    m.put("IPv4Forwarding", Host.ipv4Forwarding());
    m.put("BridgeNfIptables", Host.bridgeNfIptables());
    m.put("BridgeNfIp6tables", false);
    m.put("Debug", Boolean.TRUE.equals(config.debug()));
    m.put("NFd", Host.openFds());
    m.put("OomKillDisable", false);
    m.put("NGoroutines", Thread.activeCount());
    m.put("SystemTime", OffsetDateTime.now().toString());
    m.put("LoggingDriver", config.logDriver());
    m.put("CgroupDriver", "cgroupfs");
    m.put("CgroupVersion", Host.cgroupVersion());
    m.put("NEventsListener", events.listeners());
    m.put("KernelVersion", Host.kernelVersion());
    m.put("OperatingSystem", Host.operatingSystem());
    m.put("OSVersion", Host.osVersion());
    m.put("OSType", "linux");
    m.put("Architecture", "x86_64");
    m.put("IndexServerAddress", "https://index.docker.io/v1/");
    m.put("RegistryConfig", registryConfig());
    m.put("NCPU", Runtime.getRuntime().availableProcessors());
    m.put("MemTotal", Host.memTotal());
    m.put("GenericResources", null);
    m.put("DockerRootDir", config.dataRoot());
    m.put("HttpProxy", env("HTTP_PROXY"));
    m.put("HttpsProxy", env("HTTPS_PROXY"));
    m.put("NoProxy", env("NO_PROXY"));
    m.put("Name", Host.hostname());
    m.put("Labels", List.of());
    m.put("ExperimentalBuild", false);
    m.put("ServerVersion", Version.VERSION);
    m.put("Runtimes", Map.of("runc", Map.of("path", "runc")));
    m.put("DefaultRuntime", "runc");
    Map<String, Object> swarm = new LinkedHashMap<>();
    swarm.put("NodeID", "");
    swarm.put("NodeAddr", "");
    swarm.put("LocalNodeState", "inactive");
    swarm.put("ControlAvailable", false);
    swarm.put("Error", "");
    swarm.put("RemoteManagers", null);
    m.put("Swarm", swarm);
    m.put("LiveRestoreEnabled", Boolean.TRUE.equals(config.liveRestore()));
    m.put("Isolation", "");
    m.put("InitBinary", "");
    m.put("ContainerdCommit", Map.of("ID", ""));
    m.put("RuncCommit", Map.of("ID", ""));
    m.put("InitCommit", Map.of("ID", ""));
    m.put("SecurityOptions", List.of("name=seccomp,profile=builtin", "name=cgroupns"));
    m.put("CDISpecDirs", List.of());
    m.put("Warnings", null);
    return m;
  }

  private Map<String, Object> registryConfig() {
    List<String> cidrs = new ArrayList<>(List.of("::1/128", "127.0.0.0/8"));
    Map<String, Object> indexConfigs = new LinkedHashMap<>();
    indexConfigs.put("docker.io", Map.of("Name", "docker.io", "Mirrors", config.registryMirrors(), "Secure", true,
        "Official", true));
    for (String r : config.insecureRegistries()) {
      if (r.contains("/")) {
        cidrs.add(r);
      } else {
        indexConfigs.put(r, Map.of("Name", r, "Mirrors", List.of(), "Secure", false, "Official", false));
      }
    }
    Map<String, Object> rc = new LinkedHashMap<>();
    rc.put("AllowNondistributableArtifactsCIDRs", null);
    rc.put("AllowNondistributableArtifactsHostnames", null);
    rc.put("InsecureRegistryCIDRs", cidrs);
    rc.put("IndexConfigs", indexConfigs);
    rc.put("Mirrors", config.registryMirrors());
    return rc;
  }

  private static String env(String name) {
    String v = System.getenv(name);
    if (v == null) {
      v = System.getenv(name.toLowerCase());
    }
    return v == null ? "" : v;
  }

  @Override
  public DiskUsage diskUsage(Set<String> types) {
    boolean all = types.isEmpty();
    List<ImageSummary> imgs = null;
    Long layersSize = null;
    if (all || types.contains("image")) {
      imgs = new ArrayList<>();
      for (ImageSummary s : images.list(false, Filters.none(), true)) {
        imgs.add(new ImageSummary(s.id(), s.parentId(), s.repoTags(), s.repoDigests(), s.created(), s.size(),
            s.sharedSize(), s.labels(), containers.containersUsing(s.id()).size()));
      }
      layersSize = images.layersSize();
    }
    List<Object> ctrs = all || types.contains("container")
        ? new ArrayList<>(containers.list(true, -1, true, Filters.none())) : null;
    List<berth.engine.api.types.BuildCacheRecord> cache = all || types.contains("build-cache")
        ? images.buildCache().usage() : null;
    return new DiskUsage(layersSize, imgs, ctrs, all || types.contains("volume") ? new ArrayList<>(volumes.usage()) : null,
        cache, cache == null ? null : berth.engine.image.BuildCache.size(cache));
  }
}
