package berth.engine.container;

import berth.engine.api.http.ApiJson;
import berth.engine.api.types.HostConfig;
import berth.engine.api.types.Mount;
import berth.engine.errdefs.EngineException;
import berth.engine.runtime.OciSpecBuilder;
import berth.engine.runtime.UserResolver;
import berth.engine.store.Rollback;
import berth.engine.volume.CopyUp;
import berth.engine.volume.MountParser;
import berth.engine.volume.MountPoint;
import berth.engine.volume.VolumeService;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * A container's mounts: planned at create from {@code --volumes-from}, {@code -v}, {@code --mount} and the
 * image's {@code VOLUME}s (in dockerd's order, later ones replacing earlier ones at the same destination),
 * their volumes made and referenced; at start turned into OCI bind mounts of host paths (volumes copied up
 * first) and tmpfs options; at removal released.
 */
final class ContainerMounts {
  private final VolumeService volumes;

  ContainerMounts(VolumeService volumes) {
    this.volumes = volumes;
  }

  /**
   * Parses and checks every mount of a new container, then makes and references its volumes; if anything
   * fails, the volumes this call made are removed again (via {@code undo}).
   *
   * @param imageVolumes the destinations of the image's (and the request's) {@code Volumes}
   * @param findContainer a {@code --volumes-from} reference to its container (NOT_FOUND if none)
   */
  List<MountPoint> plan(String id, HostConfig hc, Iterable<String> imageVolumes,
      Function<String, Container> findContainer, Rollback undo) {
    Map<String, MountPoint> points = new LinkedHashMap<>();
    // 1. --volumes-from: the other container's mounts, read-only if asked
    List<MountPoint> inherited = new ArrayList<>();
    for (String spec : hc.volumesFrom() == null ? List.<String>of() : hc.volumesFrom()) {
      String[] idMode = MountParser.parseVolumesFrom(spec);
      Container from;
      try {
        from = findContainer.apply(idMode[0]);
      } catch (EngineException e) {
        throw EngineException.invalid("%s", e.getMessage());
      }
      for (MountPoint m : from.mountPoints()) {
        MountPoint cp = m.inherited(!MountParser.readWrite(idMode[1]));
        points.put(cp.destination(), cp);
        inherited.add(cp);
      }
    }
    // 2. -v and 3. --mount, parsed and checked before anything is made
    Map<String, String> tmpfs = hc.tmpfs() == null ? Map.of() : hc.tmpfs();
    TreeSet<String> seen = new TreeSet<>();
    for (String b : hc.binds() == null ? List.<String>of() : hc.binds()) {
      MountPoint m = MountParser.parseBind(b);
      if (seen.contains(m.destination()) || tmpfs.containsKey(m.destination())) {
        throw EngineException.invalid("Duplicate mount point: %s", m.destination());
      }
      seen.add(m.destination());
      points.put(m.destination(), m);
    }
    for (Mount mt : hc.mounts() == null ? List.<Mount>of() : hc.mounts()) {
      MountPoint m = MountParser.parseMount(mt, p -> Files.exists(Path.of(p)));
      if (seen.contains(m.destination())) {
        throw EngineException.invalid("Duplicate mount point: %s", mt.target());
      }
      seen.add(m.destination());
      points.put(m.destination(), m);
    }
    // 4. the image's VOLUMEs, where nothing else is mounted: anonymous volumes
    for (String v : imageVolumes) {
      String dest = Path.of("/").resolve(v).normalize().toString();
      if (!points.containsKey(dest) && !tmpfs.containsKey(dest)) {
        points.put(dest, new MountPoint(MountPoint.VOLUME, null, null, dest, null, "", true, "", null, null,
            Boolean.TRUE, null, null));
      }
    }
    List<MountPoint> out = new ArrayList<>();
    for (MountPoint m : points.values()) {
      if (!m.isVolume()) {
        out.add(m);
        continue;
      }
      if (inherited.contains(m)) {
        if (!volumes.reference(m.name(), id)) {
          throw EngineException.notFound("get %s: no such volume", m.name());
        }
        undo.push(() -> volumes.release(m.name(), id));
        out.add(m);
        continue;
      }
      VolumeService.Acquired a = volumes.acquire(m.name(), m.driver(), m.volumeOptions(), m.volumeLabels(), id);
      String name = a.volume().name();
      undo.push(() -> {
        volumes.release(name, id);
        if (a.created()) {
          volumes.remove(name, true);
        }
      });
      MountPoint r = m.withVolume(name, a.volume().mountpoint(), a.volume().driver());
      if (r.mode() == null || r.mode().isEmpty()) {
        // dockerd's setBindModeIfNull for local volumes
        r = new MountPoint(r.type(), r.name(), r.source(), r.destination(), r.driver(), "z", r.rw(), r.propagation(),
            null, null, r.copyData(), null, null);
      } else {
        r = new MountPoint(r.type(), r.name(), r.source(), r.destination(), r.driver(), r.mode(), r.rw(),
            r.propagation(), null, null, r.copyData(), null, null);
      }
      out.add(r);
    }
    out.sort(java.util.Comparator.comparing(MountPoint::destination)); // a stable order for inspect
    return out;
  }

  /** The image's {@code Volumes} keys and the request's, sorted (their order in JSON means nothing). */
  static List<String> volumeDestinations(Map<String, Object> requested, com.fasterxml.jackson.databind.JsonNode ic) {
    TreeSet<String> out = new TreeSet<>();
    if (requested != null) {
      out.addAll(requested.keySet());
    }
    ic.path("Volumes").fieldNames().forEachRemaining(out::add);
    return new ArrayList<>(out);
  }

  /** The host configuration with {@code --mount type=tmpfs} mounts added to {@code Tmpfs}, for the spec. */
  static HostConfig withMountTmpfs(HostConfig hc, List<MountPoint> mounts) {
    Map<String, String> tmpfs = new TreeMap<>(hc.tmpfs() == null ? Map.of() : hc.tmpfs());
    boolean any = false;
    for (MountPoint m : mounts) {
      if (MountPoint.TMPFS.equals(m.type())) {
        tmpfs.put(m.destination(), m.tmpfsOptions() == null ? "" : m.tmpfsOptions());
        any = true;
      }
    }
    if (!any) {
      return hc;
    }
    ObjectNode n = ApiJson.MAPPER.valueToTree(hc);
    n.set("Tmpfs", ApiJson.MAPPER.valueToTree(tmpfs));
    return ApiJson.MAPPER.convertValue(n, HostConfig.class);
  }

  /** What a start needs: the OCI bind mounts and the mounts as they now are (copy-up done). */
  record Prepared(List<OciSpecBuilder.BindMount> binds, List<MountPoint> mounts) {}

  /**
   * Readies a starting container's mounts on its mounted root filesystem: volumes mounted (and, the first
   * time, filled from the image), missing {@code -v} host directories made.
   */
  Prepared prepare(String id, List<MountPoint> mounts, Path rootfs) throws IOException {
    List<OciSpecBuilder.BindMount> binds = new ArrayList<>();
    List<MountPoint> now = new ArrayList<>();
    for (MountPoint m : mounts) {
      if (m.isVolume()) {
        Path data = volumes.mount(m.name(), id, m);
        if (Boolean.TRUE.equals(m.copyData())) {
          CopyUp.copy(UserResolver.resolveInRoot(rootfs, m.destination()), data);
          m = m.withCopyData(false); // dockerd copies once, at create; never into a volume emptied later
        }
        binds.add(new OciSpecBuilder.BindMount(data.toString(), m.destination(), !m.rw(), emptyToNull(m.propagation())));
      } else if (MountPoint.BIND.equals(m.type())) {
        Path src = Path.of(m.source());
        if (Boolean.TRUE.equals(m.createSource()) && !Files.exists(src)) {
          Files.createDirectories(src); // -v makes a missing host directory, as dockerd
        }
        binds.add(new OciSpecBuilder.BindMount(m.source(), m.destination(), !m.rw(), emptyToNull(m.propagation())));
      }
      now.add(m);
    }
    return new Prepared(binds, now);
  }

  /** Unmounts the volumes of a container that stopped (or whose start failed). */
  void stopped(String id) {
    volumes.unmountAll(id);
  }

  /** A container still running from before the engine's start (live restore) has its volumes mounted. */
  void adopted(String id, List<MountPoint> mounts) {
    for (MountPoint m : mounts) {
      if (m.isVolume()) {
        volumes.adopt(m.name(), id);
      }
    }
  }

  /** Releases a removed container's volumes; with {@code removeAnonymous}, removes its anonymous ones unused now. */
  void removed(String id, List<MountPoint> mounts, boolean removeAnonymous) {
    for (MountPoint m : mounts) {
      if (!m.isVolume()) {
        continue;
      }
      volumes.release(m.name(), id);
      if (removeAnonymous && volumes.isAnonymous(m.name())) {
        try {
          volumes.remove(m.name(), true);
        } catch (EngineException e) {
          // still used by another container (--volumes-from): it stays, as with dockerd
        }
      }
    }
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }
}
