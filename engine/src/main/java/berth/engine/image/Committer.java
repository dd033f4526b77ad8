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
 * {@code docker commit}: a new image made of the parent image's layers plus one layer holding what the container
 * changed, stored as {@code docker load} stores layers (an uncompressed blob in the content store, whose digest
 * is its diffID, unpacked into the layer store). As moby's {@code image.NewChildImage}, an empty change adds a
 * history entry marked {@code empty_layer} and no layer.
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
    JsonNode parentCfg = svc.config(parent);
    ObjectNode config = spec.requested().deepCopy();
    ConfigChanges.apply(config, spec.changes());
    merge(config, spec.containerConfig());

    svc.beginIngest();
    try {
      Digest blob;
      long size;
      try (ContentWriter w = svc.content.writer()) {
        layer.write(w.stream());
        size = w.written();
        blob = w.commit(-1, null);
      }
      boolean empty = blob.toString().equals(EMPTY_TAR);
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
      if (spec.author() != null && !spec.author().isEmpty()) {
        img.put("author", spec.author());
      }
      if (spec.comment() != null && !spec.comment().isEmpty()) {
        img.put("comment", spec.comment());
      }
      img.put("container", spec.containerId());
      img.set("config", config);
      ObjectNode rootfs = img.putObject("rootfs");
      rootfs.put("type", "layers");
      ArrayNode diffIds = rootfs.putArray("diff_ids");
      List<ImageRecord.LayerRef> layers = new ArrayList<>(parent.layers());
      parent.layers().forEach(l -> diffIds.add(l.diffId()));
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
      h.put("created_by", spec.createdBy());
      if (spec.author() != null && !spec.author().isEmpty()) {
        h.put("author", spec.author());
      }
      if (spec.comment() != null && !spec.comment().isEmpty()) {
        h.put("comment", spec.comment());
      }
      if (empty) {
        h.put("empty_layer", true);
      }
      byte[] cfgBytes = ImageService.JSON.writeValueAsBytes(img);
      byte[] manifest = ArchiveLoader.ociManifest(cfgBytes, layers);
      String id = svc.content.put(cfgBytes).toString();
      svc.content.put(manifest);
      ImageRecord r = new ImageRecord(id, Digest.of(manifest).toString(), ArchiveLoader.OCI_MANIFEST, layers,
          List.of(), parent.id(), System.currentTimeMillis() * 1_000_000L, null);
      svc.register(r, ref == null ? List.of() : List.of(ref), null);
      return id;
    } finally {
      svc.endIngest();
    }
  }
}
