package berth.engine.image;

import berth.engine.api.types.JsonStream;
import berth.engine.content.ContentWriter;
import berth.engine.content.Digest;
import berth.engine.distribution.AuthConfig;
import berth.engine.distribution.Manifests;
import berth.engine.distribution.Platform;
import berth.engine.distribution.Registry;
import berth.engine.distribution.RegistryHosts;
import berth.engine.distribution.RegistrySession;
import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import berth.engine.layer.UnpackedLayer;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code docker pull}: resolves a tag or digest on the registry (through mirrors for Docker Hub), picks the
 * engine's platform from an index, downloads the layers it lacks in parallel, each verified against its digest
 * before it is unpacked, and registers the image only when every layer's diffID matches the config. Progress
 * goes out as the JSON messages the docker CLI renders. One use per instance.
 */
final class Puller {
  /** A download that receives nothing for this long is abandoned (a registry that hangs instead of failing). */
  static final long STALL_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
  private static final java.util.concurrent.ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pull-watchdog");
        t.setDaemon(true);
        return t;
      });
  private final ImageService svc;
  private final Registry registry;
  private final int maxDownloads;
  private JsonStream out;

  Puller(ImageService svc, Registry registry, int maxDownloads) {
    this.svc = svc;
    this.registry = registry;
    this.maxDownloads = Math.max(1, maxDownloads);
  }

  /** A resolved image: the manifest fetched for the reference, the platform's image manifest, and the session. */
  private record Resolved(RegistrySession session, String topDigest, byte[] manifest, String digest, Manifests.Image image) {}

  /**
   * Pulls {@code ref} (which has a tag or a digest). The first progress message goes out only once the
   * manifest is known, so "not found" and "unauthorized" reach the client as a plain error reply.
   */
  void pull(Reference ref, Platform platform, AuthConfig auth, JsonStream stream) throws IOException {
    Resolved r = resolve(ref, platform, auth);
    this.out = stream;
    svc.beginIngest();
    try {
      String id = fetchAndRegister(ref, r);
      out.send(Map.of("status", "Digest: " + r.topDigest()));
      out.send(Map.of("status", "Status: " + id + " for " + ref.familiar()));
    } finally {
      svc.endIngest();
    }
  }

  /** docker pull --all-tags: every tag the registry lists for the repository, one after another. */
  void pullAllTags(Reference repo, Platform platform, AuthConfig auth, JsonStream stream) throws IOException {
    List<String> tags = null;
    IOException lastIo = null;
    for (RegistryHosts.Endpoint e : registry.endpoints(repo.domain())) {
      try {
        tags = registry.open(e, repo.path(), auth, false).tags();
        break;
      } catch (IOException ex) {
        lastIo = ex;
      } catch (EngineException ex) {
        if (!e.mirror()) {
          throw ex.kind() == ErrorKind.NOT_FOUND
              ? EngineException.notFound("repository %s not found: %s", repo.familiarName(), ex.getMessage()) : ex;
        }
      }
    }
    if (tags == null) {
      throw EngineException.unavailable("Get \"%s\": %s", registry.endpoints(repo.domain()).get(0).base() + "/v2/",
          lastIo == null ? "no endpoint" : describe(lastIo));
    }
    if (tags.isEmpty()) {
      throw EngineException.notFound("repository %s has no tags", repo.familiarName());
    }
    for (String t : tags) {
      new Puller(svc, registry, maxDownloads).pull(repo.withTag(t), platform, auth, stream);
    }
  }

  private Resolved resolve(Reference ref, Platform platform, AuthConfig auth) throws IOException {
    String reference = ref.digest() != null ? ref.digest() : ref.tag();
    RuntimeException lastError = null;
    IOException lastIo = null;
    for (RegistryHosts.Endpoint e : registry.endpoints(ref.domain())) {
      try {
        RegistrySession s = registry.open(e, ref.path(), auth, false);
        RegistrySession.Fetched top = s.manifest(reference);
        JsonNode m = Manifests.parse(top.data(), "manifest");
        String type = Manifests.mediaType(m, top.contentType());
        byte[] data = top.data();
        String digest = top.digest();
        if (Manifests.isIndex(type)) {
          JsonNode chosen = platform.choose(m.path("manifests"));
          if (chosen == null) {
            throw EngineException.notFound("no matching manifest for %s in the manifest list entries", platform);
          }
          RegistrySession.Fetched child = s.manifest(chosen.path("digest").asText(""));
          m = Manifests.parse(child.data(), "manifest");
          type = Manifests.mediaType(m, child.contentType());
          if (!Manifests.isImage(type)) {
            throw EngineException.invalid("unsupported manifest media type and no default available: %s", type);
          }
          data = child.data();
          digest = child.digest();
        }
        return new Resolved(s, top.digest(), data, digest, Manifests.image(m, type));
      } catch (IOException ex) {
        lastIo = ex; // unreachable: the next endpoint (HTTP after HTTPS, the Hub after a mirror) may answer
      } catch (EngineException ex) {
        if (!e.mirror()) {
          throw named(ex, ref);
        }
        lastError = ex; // a mirror that lacks the image: fall back to the next endpoint, as dockerd does
      }
    }
    if (lastError != null && lastIo == null) {
      throw named((EngineException) lastError, ref);
    }
    String first = registry.endpoints(ref.domain()).get(0).base() + "/v2/";
    throw EngineException.unavailable("Get \"%s\": %s", first, lastIo == null ? "no endpoint" : describe(lastIo));
  }

  private static String describe(IOException e) {
    if (e instanceof java.net.ConnectException) {
      return "dial tcp: connect: connection refused";
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  /** dockerd's "manifest for x:tag not found: manifest unknown: …" for a missing tag or digest. */
  private static EngineException named(EngineException e, Reference ref) {
    if (e.kind() == ErrorKind.NOT_FOUND && e.getMessage().startsWith("manifest unknown")) {
      return new EngineException(ErrorKind.NOT_FOUND, "manifest for " + ref.familiar() + " not found: " + e.getMessage());
    }
    if (e.kind() == ErrorKind.NOT_FOUND && e.getMessage().startsWith("name unknown")) {
      return new EngineException(ErrorKind.NOT_FOUND, "repository " + ref.familiarName() + " not found: " + e.getMessage());
    }
    if (e.kind() == ErrorKind.NOT_FOUND && e.getMessage().startsWith("denied")) {
      return new EngineException(ErrorKind.NOT_FOUND, "pull access denied for " + ref.familiarName()
          + ", repository does not exist or may require 'docker login': " + e.getMessage());
    }
    return e;
  }

  // ---- download, verify, unpack, register ------------------------------------------------------

  private String fetchAndRegister(Reference ref, Resolved r) throws IOException {
    Manifests.Image img = r.image();
    out.send(Map.of("status", "Pulling from " + ref.path(), "id", ref.digest() != null ? ref.digest() : ref.tag()));
    byte[] config = readConfig(r.session(), img.config());
    JsonNode cfg;
    try {
      cfg = ImageService.JSON.readTree(config);
    } catch (IOException e) {
      throw EngineException.invalid("error pulling image configuration: malformed JSON");
    }
    if (cfg == null || !cfg.path("rootfs").path("diff_ids").isArray()) {
      throw EngineException.invalid("error pulling image configuration: no rootfs.diff_ids");
    }
    List<String> diffIds = ImageConfigs.diffIds(cfg);
    if (diffIds.size() != img.layers().size()) {
      throw EngineException.invalid("image config lists %d layers but the manifest has %d", diffIds.size(),
          img.layers().size());
    }
    String id = Digest.of(config).toString();
    ImageRecord existing = svc.store.get(id);
    String repoDigest = ref.name() + "@" + r.topDigest();
    boolean upToDate = existing != null && ref.tag() != null && id.equals(svc.store.resolve(ref.toString()))
        || existing != null && ref.digest() != null && existing.repoDigests() != null
            && existing.repoDigests().contains(repoDigest);

    int n = img.layers().size();
    List<Future<?>> downloads = new ArrayList<>();
    boolean[] present = new boolean[n];
    Map<String, Integer> firstOf = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      Manifests.Descriptor l = img.layers().get(i);
      present[i] = svc.content.exists(Digest.parse(l.digest())) && svc.layers.exists(Digest.parse(diffIds.get(i)));
      if (present[i]) {
        if (existing == null) { // dockerd says nothing about the layers of an image it already has
          out.send(progress("Already exists", l, null));
        }
      } else if (firstOf.putIfAbsent(l.digest(), i) == null) {
        out.send(progress("Pulling fs layer", l, null));
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(maxDownloads, daemonThreads());
    try {
      int queued = 0;
      for (int i = 0; i < n; i++) {
        Manifests.Descriptor l = img.layers().get(i);
        if (present[i] || firstOf.get(l.digest()) != i) {
          downloads.add(null);
          continue;
        }
        if (++queued > maxDownloads) {
          send(progress("Waiting", l, null));
        }
        downloads.add(pool.submit(() -> {
          download(r.session(), l);
          return null;
        }));
      }
      List<ImageRecord.LayerRef> layerRefs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Manifests.Descriptor l = img.layers().get(i);
        Digest blob = Digest.parse(l.digest());
        if (!present[i]) {
          Future<?> f = downloads.get(firstOf.get(l.digest()));
          await(f);
          if (firstOf.get(l.digest()) == i) {
            extract(l, Digest.parse(diffIds.get(i)));
          }
        }
        layerRefs.add(new ImageRecord.LayerRef(l.digest(), l.mediaType(), svc.content.size(blob), diffIds.get(i)));
      }
      svc.content.put(config);
      svc.content.put(r.manifest());
      for (Manifests.Descriptor l : img.layers()) {
        svc.blobSources.computeIfAbsent(l.digest(), k -> java.util.concurrent.ConcurrentHashMap.newKeySet())
            .add(ref.name());
      }
      ImageRecord rec = new ImageRecord(id, r.digest(), img.mediaType(), layerRefs, List.of(repoDigest),
          existing != null ? existing.parent() : null, System.currentTimeMillis() * 1_000_000L,
          existing != null ? existing.lastTagTime() : null);
      svc.registerPulled(rec, ref.tag() != null ? List.of(ref) : List.of(), repoDigest, "pull");
    } finally {
      pool.shutdownNow();
      for (Future<?> f : downloads) {
        if (f != null) {
          f.cancel(true);
        }
      }
    }
    return upToDate ? "Image is up to date" : "Downloaded newer image";
  }

  private static ThreadFactory daemonThreads() {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, "pull-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  private static void await(Future<?> f) throws IOException {
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("pull interrupted");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof RuntimeException re) {
        throw re;
      }
      throw EngineException.system("download failed", c);
    }
  }

  private byte[] readConfig(RegistrySession s, Manifests.Descriptor d) throws IOException {
    if (d.size() > Manifests.MAX_SIZE) {
      throw EngineException.invalid("image config %s is too large (%d bytes)", d.digest(), d.size());
    }
    Digest want = Digest.parse(d.digest());
    if (svc.content.exists(want)) {
      try (InputStream in = svc.content.open(want)) {
        return in.readAllBytes();
      }
    }
    byte[] data;
    RegistrySession.Blob b = s.blob(d.digest());
    try (InputStream in = b.stream()) {
      data = in.readNBytes(Manifests.MAX_SIZE + 1);
    } catch (IOException e) {
      throw EngineException.unavailable("error pulling image configuration: download failed: %s", describe(e));
    }
    if (!Digest.of(data).equals(want) || data.length != d.size()) {
      throw EngineException.invalid("error pulling image configuration: image config verification failed for digest %s",
          d.digest());
    }
    return data;
  }

  /** Downloads one layer blob into the content store, verified against its digest and size before it is committed. */
  private void download(RegistrySession s, Manifests.Descriptor l) throws IOException {
    Digest want = Digest.parse(l.digest());
    if (svc.content.exists(want)) {
      send(progress("Download complete", l, null));
      return;
    }
    RegistrySession.Blob b = s.blob(l.digest());
    long total = l.size();
    // HttpClient has no read timeout for a streamed body: a watchdog interrupts the read when nothing comes.
    java.util.concurrent.atomic.AtomicLong lastRead = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
    java.util.concurrent.atomic.AtomicBoolean stalled = new java.util.concurrent.atomic.AtomicBoolean();
    Thread reader = Thread.currentThread();
    java.util.concurrent.ScheduledFuture<?> dog = WATCHDOG.scheduleWithFixedDelay(() -> {
      if (System.nanoTime() - lastRead.get() > STALL_NANOS && stalled.compareAndSet(false, true)) {
        reader.interrupt();
      }
    }, 1, 1, java.util.concurrent.TimeUnit.SECONDS);
    try (InputStream in = b.stream(); ContentWriter w = svc.content.writer()) {
      byte[] buf = new byte[128 << 10];
      long done = 0;
      long lastSent = 0;
      long lastTime = 0;
      int k;
      try {
        while ((k = in.read(buf)) > 0) {
          if (done + k > total) {
            throw EngineException.invalid("filesystem layer verification failed for digest %s: more data than the %d bytes "
                + "the manifest gives", l.digest(), total);
          }
          lastRead.set(System.nanoTime());
          w.stream().write(buf, 0, k);
          done += k;
          long now = System.nanoTime();
          if (done == total || done - lastSent >= (512 << 10) || now - lastTime > 100_000_000L) {
            send(progress("Downloading", l, new long[] {done, total}));
            lastSent = done;
            lastTime = now;
          }
          if (Thread.currentThread().isInterrupted()) {
            throw new java.io.InterruptedIOException("pull cancelled");
          }
        }
      } catch (EngineException e) {
        throw e;
      } catch (IOException e) {
        if (stalled.get()) {
          throw EngineException.unavailable("failed to download layer %s: no data for %d s after %d of %d bytes",
              l.digest(), STALL_NANOS / 1_000_000_000L, done, total);
        }
        throw EngineException.unavailable("failed to download layer %s: %s after %d of %d bytes", l.digest(),
            e.getMessage() == null || e.getMessage().isEmpty() ? "unexpected EOF" : e.getMessage(), done, total);
      } finally {
        dog.cancel(false);
      }
      if (done < total) {
        throw EngineException.unavailable("failed to download layer %s: unexpected EOF after %d of %d bytes",
            l.digest(), done, total);
      }
      send(progress("Verifying Checksum", l, null));
      try {
        w.commit(total, want);
      } catch (EngineException e) {
        throw EngineException.invalid("filesystem layer verification failed for digest %s", l.digest());
      }
    }
    send(progress("Download complete", l, null));
  }

  /** Unpacks a downloaded blob and checks its diffID against the config's. */
  private void extract(Manifests.Descriptor l, Digest diffId) throws IOException {
    Digest blob = Digest.parse(l.digest());
    long total = svc.content.size(blob);
    UnpackedLayer u;
    if (svc.layers.exists(diffId)) {
      u = null; // another image has this diff already (from another blob): nothing to unpack
    } else {
      try (InputStream in = new Counting(svc.content.open(blob), l, total)) {
        u = svc.layers.unpack(in);
      } catch (EngineException e) {
        throw e.withContext("failed to register layer " + l.digest());
      }
      if (!u.diffId().equals(diffId)) {
        throw EngineException.invalid("failed to register layer: layer %s has diff ID %s but the image config says %s",
            l.digest(), u.diffId(), diffId);
      }
    }
    send(progress("Pull complete", l, null));
  }

  /** Reports extraction progress as the blob is read. */
  private final class Counting extends FilterInputStream {
    private final Manifests.Descriptor layer;
    private final long total;
    private long done;
    private long lastSent;

    Counting(InputStream in, Manifests.Descriptor layer, long total) {
      super(in);
      this.layer = layer;
      this.total = total;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int k = super.read(b, off, len);
      if (k > 0) {
        done += k;
        if (done == total || done - lastSent >= (1 << 20) || lastSent == 0) {
          lastSent = done;
          send(progress("Extracting", layer, new long[] {done, total}));
        }
      }
      return k;
    }
  }

  private void send(Map<String, Object> m) throws IOException {
    synchronized (this) {
      out.send(m);
    }
  }

  private static Map<String, Object> progress(String status, Manifests.Descriptor l, long[] detail) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("status", status);
    if (detail != null) {
      m.put("progressDetail", Map.of("current", detail[0], "total", detail[1]));
      m.put("progress", bar(detail[0], detail[1]));
    } else {
      m.put("progressDetail", Map.of());
    }
    m.put("id", l.digest().substring(7, 19));
    return m;
  }

  /** The progress bar dockerd draws: 50 columns of "=" up to a ">", then sizes in decimal units. */
  static String bar(long current, long total) {
    int width = 50;
    int filled = total <= 0 ? 0 : (int) Math.min(width, current * width / total);
    return "[" + "=".repeat(filled) + ">" + " ".repeat(width - filled) + "] " + human(current) + "/" + human(total);
  }

  /** A size as go-units' HumanSize writes it: four significant digits, decimal units, no trailing zeros. */
  static String human(long n) {
    String[] units = {"B", "kB", "MB", "GB", "TB"};
    double v = n;
    int u = 0;
    while (v >= 1000 && u < units.length - 1) {
      v /= 1000;
      u++;
    }
    String num = new java.math.BigDecimal(v).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
    return num + units[u];
  }
}
