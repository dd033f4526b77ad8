package berth.engine.image;

import berth.engine.api.types.JsonStream;
import berth.engine.content.Digest;
import berth.engine.distribution.AuthConfig;
import berth.engine.distribution.Manifests;
import berth.engine.distribution.Registry;
import berth.engine.distribution.RegistryHosts;
import berth.engine.distribution.RegistrySession;
import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code docker push}: sends an image's blobs the registry lacks (HEAD first; a mount from another repository
 * of the same registry when the engine knows one holds the blob; else a monolithic upload), then its manifest
 * byte for byte under the tag, and records the digest the registry reports as a repo digest. One use per
 * instance.
 */
final class Pusher {
  private final ImageService svc;
  private final Registry registry;
  private final int maxUploads;
  private JsonStream out;

  Pusher(ImageService svc, Registry registry, int maxUploads) {
    this.svc = svc;
    this.registry = registry;
    this.maxUploads = Math.max(1, maxUploads);
  }

  /**
   * Pushes {@code repo:tag}, or every tag of {@code repo} when tag is empty. NOT_FOUND before anything is sent
   * when no such image exists locally; the session is opened before the first message, so an unreachable
   * registry or refused credentials are a plain error reply.
   */
  void push(Reference repo, String tag, AuthConfig auth, JsonStream stream) throws IOException {
    List<Reference> refs = new ArrayList<>();
    if (tag != null && !tag.isEmpty()) {
      Reference r = repo.withTag(tag);
      if (svc.store.resolve(r.toString()) == null) {
        throw EngineException.notFound("An image does not exist locally with the tag: %s", repo.familiarName());
      }
      refs.add(r);
    } else {
      for (String s : svc.store.refsById().values().stream().flatMap(List::stream).sorted().toList()) {
        Reference r = Reference.parse(s);
        if (r.tag() != null && r.name().equals(repo.name())) {
          refs.add(r);
        }
      }
      if (refs.isEmpty()) {
        throw EngineException.notFound("An image does not exist locally with the tag: %s", repo.familiarName());
      }
    }
    RegistrySession session = open(repo, auth);
    this.out = stream;
    out.send(Map.of("status", "The push refers to repository [" + repo.familiarName() + "]"));
    for (Reference r : refs) {
      pushOne(session, r);
    }
  }

  private RegistrySession open(Reference repo, AuthConfig auth) throws IOException {
    IOException last = null;
    for (RegistryHosts.Endpoint e : registry.endpoints(repo.domain())) {
      if (e.mirror()) {
        continue; // mirrors are read-only
      }
      try {
        return registry.open(e, repo.path(), auth, true);
      } catch (IOException ex) {
        last = ex;
      }
    }
    throw EngineException.unavailable("Get \"%s\": %s", registry.endpoints(repo.domain()).get(0).base() + "/v2/",
        last == null ? "no endpoint" : last instanceof java.net.ConnectException ? "dial tcp: connect: connection refused"
            : last.getMessage());
  }

  private void pushOne(RegistrySession s, Reference ref) throws IOException {
    ImageRecord rec = svc.store.get(svc.store.resolve(ref.toString()));
    if (rec == null) {
      throw EngineException.notFound("An image does not exist locally with the tag: %s", ref.familiar());
    }
    byte[] manifest;
    String mediaType = rec.manifestMediaType();
    Digest md = rec.manifestDigest() == null ? null : Digest.parse(rec.manifestDigest());
    if (md != null && svc.content.exists(md)) {
      try (InputStream in = svc.content.open(md)) {
        manifest = in.readAllBytes();
      }
    } else {
      byte[] config;
      try (InputStream in = svc.content.open(Digest.parse(rec.id()))) {
        config = in.readAllBytes();
      }
      manifest = ArchiveLoader.ociManifest(config, rec.layers());
      mediaType = Manifests.OCI_MANIFEST;
    }
    JsonNode m = Manifests.parse(manifest, "manifest");
    mediaType = Manifests.mediaType(m, mediaType);
    Manifests.Image img = Manifests.image(m, mediaType);
    for (Manifests.Descriptor l : img.layers()) {
      out.send(progress("Preparing", l, null));
    }
    ExecutorService pool = Executors.newFixedThreadPool(maxUploads, r -> {
      Thread t = new Thread(r, "push");
      t.setDaemon(true);
      return t;
    });
    List<Future<?>> uploads = new ArrayList<>();
    try {
      int queued = 0;
      for (Manifests.Descriptor l : img.layers()) {
        if (++queued > maxUploads) {
          send(progress("Waiting", l, null));
        }
        uploads.add(pool.submit(() -> {
          upload(s, ref, l, true);
          return null;
        }));
      }
      uploads.add(pool.submit(() -> {
        upload(s, ref, img.config(), false);
        return null;
      }));
      for (Future<?> f : uploads) {
        await(f);
      }
    } finally {
      pool.shutdownNow();
      uploads.forEach(f -> f.cancel(true));
    }
    String digest = s.putManifest(ref.tag(), mediaType, manifest);
    out.send(Map.of("status", ref.tag() + ": digest: " + digest + " size: " + manifest.length));
    Map<String, Object> aux = new LinkedHashMap<>();
    aux.put("progressDetail", Map.of());
    aux.put("aux", Map.of("Tag", ref.tag(), "Digest", digest, "Size", manifest.length));
    out.send(aux);
    svc.registerPulled(rec, List.of(), ref.name() + "@" + digest, null);
    svc.events.publish("image", "push", rec.id(), Map.of("name", ref.familiar()));
  }

  private void upload(RegistrySession s, Reference ref, Manifests.Descriptor l, boolean report) throws IOException {
    Digest d = Digest.parse(l.digest());
    if (s.blobExists(l.digest())) {
      if (report) {
        send(progress("Layer already exists", l, null));
      }
      svc.blobSources.computeIfAbsent(l.digest(), k -> java.util.concurrent.ConcurrentHashMap.newKeySet()).add(ref.name());
      return;
    }
    URI location = null;
    for (String source : Set.copyOf(svc.blobSources.getOrDefault(l.digest(), Set.of()))) {
      Reference from = Reference.parse(source);
      if (!from.domain().equals(ref.domain()) || from.path().equals(ref.path())) {
        continue;
      }
      location = s.startUpload(l.digest(), from.path());
      if (location == null) {
        if (report) {
          send(progress("Mounted from " + from.path(), l, null));
        }
        svc.blobSources.get(l.digest()).add(ref.name());
        return;
      }
      break; // the registry opened an upload instead of mounting: use it
    }
    if (location == null) {
      location = s.startUpload(l.digest(), null);
    }
    long total = svc.content.size(d);
    long[] lastSent = {0, 0};
    s.putBlob(location, l.digest(), svc.content.path(d), sent -> {
      long now = System.nanoTime();
      if (report && (sent == total || sent - lastSent[0] >= (512 << 10) || now - lastSent[1] > 100_000_000L)) {
        lastSent[0] = sent;
        lastSent[1] = now;
        try {
          send(progress("Pushing", l, new long[] {sent, total}));
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    });
    if (report) {
      send(progress("Pushed", l, null));
    }
    svc.blobSources.computeIfAbsent(l.digest(), k -> java.util.concurrent.ConcurrentHashMap.newKeySet()).add(ref.name());
  }

  private static void await(Future<?> f) throws IOException {
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("push interrupted");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof java.io.UncheckedIOException u) {
        c = u.getCause();
      }
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof RuntimeException re) {
        throw re;
      }
      throw EngineException.system("upload failed", c);
    }
  }

  private synchronized void send(Map<String, Object> m) throws IOException {
    out.send(m);
  }

  private static Map<String, Object> progress(String status, Manifests.Descriptor l, long[] detail) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("status", status);
    if (detail != null) {
      m.put("progressDetail", Map.of("current", detail[0], "total", detail[1]));
      m.put("progress", Puller.bar(detail[0], detail[1]));
    } else {
      m.put("progressDetail", Map.of());
    }
    m.put("id", l.digest().substring(7, 19));
    return m;
  }

}
