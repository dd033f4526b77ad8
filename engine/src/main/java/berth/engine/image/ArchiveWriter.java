package berth.engine.image;

import berth.engine.content.Digest;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes images as {@code docker save} of Docker 25+ does: an OCI image layout (blobs, index.json,
 * oci-layout) plus the legacy manifest.json and repositories, so both old and new docker CLIs and
 * engines load it. Blobs are copied byte for byte from the content store.
 */
final class ArchiveWriter {
  private static final int BUFFER = 256 << 10;
  private final ImageService svc;

  ArchiveWriter(ImageService svc) {
    this.svc = svc;
  }

  /** Writes the archive and finishes the tar; does not close {@code out}. */
  void write(List<String> names, OutputStream out) throws IOException {
    Map<String, List<Reference>> images = new LinkedHashMap<>();
    for (String n : names) {
      ImageService.Found f = svc.find(n);
      List<Reference> refs = images.computeIfAbsent(f.image().id(), k -> new ArrayList<>());
      if (f.ref() != null && f.ref().tag() != null && !refs.contains(f.ref())) {
        refs.add(f.ref());
      }
    }
    TarArchiveOutputStream tar = new TarArchiveOutputStream(out, BUFFER);
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    dir(tar, "blobs/");
    dir(tar, "blobs/sha256/");
    Set<String> written = new HashSet<>();
    ArrayNode index = ImageService.JSON.createArrayNode();
    ArrayNode manifest = ImageService.JSON.createArrayNode();
    ObjectNode repositories = ImageService.JSON.createObjectNode();
    byte[] buf = new byte[BUFFER];
    for (var e : images.entrySet()) {
      ImageRecord r = svc.store.get(e.getKey());
      List<String> blobs = new ArrayList<>();
      blobs.add(r.id());
      r.layers().forEach(l -> blobs.add(l.digest()));
      blobs.add(r.manifestDigest());
      for (String b : blobs) {
        if (written.add(b)) {
          blob(tar, Digest.parse(b), buf);
        }
      }
      long manifestSize = svc.content.size(Digest.parse(r.manifestDigest()));
      if (e.getValue().isEmpty()) {
        index.add(descriptor(r, manifestSize, null));
      }
      ObjectNode m = manifest.addObject();
      m.put("Config", "blobs/sha256/" + Digest.parse(r.id()).hex());
      ArrayNode tags = m.putArray("RepoTags");
      for (Reference ref : e.getValue()) {
        index.add(descriptor(r, manifestSize, ref));
        tags.add(ref.familiar());
        ObjectNode repo = repositories.has(ref.familiarName()) ? (ObjectNode) repositories.get(ref.familiarName())
            : repositories.putObject(ref.familiarName());
        repo.put(ref.tag(), Digest.parse(r.id()).hex());
      }
      ArrayNode layers = m.putArray("Layers");
      r.layers().forEach(l -> layers.add("blobs/sha256/" + Digest.parse(l.digest()).hex()));
    }
    ObjectNode idx = ImageService.JSON.createObjectNode();
    idx.put("schemaVersion", 2);
    idx.put("mediaType", ArchiveLoader.OCI_INDEX);
    idx.set("manifests", index);
    file(tar, "index.json", ImageService.JSON.writeValueAsBytes(idx));
    file(tar, "manifest.json", ImageService.JSON.writeValueAsBytes(manifest));
    file(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    if (!repositories.isEmpty()) {
      file(tar, "repositories", ImageService.JSON.writeValueAsBytes(repositories));
    }
    tar.finish();
    tar.flush();
  }

  private static ObjectNode descriptor(ImageRecord r, long size, Reference ref) {
    ObjectNode d = ImageService.JSON.createObjectNode();
    d.put("mediaType", r.manifestMediaType());
    d.put("digest", r.manifestDigest());
    d.put("size", size);
    if (ref != null) {
      ObjectNode a = d.putObject("annotations");
      a.put("io.containerd.image.name", ref.toString());
      a.put("org.opencontainers.image.ref.name", ref.tag());
    }
    return d;
  }

  private static TarArchiveEntry entry(String name, byte type) {
    TarArchiveEntry e = new TarArchiveEntry(name, type);
    e.setModTime(new Date(0));
    e.setUserId(0);
    e.setGroupId(0);
    return e;
  }

  private static void dir(TarArchiveOutputStream tar, String name) throws IOException {
    TarArchiveEntry e = entry(name, TarArchiveEntry.LF_DIR);
    e.setMode(040755);
    tar.putArchiveEntry(e);
    tar.closeArchiveEntry();
  }

  private static void file(TarArchiveOutputStream tar, String name, byte[] data) throws IOException {
    TarArchiveEntry e = entry(name, TarArchiveEntry.LF_NORMAL);
    e.setMode(0100644);
    e.setSize(data.length);
    tar.putArchiveEntry(e);
    tar.write(data);
    tar.closeArchiveEntry();
  }

  private void blob(TarArchiveOutputStream tar, Digest d, byte[] buf) throws IOException {
    TarArchiveEntry e = entry("blobs/sha256/" + d.hex(), TarArchiveEntry.LF_NORMAL);
    e.setMode(0100444);
    e.setSize(svc.content.size(d));
    tar.putArchiveEntry(e);
    try (InputStream in = svc.content.open(d)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        tar.write(buf, 0, n);
      }
    }
    tar.closeArchiveEntry();
  }
}
