package berth.engine.image;

import berth.engine.api.types.JsonStream;
import berth.engine.content.ContentWriter;
import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.layer.UnpackedLayer;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.List;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.apache.commons.io.input.TeeInputStream;

/**
 * {@code docker import}: a rootfs tarball (plain, gzip, bzip2 or zstd) becomes a one-layer image. The
 * layer is stored uncompressed, so its blob digest is its diffID, and unpacked in the same pass.
 */
final class Importer {
  private final ImageService svc;

  Importer(ImageService svc) {
    this.svc = svc;
  }

  String importImage(InputStream body, String repo, String tag, String message, List<String> changes, String platform,
      JsonStream out) throws IOException {
    Reference ref = null;
    if (repo != null && !repo.isEmpty()) {
      ref = Reference.parse(tag == null || tag.isEmpty() ? repo : repo + ":" + tag);
      if (ref.digest() != null) {
        throw EngineException.invalid("cannot import digest reference");
      }
      ref = ref.withDefaultTag();
    }
    if (platform != null && !platform.isEmpty() && !platform.equals("linux") && !platform.startsWith("linux/amd64")
        && !platform.equals("linux/x86_64")) {
      throw EngineException.invalid("unsupported platform %s: this engine runs linux/amd64 images", platform);
    }
    ObjectNode config = ImageService.JSON.createObjectNode();
    ConfigChanges.apply(config, changes);

    svc.beginIngest();
    try {
      UnpackedLayer layer;
      Digest blob;
      long size;
      try (ContentWriter w = svc.content.writer()) {
        TeeInputStream tee = new TeeInputStream(new ArchiveLoader.InvalidOnReadError(decompress(body)), w.stream(), false);
        layer = svc.layers.unpack(tee);
        tee.transferTo(OutputStream.nullOutputStream());
        size = w.written();
        blob = w.commit(-1, null);
      }
      String now = Instant.now().toString();
      ObjectNode img = ImageService.JSON.createObjectNode();
      img.put("architecture", "amd64");
      img.put("os", "linux");
      img.put("created", now);
      if (message != null && !message.isEmpty()) {
        img.put("comment", message);
      }
      img.set("config", config);
      ObjectNode rootfs = img.putObject("rootfs");
      rootfs.put("type", "layers");
      rootfs.putArray("diff_ids").add(layer.diffId().toString());
      ArrayNode history = img.putArray("history");
      ObjectNode h = history.addObject();
      h.put("created", now);
      h.put("created_by", "");
      h.put("comment", message == null || message.isEmpty() ? "Imported from -" : message);
      byte[] cfgBytes = ImageService.JSON.writeValueAsBytes(img);
      List<ImageRecord.LayerRef> layers = List.of(new ImageRecord.LayerRef(blob.toString(),
          "application/vnd.oci.image.layer.v1.tar", size, layer.diffId().toString()));
      byte[] manifest = ArchiveLoader.ociManifest(cfgBytes, layers);
      String id = svc.content.put(cfgBytes).toString();
      svc.content.put(manifest);
      ImageRecord r = new ImageRecord(id, Digest.of(manifest).toString(), ArchiveLoader.OCI_MANIFEST, layers, List.of(),
          null, System.currentTimeMillis() * 1_000_000L, null);
      svc.register(r, ref == null ? List.of() : List.of(ref), "import");
      return id;
    } finally {
      svc.endIngest();
    }
  }

  /** Undoes gzip, bzip2 or zstd by their magic bytes; a plain tar passes through. */
  static InputStream decompress(InputStream in) throws IOException {
    BufferedInputStream b = new BufferedInputStream(in, 1 << 16);
    b.mark(8);
    byte[] h = b.readNBytes(4);
    b.reset();
    if (h.length >= 2 && (h[0] & 0xff) == 0x1f && (h[1] & 0xff) == 0x8b) {
      return new GzipCompressorInputStream(b, true);
    }
    if (h.length >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h') {
      return new BZip2CompressorInputStream(b, true);
    }
    if (h.length >= 4 && (h[0] & 0xff) == 0x28 && (h[1] & 0xff) == 0xb5 && (h[2] & 0xff) == 0x2f && (h[3] & 0xff) == 0xfd) {
      return new ZstdCompressorInputStream(b);
    }
    return b;
  }
}
