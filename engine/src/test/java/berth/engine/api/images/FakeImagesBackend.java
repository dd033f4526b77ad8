package berth.engine.api.images;

import berth.engine.api.types.Filters;
import berth.engine.api.types.ImageDeleteItem;
import berth.engine.api.types.ImageHistoryItem;
import berth.engine.api.types.ImageInspect;
import berth.engine.api.types.ImagePruneReport;
import berth.engine.api.types.ImageSummary;
import berth.engine.api.types.JsonStream;
import berth.engine.errdefs.EngineException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A map-backed {@link ImagesBackend}: names ("repo:tag") point at image IDs, IDs have a size. It records
 * what the router handed it so tests can check the parsing.
 *
 * <p>Its "archives" are text: each line of a load body is {@code name=id}; a line {@code !message} makes the
 * load fail there. A saved archive is {@code "archive of " + names}.
 */
final class FakeImagesBackend implements ImagesBackend {
  final Map<String, String> tags = new LinkedHashMap<>();
  final Map<String, Long> sizes = new LinkedHashMap<>();

  boolean lastAll;
  Filters lastFilters;
  boolean lastSharedSize;
  boolean lastForce;
  boolean lastNoPrune;
  Filters lastPruneFilters;
  int saveCalls;
  IOException saveFailure;
  byte[] imported;
  List<Object> importArgs;

  /** Adds an image with the given names. */
  FakeImagesBackend add(String id, long size, String... names) {
    sizes.put(id, size);
    for (String n : names) {
      tags.put(n, id);
    }
    return this;
  }

  private String resolve(String name) {
    if (sizes.containsKey(name)) {
      return name;
    }
    String id = tags.get(name);
    if (id == null && !name.contains(":")) {
      id = tags.get(name + ":latest");
    }
    if (id == null) {
      throw EngineException.notFound("No such image: %s", name);
    }
    return id;
  }

  private List<String> namesOf(String id) {
    return tags.entrySet().stream().filter(e -> e.getValue().equals(id)).map(Map.Entry::getKey).toList();
  }

  @Override
  public List<ImageSummary> list(boolean all, Filters filters, boolean sharedSize) {
    lastAll = all;
    lastFilters = filters;
    lastSharedSize = sharedSize;
    List<ImageSummary> out = new ArrayList<>();
    sizes.forEach((id, size) -> out.add(new ImageSummary(id, "", namesOf(id), List.of(), 1700000000L, size,
        sharedSize ? 0 : -1, Map.of("maintainer", "test"), -1)));
    return out;
  }

  @Override
  public ImageInspect inspect(String name) {
    String id = resolve(name);
    return new ImageInspect(id, namesOf(id), List.of(), "", "", "2024-01-01T00:00:00Z", "", "", null, "amd64", null,
        "linux", null, sizes.get(id), new ImageInspect.GraphDriver("overlay2", Map.of()),
        new ImageInspect.RootFs("layers", List.of()), new ImageInspect.Metadata("2024-01-01T00:00:00Z"));
  }

  @Override
  public List<ImageHistoryItem> history(String name) {
    String id = resolve(name);
    return List.of(new ImageHistoryItem(id, 1700000000L, "/bin/sh -c #(nop) CMD [\"sh\"]", namesOf(id), sizes.get(id), ""));
  }

  @Override
  public void load(InputStream tar, boolean quiet, JsonStream out) throws IOException {
    String text = new String(tar.readAllBytes(), StandardCharsets.UTF_8);
    for (String line : text.split("\n")) {
      if (line.startsWith("!")) {
        throw EngineException.invalid("%s", line.substring(1));
      }
      String[] nameId = line.split("=", 2);
      add(nameId[1], 1, nameId[0]);
      out.send(Map.of("stream", "Loaded image: " + nameId[0] + "\n"));
    }
  }

  @Override
  public List<String> resolveForSave(List<String> names) {
    return names.stream().map(this::resolve).toList();
  }

  @Override
  public void save(List<String> names, OutputStream out) throws IOException {
    saveCalls++;
    out.write(("archive of " + names).getBytes(StandardCharsets.UTF_8));
    if (saveFailure != null) {
      out.flush();
      throw saveFailure;
    }
  }

  List<String> pullArgs;
  List<String> pushArgs;
  byte[] loginBody;

  /** "missing…" fails before anything is sent; "broken…" fails after one progress message; else two messages. */
  @Override
  public void pull(String fromImage, String tag, String platform, String registryAuth, JsonStream out)
      throws IOException {
    pullArgs = java.util.Arrays.asList(fromImage, tag, platform, registryAuth);
    if (fromImage.startsWith("missing")) {
      throw berth.engine.errdefs.EngineException.notFound("manifest for %s:%s not found: manifest unknown: manifest unknown",
          fromImage, tag);
    }
    out.send(Map.of("status", "Pulling from " + fromImage, "id", tag));
    if (fromImage.startsWith("broken")) {
      throw berth.engine.errdefs.EngineException.invalid("filesystem layer verification failed for digest sha256:00");
    }
    out.send(Map.of("status", "Status: Downloaded newer image for " + fromImage + ":" + tag));
  }

  @Override
  public void push(String name, String tag, String registryAuth, JsonStream out) throws IOException {
    pushArgs = java.util.Arrays.asList(name, tag, registryAuth);
    if (name.startsWith("missing")) {
      throw berth.engine.errdefs.EngineException.notFound("An image does not exist locally with the tag: %s", name);
    }
    out.send(Map.of("status", "The push refers to repository [" + name + "]"));
    out.send(Map.of("status", tag + ": digest: sha256:11 size: 5"));
  }

  @Override
  public void login(byte[] authConfig) {
    loginBody = authConfig;
    if (new String(authConfig, java.nio.charset.StandardCharsets.UTF_8).contains("wrong")) {
      throw new berth.engine.errdefs.EngineException(berth.engine.errdefs.ErrorKind.UNAUTHORIZED,
          "login attempt to http://r/v2/ failed with status: 401 Unauthorized");
    }
  }

  @Override
  public String importImage(InputStream tar, String repo, String tag, String message, List<String> changes,
      String platform, JsonStream out) throws IOException {
    imported = tar.readAllBytes();
    importArgs = java.util.Arrays.asList(repo, tag, message, changes, platform);
    String body = new String(imported, java.nio.charset.StandardCharsets.UTF_8);
    if (body.startsWith("!")) { // fails before anything is sent
      throw berth.engine.errdefs.EngineException.invalid("%s", body.substring(1));
    }
    if (body.startsWith("progress!")) { // fails after progress was sent
      out.send(java.util.Map.of("status", "Importing"));
      throw berth.engine.errdefs.EngineException.invalid("%s", body.substring(9));
    }
    String id = "sha256:" + "c".repeat(64);
    add(id, imported.length);
    if (repo != null) {
      tags.put(repo + ":" + (tag == null || tag.isEmpty() ? "latest" : tag), id);
    }
    return id;
  }

  @Override
  public void tag(String source, String repo, String tag) {
    String id = resolve(source);
    tags.put(repo + ":" + (tag == null || tag.isEmpty() ? "latest" : tag), id);
  }

  @Override
  public List<ImageDeleteItem> delete(String name, boolean force, boolean noPrune) {
    lastForce = force;
    lastNoPrune = noPrune;
    String id = resolve(name);
    List<ImageDeleteItem> items = new ArrayList<>();
    String ref = tags.containsKey(name) ? name : name + ":latest";
    if (tags.remove(ref) != null) {
      items.add(ImageDeleteItem.untagged(ref));
    }
    if (namesOf(id).isEmpty()) {
      sizes.remove(id);
      items.add(ImageDeleteItem.deleted(id));
    }
    return items;
  }

  @Override
  public ImagePruneReport prune(Filters filters) {
    lastPruneFilters = filters;
    List<ImageDeleteItem> deleted = new ArrayList<>();
    long reclaimed = 0;
    for (String id : new ArrayList<>(sizes.keySet())) {
      if (namesOf(id).isEmpty()) {
        reclaimed += sizes.remove(id);
        deleted.add(ImageDeleteItem.deleted(id));
      }
    }
    return new ImagePruneReport(deleted, reclaimed);
  }
}
