package berth.engine.image;

import java.util.List;

/**
 * What the engine keeps about one image besides its config blob: the layer blobs in order with their
 * diffIDs, the manifest it came with, digests it is known by in registries, and when it was made here.
 */
public record ImageRecord(
    String id,
    String manifestDigest,
    String manifestMediaType,
    List<LayerRef> layers,
    List<String> repoDigests,
    String parent,
    long addedNano,
    String lastTagTime) {

  /** One layer: the blob as stored (possibly compressed), its media type and size, and its diffID. */
  public record LayerRef(String digest, String mediaType, long size, String diffId) {}

  public ImageRecord withLastTagTime(String t) {
    return new ImageRecord(id, manifestDigest, manifestMediaType, layers, repoDigests, parent, addedNano, t);
  }
}
