package berth.engine.api.images;

import berth.engine.api.types.Filters;
import berth.engine.api.types.ImageDeleteItem;
import berth.engine.api.types.ImageHistoryItem;
import berth.engine.api.types.ImageInspect;
import berth.engine.api.types.ImagePruneReport;
import berth.engine.api.types.ImageSummary;
import berth.engine.api.types.JsonStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;

/** What the images router needs. Implemented by {@link berth.engine.image.ImageService}. */
public interface ImagesBackend {
  /** Images matching the filters (dangling, label, reference, before, since); INVALID_PARAMETER for bad filters. */
  List<ImageSummary> list(boolean all, Filters filters, boolean sharedSize);

  /** NOT_FOUND "No such image: x" if absent. */
  ImageInspect inspect(String name);

  /** NOT_FOUND if absent. */
  List<ImageHistoryItem> history(String name);

  /**
   * Loads a docker-archive or OCI-layout tarball, streamed. Progress and "Loaded image" lines go to out.
   * All or nothing: on failure no image is tagged or listed and unpacked layers are removed.
   */
  void load(InputStream tar, boolean quiet, JsonStream out) throws IOException;

  /** Resolves every name to an image ID before anything is written; NOT_FOUND for the first unknown one. */
  List<String> resolveForSave(List<String> names);

  /** Writes one archive (OCI layout plus manifest.json) holding the given images under the names asked for. */
  void save(List<String> names, OutputStream out) throws IOException;

  /** Imports a rootfs tarball (plain, gzip or zstd) as a one-layer image; returns its ID. */
  String importImage(InputStream tar, String repo, String tag, String message, List<String> changes, String platform,
      JsonStream out) throws IOException;

  /** Points repo:tag at the image; NOT_FOUND for an unknown source, INVALID_PARAMETER for a bad name. */
  void tag(String source, String repo, String tag);

  /** Untags or deletes as dockerd does; CONFLICT when forced removal is needed or impossible. */
  List<ImageDeleteItem> delete(String name, boolean force, boolean noPrune);

  /** Deletes dangling images (or all unused with dangling=false) matching until/label filters. */
  ImagePruneReport prune(Filters filters);
}
