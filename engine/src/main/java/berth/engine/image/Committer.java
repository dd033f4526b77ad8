package berth.engine.image;

import berth.engine.content.ContentWriter;
import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes images from writable layers, for {@code docker commit} and for the classic builder's steps alike: the parent
 * image's layers plus one layer holding what changed, stored as {@code docker load} stores layers (an uncompressed
 * blob in the content store, whose digest is its diffID, unpacked into the layer store). As moby's
 * {@code image.NewChildImage}, an empty change adds a history entry marked {@code empty_layer} and no layer.
 */
final class Committer {
  /** The diffID of a tar with no entries (two zero blocks). */
  static final String EMPTY_TAR = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

  private final ImageService svc;

  Committer(ImageService svc) {
    this.svc = svc;
  }

  /**
   * Fills what the request left unset from the container's config, as moby's {@code daemon/commit.go} merge: Env
   * by variable, ExposedPorts, Volumes and Labels by key, and Cmd (with Entrypoint) only when the request set no
   * Entrypoint.
   */
  static void merge(ObjectNode user, ObjectNode ctr) {
    for (String k : List.of("User", "WorkingDir", "StopSignal", "Healthcheck", "OnBuild", "Shell", "StopTimeout",
        "Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr", "ArgsEscaped")) {
      if (isUnset(user.get(k)) && !isUnset(ctr.get(k))) {
        user.set(k, ctr.get(k).deepCopy());
      }
    }
    if (isUnset(user.get("Env"))) {
      if (!isUnset(ctr.get("Env"))) {
        user.set("Env", ctr.get("Env").deepCopy());
      }
    } else {
      ArrayNode env = (ArrayNode) user.get("Env");
      java.util.Set<String> keys = new java.util.HashSet<>();
      env.forEach(e -> keys.add(e.asText().split("=", 2)[0]));
      ctr.path("Env").forEach(e -> {
        if (!keys.contains(e.asText().split("=", 2)[0])) {
          env.add(e.asText());
        }
      });
    }
    for (String k : List.of("ExposedPorts", "Volumes", "Labels")) {
      if (ctr.get(k) instanceof ObjectNode from) {
        ObjectNode to = user.get(k) instanceof ObjectNode o ? o : user.putObject(k);
        from.fields().forEachRemaining(f -> {
          if (!to.has(f.getKey())) {
            to.set(f.getKey(), f.getValue().deepCopy());
          }
        });
      }
    }
    if (isUnset(user.get("Entrypoint"))) {
      if (isUnset(user.get("Cmd")) && !isUnset(ctr.get("Cmd"))) {
        user.set("Cmd", ctr.get("Cmd").deepCopy());
      }
      if (user.get("Entrypoint") == null || user.get("Entrypoint").isNull()) {
        if (!isUnset(ctr.get("Entrypoint"))) {
          user.set("Entrypoint", ctr.get("Entrypoint").deepCopy());
        }
      }
    }
  }

  private static boolean isUnset(JsonNode n) {
    return n == null || n.isNull() || (n.isTextual() && n.asText().isEmpty()) || (n.isContainerNode() && n.isEmpty())
        || (n.isBoolean() && !n.asBoolean());
  }

  /** {@code docker commit}: the container's changes on its image, tagged as asked; the record's parent is the image. */
  String commit(ImageService.CommitSpec spec, ImageService.LayerSource layer) throws IOException {
    Reference ref = null;
    if (spec.repo() != null && !spec.repo().isEmpty()) {
      ref = Reference.parse(spec.tag() == null || spec.tag().isEmpty() ? spec.repo() : spec.repo() + ":" + spec.tag());
      if (ref.digest() != null) {
        throw EngineException.invalid("refusing to create a tag with a digest reference");
      }
      ref = ref.withDefaultTag();
    }
    ImageRecord parent = svc.store.get(spec.parentImageId());
    if (parent == null) {
      throw ImageService.noSuchImage(spec.parentImageId());
    }
    ObjectNode config = spec.requested().deepCopy();
    ConfigChanges.apply(config, spec.changes());
    merge(config, spec.containerConfig());
    return make(parent, layer, config, null, spec.containerId(), spec.createdBy(), spec.comment(), spec.author(), true,
        ref == null ? List.of() : List.of(ref), false);
  }

  /**
   * A build step: its writable layer's changes (none without a key) on the parent (none: FROM scratch), untagged;
   * held in the build cache when it records its parent (an intermediate image), for the builder to release.
   */
  String step(ImageService.StepSpec spec) throws IOException {
    ImageRecord parent = spec.parentId() == null ? null : svc.find(spec.parentId()).image();
    ImageService.LayerSource layer = null;
    if (spec.writableKey() != null) {
      List<Digest> below = new ArrayList<>();
      if (parent != null) {
        parent.layers().forEach(l -> below.add(Digest.parse(l.diffId())));
      }
      layer = out -> svc.layers.writeChanges(spec.writableKey(), below, out);
    }
    return make(parent, layer, spec.config(), spec.containerConfig(), null, spec.createdBy(), spec.comment(),
        spec.author(), spec.recordParent(), List.of(), spec.recordParent());
  }

  /**
   * The one way a writable layer becomes an image: the layer tar {@code layer} writes (nothing, or an empty tar, adds
   * no layer and an {@code empty_layer} history entry, as moby's {@code NewChildImage}) is stored as an uncompressed
   * blob, whose digest is its diffID, and unpacked; the config is the parent's plus one history entry; the image is
   * registered (and tagged with {@code refs}) under the service lock, and held for a build when {@code hold}. Nothing
   * is left behind on failure (the ingest bracket's GC collects the blob and layer).
   */
  private String make(ImageRecord parent, ImageService.LayerSource layer, JsonNode config, JsonNode containerConfig,
      String containerId, String createdBy, String comment, String author, boolean recordParent, List<Reference> refs,
      boolean hold) throws IOException {
    JsonNode parentCfg = parent == null ? ImageService.JSON.createObjectNode() : svc.config(parent);
    svc.beginIngest();
    try {
      Digest blob = null;
      long size = 0;
      if (layer != null) {
        try (ContentWriter w = svc.content.writer()) {
          layer.write(w.stream());
          size = w.written();
          if (size > 0) {
            blob = w.commit(-1, null);
          }
        }
      }
      boolean empty = blob == null || blob.toString().equals(EMPTY_TAR);
      if (!empty && !svc.layers.exists(blob)) {
        try (InputStream in = svc.content.open(blob)) {
          svc.layers.unpack(in); // the blob is uncompressed: its digest is the diffID the unpack computes
        }
      }
      String now = Instant.now().toString();
      ObjectNode img = ImageService.JSON.createObjectNode();
      img.put("architecture", ImageConfigs.text(parentCfg, "architecture").isEmpty() ? "amd64"
          : ImageConfigs.text(parentCfg, "architecture"));
      if (!ImageConfigs.text(parentCfg, "variant").isEmpty()) {
        img.put("variant", ImageConfigs.text(parentCfg, "variant"));
      }
      img.put("os", "linux");
      img.put("created", now);
      if (author != null && !author.isEmpty()) {
        img.put("author", author);
      }
      if (comment != null && !comment.isEmpty()) {
        img.put("comment", comment);
      }
      if (containerId != null) {
        img.put("container", containerId);
      }
      img.set("config", config);
      if (containerConfig != null) {
        img.set("container_config", containerConfig); // the classic builder's cache key
      }
      ObjectNode rootfs = img.putObject("rootfs");
      rootfs.put("type", "layers");
      ArrayNode diffIds = rootfs.putArray("diff_ids");
      List<ImageRecord.LayerRef> layers = new ArrayList<>(parent == null ? List.of() : parent.layers());
      layers.forEach(l -> diffIds.add(l.diffId()));
      if (!empty) {
        diffIds.add(blob.toString());
        layers.add(new ImageRecord.LayerRef(blob.toString(), "application/vnd.oci.image.layer.v1.tar", size,
            blob.toString()));
      }
      ArrayNode history = img.putArray("history");
      JsonNode ph = parentCfg.path("history");
      if (ph.isArray()) {
        ph.forEach(h -> history.add(h.deepCopy()));
      }
      ObjectNode h = history.addObject();
      h.put("created", now);
      h.put("created_by", createdBy == null ? "" : createdBy);
      if (author != null && !author.isEmpty()) {
        h.put("author", author);
      }
      if (comment != null && !comment.isEmpty()) {
        h.put("comment", comment);
      }
      if (empty) {
        h.put("empty_layer", true);
      }
      byte[] cfgBytes = ImageService.JSON.writeValueAsBytes(img);
      byte[] manifest = ArchiveLoader.ociManifest(cfgBytes, layers);
      String id = svc.content.put(cfgBytes).toString();
      svc.content.put(manifest);
      ImageRecord r = new ImageRecord(id, Digest.of(manifest).toString(), ArchiveLoader.OCI_MANIFEST, layers,
          List.of(), recordParent && parent != null ? parent.id() : null, System.currentTimeMillis() * 1_000_000L, null);
      synchronized (svc) {
        svc.register(r, refs, null);
        if (hold) {
          svc.buildCache().hold(id); // before a concurrent builder prune can see it
        }
      }
      return id;
    } finally {
      svc.endIngest();
    }
  }
}
