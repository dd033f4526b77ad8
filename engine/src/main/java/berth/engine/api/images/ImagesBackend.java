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

  /**
   * Pulls an image from its registry (fromImage with an optional tag or digest in {@code tag}), for the
   * engine's platform unless one is given, with the base64url JSON credentials of {@code X-Registry-Auth}.
   * Errors before the first progress message are thrown (manifest unknown, unauthorized, unreachable); after
   * it, also thrown, for the caller to report in-band. All or nothing: a failed pull tags and lists nothing.
   */
  void pull(String fromImage, String tag, String platform, String registryAuth, JsonStream out) throws IOException;

  /** Pushes repo:tag (every tag of the repository when tag is empty); progress and the digest go to out. */
  void push(String name, String tag, String registryAuth, JsonStream out) throws IOException;

  /** Checks credentials (the JSON body of POST /auth) with the registry; UNAUTHORIZED when refused. */
  void login(byte[] authConfig);

  /** Points repo:tag at the image; NOT_FOUND for an unknown source, INVALID_PARAMETER for a bad name. */
  void tag(String source, String repo, String tag);

  /** Untags or deletes as dockerd does; CONFLICT when forced removal is needed or impossible. */
  List<ImageDeleteItem> delete(String name, boolean force, boolean noPrune);

  /** Deletes dangling images (or all unused with dangling=false) matching until/label filters. */
  ImagePruneReport prune(Filters filters);
}
