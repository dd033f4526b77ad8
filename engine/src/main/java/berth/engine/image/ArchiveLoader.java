package berth.engine.image;

import berth.engine.api.types.JsonStream;
import berth.engine.content.ContentWriter;
import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.layer.TarPaths;
import berth.engine.layer.UnpackedLayer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.tar.TarUtils;
import org.apache.commons.io.input.TeeInputStream;

/**
 * Loads a {@code docker save} archive (Docker 25+ OCI layout with manifest.json, or the older
 * layer.tar form) or a pure OCI image layout, in one pass over the stream: each layer is stored as a
 * blob and unpacked as it goes by, small JSON files are kept in memory, and only when the whole
 * archive has been read and validated are images registered. One use per instance.
 */
final class ArchiveLoader {
  static final long SMALL_LIMIT = 32L << 20;
  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

  private final ImageService svc;
  private final Map<String, Entry> files = new HashMap<>();
  private final Map<String, String> links = new HashMap<>();

  /** One file of the archive: a small file's bytes, or a stored blob that unpacked as a layer. */
  record Entry(Digest digest, long size, byte[] data, UnpackedLayer layer, String mediaType) {}

  /** An image ready to register. */
  record Pending(ImageRecord record, byte[] config, byte[] manifest, List<Reference> refs) {}

  ArchiveLoader(ImageService svc) {
    this.svc = svc;
  }

  void load(InputStream in, boolean quiet, JsonStream out) throws IOException {
    svc.beginIngest();
    try {
      readArchive(in, quiet, out);
      List<Pending> images = plan();
      for (Pending p : images) {
        svc.content.put(p.config());
        svc.content.put(p.manifest());
      }
      for (Pending p : images) {
        svc.register(p.record(), p.refs(), "load");
        if (p.refs().isEmpty()) {
          out.send(Map.of("stream", "Loaded image ID: " + p.record().id() + "\n"));
        }
        for (Reference r : p.refs()) {
          out.send(Map.of("stream", "Loaded image: " + r.familiar() + "\n"));
        }
      }
    } finally {
      svc.endIngest();
    }
  }

  // ---- pass 1: the stream ----------------------------------------------------------------------

  private void readArchive(InputStream in, boolean quiet, JsonStream out) throws IOException {
    TarArchiveInputStream tar = new TarArchiveInputStream(new InvalidOnReadError(new BufferedInputStream(in, 1 << 16)));
    TarArchiveEntry e;
    while ((e = nextEntry(tar)) != null) {
      String name = clean(e.getName(), e.getName());
      if (e.isSymbolicLink()) {
        String dir = name.contains("/") ? name.substring(0, name.lastIndexOf('/') + 1) : "";
        links.put(name, clean(e.getLinkName().startsWith("/") ? e.getLinkName() : dir + e.getLinkName(), e.getName()));
      } else if (e.isLink()) {
        links.put(name, clean(e.getLinkName(), e.getName()));
      } else if (e.isFile()) {
        ingest(name, new InvalidOnReadError(tar), e.getSize(), quiet, out);
      }
    }
  }

  private static TarArchiveEntry nextEntry(TarArchiveInputStream tar) {
    try {
      return tar.getNextEntry();
    } catch (IOException | IllegalArgumentException e) {
      throw EngineException.invalid("invalid archive: %s", e.getMessage());
    }
  }

  /** Cleans an archive path; INVALID_PARAMETER for absolute paths or ones that climb out with "..". */
  static String clean(String name, String original) {
    if (name.startsWith("/")) {
      throw EngineException.invalid("invalid archive: absolute path %s", original);
    }
    String clean = TarPaths.normalize(name);
    if (clean == null) {
      throw EngineException.invalid("invalid archive: path %s escapes the archive", original);
    }
    return clean;
  }


  private void ingest(String name, InputStream entry, long size, boolean quiet, JsonStream out) throws IOException {
    BufferedInputStream peek = new BufferedInputStream(entry, 1 << 16);
    peek.mark(TarConstants.DEFAULT_RCDSIZE);
    byte[] head = peek.readNBytes(TarConstants.DEFAULT_RCDSIZE);
    peek.reset();
    Digest named = blobName(name);
    boolean small = size == 0 || isMetadataName(name) || !looksLikeLayer(head);
    if (small) {
      if (size > SMALL_LIMIT) {
        if (named != null) {
          throw EngineException.invalid("invalid archive: %s is too large for a manifest or config (%d bytes)", name, size);
        }
        peek.transferTo(OutputStream.nullOutputStream());
        return;
      }
      byte[] data = peek.readAllBytes();
      Digest d = Digest.of(data);
      if (named != null && !named.equals(d)) {
        throw EngineException.invalid("invalid archive: digest mismatch for %s: content is %s", name, d);
      }
      files.put(name, new Entry(d, data.length, data, null, null));
      return;
    }
    String mediaType = layerMediaType(head);
    UnpackedLayer known = named == null ? null : svc.knownLayer(named);
    if (known != null) {
      // The engine has this blob and its unpacked layer: check the bytes are what the name says,
      // and skip storing and unpacking them again.
      long n = verify(peek, named, name);
      files.put(name, new Entry(named, n, null, known, mediaType));
      return;
    }
    UnpackedLayer layer;
    Digest digest;
    long written;
    try (ContentWriter w = svc.content.writer()) {
      TeeInputStream tee = new TeeInputStream(peek, w.stream(), false);
      layer = svc.layers.unpack(tee);
      tee.transferTo(OutputStream.nullOutputStream());
      written = w.written();
      digest = w.commit(size, named);
    } catch (EngineException e) {
      throw e.withContext("invalid archive: " + name);
    }
    files.put(name, new Entry(digest, written, null, layer, mediaType));
    if (!quiet) {
      String mb = String.format("%.2fMB", layer.size() / 1e6);
      out.send(Map.of("status", "Loading layer", "progressDetail", Map.of("current", written, "total", written),
          "progress", "[==================================================>]  " + mb + "/" + mb,
          "id", layer.diffId().hex().substring(0, 12)));
    }
  }

  private static long verify(InputStream in, Digest expected, String name) throws IOException {
    MessageDigest sha = Digest.newSha256();
    byte[] buf = new byte[256 << 10];
    long total = 0;
    int n;
    while ((n = in.read(buf)) > 0) {
      sha.update(buf, 0, n);
      total += n;
    }
    Digest actual = Digest.fromBytes(sha.digest());
    if (!actual.equals(expected)) {
      throw EngineException.invalid("invalid archive: digest mismatch for %s: content is %s", name, actual);
    }
    return total;
  }

  private static Digest blobName(String name) {
    if (name.startsWith("blobs/sha256/") && Digest.isValidHex(name.substring(13))) {
      return Digest.ofHex(name.substring(13));
    }
    return null;
  }

  private static boolean isMetadataName(String name) {
    String base = name.substring(name.lastIndexOf('/') + 1);
    return base.endsWith(".json") || base.equals("json") || base.equals("VERSION") || base.equals("repositories")
        || base.equals("oci-layout");
  }

  /**
   * A blob is taken for a layer when it starts as a compressed stream (gzip, zstd, bzip2) or as a tar
   * archive: a header with a valid checksum, or the all-zero block of an empty tar. Anything else
   * (configs, manifests, stray files) is kept as data, so that a bad config is reported as a config.
   */
  static boolean looksLikeLayer(byte[] head) {
    if (!layerMediaType(head).endsWith(".tar")
        || head.length >= 3 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h') {
      return true;
    }
    if (head.length < TarConstants.DEFAULT_RCDSIZE) {
      return false;
    }
    boolean zero = true;
    for (byte b : head) {
      zero &= b == 0;
    }
    try {
      return zero || TarUtils.verifyCheckSum(head);
    } catch (IllegalArgumentException notOctal) {
      return false; // the checksum field does not even hold a number: not a tar header
    }
  }

  static String layerMediaType(byte[] head) {
    if (head.length >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    }
    if (head.length >= 4 && (head[0] & 0xff) == 0x28 && (head[1] & 0xff) == 0xb5 && (head[2] & 0xff) == 0x2f
        && (head[3] & 0xff) == 0xfd) {
      return "application/vnd.oci.image.layer.v1.tar+zstd";
    }
    return "application/vnd.oci.image.layer.v1.tar";
  }

  // ---- pass 2: what the archive says -----------------------------------------------------------

  private Entry lookup(String path) {
    String p = clean(path, path);
    for (int hops = 0; links.containsKey(p) && hops < 16; hops++) {
      p = links.get(p);
    }
    return files.get(p);
  }

  private JsonNode json(Entry e, String what) {
    try {
      return ImageService.JSON.readTree(e.data());
    } catch (IOException ex) {
      throw EngineException.invalid("invalid archive: malformed %s: %s", what,
          ex instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : ex.getMessage());
    }
  }

  private List<Pending> plan() throws IOException {
    Entry manifest = files.get("manifest.json");
    Entry index = files.get("index.json");
    List<Pending> out = new ArrayList<>();
    if (manifest != null) {
      JsonNode m = json(manifest, "manifest.json");
      if (!m.isArray()) {
        throw EngineException.invalid("invalid archive: malformed manifest.json: not a list");
      }
      for (JsonNode item : m) {
        String cfgPath = item.path("Config").asText("");
        Entry cfg = lookup(cfgPath);
        if (cfgPath.isEmpty() || cfg == null || cfg.data() == null) {
          throw EngineException.invalid("invalid archive: manifest.json references missing config %s", cfgPath);
        }
        List<Entry> layers = new ArrayList<>();
        List<String> types = new ArrayList<>();
        for (JsonNode l : item.path("Layers")) {
          Entry le = lookup(l.asText());
          if (le == null) {
            throw EngineException.invalid("invalid archive: manifest.json references missing layer %s", l.asText());
          }
          if (le.layer() == null) {
            throw EngineException.invalid("invalid archive: %s is not a valid layer", l.asText());
          }
          layers.add(le);
          types.add(le.mediaType());
        }
        List<Reference> refs = new ArrayList<>();
        for (JsonNode t : item.path("RepoTags")) {
          refs.add(Reference.parse(t.asText()).withDefaultTag());
        }
        out.add(pending(cfg.data(), layers, types, refs, null));
      }
    } else if (index != null) {
      JsonNode idx = json(index, "index.json");
      for (JsonNode desc : idx.path("manifests")) {
        List<Reference> refs = new ArrayList<>();
        String name = desc.path("annotations").path("io.containerd.image.name").asText("");
        if (!name.isEmpty()) {
          refs.add(Reference.parse(name).withDefaultTag());
        }
        planManifest(desc, refs, out, 0);
      }
    } else {
      throw EngineException.invalid("invalid archive: no manifest.json or index.json found");
    }
    if (out.isEmpty()) {
      throw EngineException.invalid("invalid archive: it holds no image");
    }
    return out;
  }

  private void planManifest(JsonNode desc, List<Reference> refs, List<Pending> out, int depth) throws IOException {
    String digest = desc.path("digest").asText("");
    Entry blob = digest.startsWith("sha256:") ? files.get("blobs/sha256/" + digest.substring(7)) : null;
    if (blob == null || blob.data() == null) {
      throw EngineException.invalid("invalid archive: index references missing manifest %s", digest);
    }
    JsonNode m = json(blob, "manifest " + digest);
    String mt = m.path("mediaType").asText(desc.path("mediaType").asText(""));
    if (mt.equals(OCI_INDEX) || mt.equals(DOCKER_LIST) || m.has("manifests")) {
      if (depth > 4) {
        throw EngineException.invalid("invalid archive: indexes nested too deep");
      }
      JsonNode chosen = choosePlatform(m.path("manifests"));
      if (chosen == null) {
        throw EngineException.invalid("invalid archive: no image for linux/amd64 in index %s", digest);
      }
      planManifest(chosen, refs, out, depth + 1);
      return;
    }
    String cfgDigest = m.path("config").path("digest").asText("");
    Entry cfg = cfgDigest.startsWith("sha256:") ? files.get("blobs/sha256/" + cfgDigest.substring(7)) : null;
    if (cfg == null || cfg.data() == null) {
      throw EngineException.invalid("invalid archive: manifest %s references missing config %s", digest, cfgDigest);
    }
    List<Entry> layers = new ArrayList<>();
    List<String> types = new ArrayList<>();
    for (JsonNode l : m.path("layers")) {
      String ld = l.path("digest").asText("");
      Entry le = ld.startsWith("sha256:") ? files.get("blobs/sha256/" + ld.substring(7)) : null;
      if (le == null) {
        throw EngineException.invalid("invalid archive: manifest %s references missing layer %s", digest, ld);
      }
      if (le.layer() == null) {
        throw EngineException.invalid("invalid archive: blob %s is not a valid layer", ld);
      }
      layers.add(le);
      types.add(l.path("mediaType").asText(le.mediaType()));
    }
    out.add(pending(cfg.data(), layers, types, refs, blob));
  }

  /** The linux/amd64 entry of an index, or its only entry when it names no platforms. */
  private static JsonNode choosePlatform(JsonNode manifests) {
    JsonNode only = null;
    int count = 0;
    for (JsonNode d : manifests) {
      JsonNode p = d.path("platform");
      if (p.path("os").asText("").equals("linux") && p.path("architecture").asText("").equals("amd64")) {
        return d;
      }
      if (p.isMissingNode()) {
        only = d;
        count++;
      }
    }
    return count == 1 ? only : null;
  }

  private Pending pending(byte[] config, List<Entry> layers, List<String> types, List<Reference> refs, Entry manifest)
      throws IOException {
    JsonNode cfg;
    try {
      cfg = ImageService.JSON.readTree(config);
    } catch (IOException e) {
      throw EngineException.invalid("invalid archive: image config is not valid JSON: %s",
          e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage());
    }
    if (cfg == null || !cfg.isObject() || !cfg.path("rootfs").path("diff_ids").isArray()) {
      throw EngineException.invalid("invalid archive: image config has no rootfs.diff_ids");
    }
    List<String> diffIds = ImageConfigs.diffIds(cfg);
    if (diffIds.size() != layers.size()) {
      throw EngineException.invalid("invalid archive: image config lists %d layers but the manifest has %d",
          diffIds.size(), layers.size());
    }
    List<ImageRecord.LayerRef> refsOut = new ArrayList<>();
    for (int i = 0; i < layers.size(); i++) {
      Entry l = layers.get(i);
      if (!l.layer().diffId().toString().equals(diffIds.get(i))) {
        throw EngineException.invalid("invalid archive: layer %d has diff ID %s but the image config says %s",
            i + 1, l.layer().diffId(), diffIds.get(i));
      }
      refsOut.add(new ImageRecord.LayerRef(l.digest().toString(), types.get(i), l.size(), diffIds.get(i)));
    }
    String id = Digest.of(config).toString();
    byte[] manifestBytes = manifest != null ? manifest.data() : ociManifest(config, refsOut);
    String manifestType = manifest != null
        ? ImageService.JSON.readTree(manifestBytes).path("mediaType").asText(OCI_MANIFEST) : OCI_MANIFEST;
    ImageRecord existing = svc.store.get(id);
    ImageRecord r = new ImageRecord(id, Digest.of(manifestBytes).toString(), manifestType, refsOut,
        existing != null ? existing.repoDigests() : List.of(), existing != null ? existing.parent() : null,
        System.currentTimeMillis() * 1_000_000L, existing != null ? existing.lastTagTime() : null);
    return new Pending(r, config, manifestBytes, refs);
  }

  /** An OCI manifest for an image that came without one, so that save and push have one to send. */
  static byte[] ociManifest(byte[] config, List<ImageRecord.LayerRef> layers) throws IOException {
    ObjectNode m = ImageService.JSON.createObjectNode();
    m.put("schemaVersion", 2);
    m.put("mediaType", OCI_MANIFEST);
    ObjectNode c = m.putObject("config");
    c.put("mediaType", "application/vnd.oci.image.config.v1+json");
    c.put("digest", Digest.of(config).toString());
    c.put("size", config.length);
    ArrayNode ls = m.putArray("layers");
    for (ImageRecord.LayerRef l : layers) {
      ObjectNode o = ls.addObject();
      o.put("mediaType", l.mediaType());
      o.put("digest", l.digest());
      o.put("size", l.size());
    }
    return ImageService.JSON.writeValueAsBytes(m);
  }

  /** Makes a failure to read the client's archive an invalid-input error rather than a server fault. */
  static final class InvalidOnReadError extends FilterInputStream {
    InvalidOnReadError(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      try {
        return super.read();
      } catch (IOException e) {
        throw EngineException.invalid("invalid archive: could not read it: %s", e.getMessage());
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        return super.read(b, off, len);
      } catch (IOException e) {
        throw EngineException.invalid("invalid archive: could not read it: %s", e.getMessage());
      }
    }
  }
}
