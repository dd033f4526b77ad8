package berth.engine.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * Builds real Docker image archives locally, without an engine or a registry.
 *
 * <p>Every archive is deterministic: fixed timestamps ({@link #CREATED}), uid/gid 0 unless stated,
 * PAX tar format, canonical JSON. The same inputs give byte-identical output, so image IDs are stable.
 * The busybox binary is read from {@code /bin/busybox} (Debian {@code busybox-static}); override with the
 * system property {@code berth.test.busybox} or the environment variable {@code BERTH_TEST_BUSYBOX}.
 *
 * <p>Formats:
 * <ul>
 *   <li>{@link #busybox}, {@link #multiLayer}, {@link #sizedImage}: what {@code docker save} of Docker 25+
 *       writes: an OCI image layout ({@code oci-layout}, {@code index.json}, {@code blobs/sha256/*}) plus the
 *       legacy {@code manifest.json} and {@code repositories}.</li>
 *   <li>{@link #legacyArchive}: the pre-25 format ({@code <id>/layer.tar}, {@code <id>/json},
 *       {@code <id>/VERSION}, {@code <config>.json}, {@code manifest.json}, {@code repositories}).</li>
 *   <li>{@link #ociLayout}, {@link #ociLayoutZstd}: a pure OCI image-layout tarball (no manifest.json).</li>
 *   <li>{@link #rootfsTar}: a plain rootfs tarball for {@code docker import}.</li>
 * </ul>
 *
 * <p>CLI: {@code java -cp ... berth.engine.testing.TestImages KIND OUT [ARGS]} — see {@link #main}.
 */
public final class TestImages {

    private TestImages() {}

    /** Fixed creation time of every image and tar entry. */
    public static final String CREATED = "2024-01-01T00:00:00Z";
    /** {@link #CREATED} as epoch seconds (tar mtime). */
    public static final long MTIME = 1704067200L;
    public static final String PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /** The applet symlinks created in /bin next to /bin/busybox. */
    public static final List<String> APPLETS = List.of(
            "sh", "echo", "true", "cat", "ls", "sleep", "id", "env", "hostname", "wget", "nc", "httpd", "top",
            "ps", "mkdir", "rm", "touch", "stat", "head", "seq", "printf", "test", "grep", "sed", "dd", "find",
            "readlink", "ln", "chmod", "date", "whoami", "uname", "awk", "tee", "yes", "wc", "sync", "mount", "ping",
            "nslookup", "ip", "timeout", "kill");

    // media types
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
    public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar";
    public static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /** Which archive layout was written. */
    public enum Format { DOCKER_ARCHIVE, LEGACY_DOCKER_ARCHIVE, OCI_LAYOUT }

    /**
     * Describes a written image archive.
     *
     * @param path           the archive file
     * @param imageId        "sha256:" + hex of the config blob
     * @param repoTags       familiar repo:tag names, e.g. "busybox:latest"
     * @param diffIds        "sha256:..." of each uncompressed layer tar, bottom first (= config rootfs.diff_ids)
     * @param layerDigests   "sha256:..." of each layer blob as stored (compressed if compressed), bottom first
     * @param manifestDigest "sha256:..." of the image manifest blob, or null for the legacy format
     * @param format         the archive layout
     */
    public record ImageArchive(Path path, String imageId, List<String> repoTags, List<String> diffIds,
                               List<String> layerDigests, String manifestDigest, Format format) {
        public ImageArchive {
            repoTags = List.copyOf(repoTags);
            diffIds = List.copyOf(diffIds);
            layerDigests = List.copyOf(layerDigests);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // public builders

    /** busybox image FROM scratch: one uncompressed layer, Cmd ["sh"], Docker 25+ docker-save layout. */
    public static ImageArchive busybox(Path out, String tag) throws IOException {
        Blob layer = Blob.ofBytes(busyboxLayer().toBytes(), OCI_LAYER, null);
        byte[] config = config(List.of(layer.diffId()), busyboxContainerConfig(),
                List.of(history(BUSYBOX_CREATED_BY, false), history("CMD [\"sh\"]", true)));
        return DockerArchive.standard(List.of(normalizeTag(tag)), List.of(layer), config, false).write(out);
    }

    /** The busybox image with more files in its layer (path without leading "/" to content, mode 0755). */
    public static ImageArchive busybox(Path out, String tag, Map<String, byte[]> extraFiles) throws IOException {
        Layer l = busyboxLayer();
        for (Map.Entry<String, byte[]> e : extraFiles.entrySet()) l.file(e.getKey(), 0755, e.getValue());
        Blob layer = Blob.ofBytes(l.toBytes(), OCI_LAYER, null);
        byte[] config = config(List.of(layer.diffId()), busyboxContainerConfig(),
                List.of(history(BUSYBOX_CREATED_BY, false), history("CMD [\"sh\"]", true)));
        return DockerArchive.standard(List.of(normalizeTag(tag)), List.of(layer), config, false).write(out);
    }

    /**
     * busybox with {@code VOLUME /seed} in its config and, in a second layer, {@code /seed} (mode 0750) holding
     * {@code owned.txt} (mode 0640, owner 1000:1000, "seeded\n"): what copy-up must carry into a new volume.
     */
    public static ImageArchive busyboxWithVolume(Path out, String tag) throws IOException {
        Layer l2 = new Layer()
                .dir("seed", 0750)
                .file("seed/owned.txt", 0640, 1000, 1000, bytes("seeded\n"), Map.of());
        Blob b1 = Blob.ofBytes(busyboxLayer().toBytes(), OCI_LAYER, null);
        Blob b2 = Blob.ofBytes(l2.toBytes(), OCI_LAYER, null);
        Map<String, Object> cc = busyboxContainerConfig();
        cc.put("Volumes", Map.of("/seed", Map.of()));
        byte[] config = config(List.of(b1.diffId(), b2.diffId()), cc, List.of(history(BUSYBOX_CREATED_BY, false),
                history("COPY seed /seed # buildkit", false), history("VOLUME [/seed]", true),
                history("CMD [\"sh\"]", true)));
        return DockerArchive.standard(List.of(normalizeTag(tag)), List.of(b1, b2), config, false).write(out);
    }

    /**
     * busybox layer + 3 layers: (2) files, symlink, hardlink, setuid file, uid-1000 file, xattr file;
     * (3) whiteout of /data/b.txt and opaque /data/dir with /data/dir/new.txt; (4) gzip-compressed, adds
     * /etc/layer4. Docker schema2 media types (layer 4 is {@value #DOCKER_LAYER_GZIP}); history has
     * empty_layer entries; config has Env, Labels, Cmd, WorkingDir, ExposedPorts.
     */
    public static ImageArchive multiLayer(Path out, String tag) throws IOException {
        Layer l2 = new Layer()
                .dir("data", 0755)
                .file("data/a.txt", 0644, "a\n")
                .file("data/b.txt", 0644, "b: deleted by a whiteout in layer 3\n")
                .file("data/dir/c.txt", 0644, "c: hidden by the opaque dir in layer 3\n")
                .symlink("data/link", "a.txt")
                .hardlink("data/hard", "data/a.txt")
                .file("data/suid", 04755, "#!/bin/sh\necho suid\n")
                .file("data/owned.txt", 0640, 1000, 1000, bytes("owned by 1000:1000\n"), Map.of())
                .file("data/xattr.txt", 0644, 0, 0, bytes("has xattr user.berth=test\n"),
                        Map.of("SCHILY.xattr.user.berth", "test"));
        Layer l3 = new Layer()
                .dir("data", 0755)
                .whiteout("data/b.txt")
                .opaque("data/dir")
                .file("data/dir/new.txt", 0644, "new\n");
        Layer l4 = new Layer()
                .dir("etc", 0755)
                .file("etc/layer4", 0644, "layer 4 (gzip)\n");
        Blob b1 = Blob.ofBytes(busyboxLayer().toBytes(), DOCKER_LAYER, null);
        Blob b2 = Blob.ofBytes(l2.toBytes(), DOCKER_LAYER, null);
        Blob b3 = Blob.ofBytes(l3.toBytes(), DOCKER_LAYER, null);
        Blob b4 = Blob.gzip(Blob.ofBytes(l4.toBytes(), DOCKER_LAYER, null), DOCKER_LAYER_GZIP, null);
        Map<String, Object> cc = new LinkedHashMap<>();
        cc.put("Cmd", List.of("sh", "-c", "cat /data/a.txt"));
        cc.put("Env", List.of(PATH_ENV, "BERTH_TEST=multi"));
        cc.put("ExposedPorts", Map.of("8080/tcp", Map.of()));
        cc.put("Labels", Map.of("berth.test", "multi"));
        cc.put("WorkingDir", "/data");
        List<Map<String, Object>> hist = List.of(
                history(BUSYBOX_CREATED_BY, false),
                history("COPY data /data # buildkit", false),
                history("RUN /bin/sh -c rm /data/b.txt && rm -rf /data/dir && mkdir /data/dir && echo new > /data/dir/new.txt # buildkit", false),
                history("ENV BERTH_TEST=multi", true),
                history("RUN /bin/sh -c echo 'layer 4 (gzip)' > /etc/layer4 # buildkit", false),
                history("LABEL berth.test=multi", true),
                history("EXPOSE map[8080/tcp:{}]", true),
                history("WORKDIR /data", true),
                history("CMD [\"sh\" \"-c\" \"cat /data/a.txt\"]", true));
        byte[] config = config(List.of(b1.diffId(), b2.diffId(), b3.diffId(), b4.diffId()), cc, hist);
        return DockerArchive.standard(List.of(normalizeTag(tag)), List.of(b1, b2, b3, b4), config, true).write(out);
    }

    /** The old (Docker &le; 24) docker-save format with 2 layers: busybox + /etc/legacy.txt. */
    public static ImageArchive legacyArchive(Path out, String tag) throws IOException {
        Blob b1 = Blob.ofBytes(busyboxLayer().toBytes(), DOCKER_LAYER, null);
        Blob b2 = Blob.ofBytes(new Layer().dir("etc", 0755).file("etc/legacy.txt", 0644, "legacy format\n")
                .toBytes(), DOCKER_LAYER, null);
        byte[] config = config(List.of(b1.diffId(), b2.diffId()), busyboxContainerConfig(),
                List.of(history(BUSYBOX_CREATED_BY, false),
                        history("RUN /bin/sh -c echo 'legacy format' > /etc/legacy.txt", false),
                        history("CMD [\"sh\"]", true)));
        String repoTag = normalizeTag(tag);
        String configHex = sha256Hex(config);
        Outer o = new Outer();
        List<String> layerPaths = new ArrayList<>();
        String parent = null;
        String chain = null;
        List<Blob> layers = List.of(b1, b2);
        for (int i = 0; i < layers.size(); i++) {
            Blob b = layers.get(i);
            chain = chain == null ? b.diffId() : "sha256:" + sha256Hex(bytes(chain + " " + b.diffId()));
            Map<String, Object> v1 = new LinkedHashMap<>();
            v1.put("created", i == layers.size() - 1 ? CREATED : "1970-01-01T00:00:00Z");
            v1.put("layer_id", chain);
            if (parent != null) v1.put("parent", "sha256:" + parent);
            String id = sha256Hex(json(v1));
            Map<String, Object> legacyJson = new LinkedHashMap<>();
            legacyJson.put("id", id);
            if (parent != null) legacyJson.put("parent", parent);
            legacyJson.put("created", v1.get("created"));
            legacyJson.put("container_config", emptyContainerConfig());
            if (i == layers.size() - 1) {
                legacyJson.put("config", busyboxContainerConfig());
                legacyJson.put("architecture", "amd64");
            }
            legacyJson.put("os", "linux");
            o.dir(id + "/");
            o.file(id + "/VERSION", bytes("1.0"));
            o.file(id + "/json", json(legacyJson));
            o.file(id + "/layer.tar", b);
            layerPaths.add(id + "/layer.tar");
            parent = id;
        }
        o.file(configHex + ".json", config);
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("Config", configHex + ".json");
        item.put("RepoTags", List.of(repoTag));
        item.put("Layers", layerPaths);
        o.file("manifest.json", json(List.of(item)));
        o.file("repositories", json(repositories(List.of(repoTag), parent)));
        o.write(out);
        return new ImageArchive(out, "sha256:" + configHex, List.of(repoTag), List.of(b1.diffId(), b2.diffId()),
                List.of(b1.digest(), b2.digest()), null, Format.LEGACY_DOCKER_ARCHIVE);
    }

    /**
     * Pure OCI image layout tarball (no manifest.json): busybox layer + a small layer, both gzip.
     * index.json annotations: org.opencontainers.image.ref.name = refName,
     * io.containerd.image.name = docker.io/library/ocitest:refName. repoTags = ["ocitest:refName"].
     */
    public static ImageArchive ociLayout(Path out, String refName) throws IOException {
        return oci(out, refName, false);
    }

    /** Like {@link #ociLayout} but the layers are {@value #OCI_LAYER_ZSTD}. */
    public static ImageArchive ociLayoutZstd(Path out, String refName) throws IOException {
        return oci(out, refName, true);
    }

    private static ImageArchive oci(Path out, String refName, boolean zstd) throws IOException {
        Blob raw1 = Blob.ofBytes(busyboxLayer().toBytes(), OCI_LAYER, null);
        Blob raw2 = Blob.ofBytes(new Layer().dir("etc", 0755)
                .file("etc/ocitest", 0644, zstd ? "oci zstd\n" : "oci gzip\n").toBytes(), OCI_LAYER, null);
        Blob b1 = zstd ? Blob.zstd(raw1, null) : Blob.gzip(raw1, OCI_LAYER_GZIP, null);
        Blob b2 = zstd ? Blob.zstd(raw2, null) : Blob.gzip(raw2, OCI_LAYER_GZIP, null);
        byte[] config = config(List.of(b1.diffId(), b2.diffId()), busyboxContainerConfig(),
                List.of(history(BUSYBOX_CREATED_BY, false),
                        history("RUN /bin/sh -c echo oci > /etc/ocitest # buildkit", false),
                        history("CMD [\"sh\"]", true)));
        String repoTag = "ocitest:" + refName;
        DockerArchive d = new DockerArchive(List.of(repoTag), List.of(b1, b2), config, false);
        d.legacyManifest = false;
        d.indexAnnotations = Map.of("io.containerd.image.name", "docker.io/library/" + repoTag,
                "org.opencontainers.image.ref.name", refName);
        ImageArchive a = d.write(out);
        return new ImageArchive(a.path(), a.imageId(), a.repoTags(), a.diffIds(), a.layerDigests(),
                a.manifestDigest(), Format.OCI_LAYOUT);
    }

    /**
     * A busybox base layer plus {@code layers} data layers of pseudo-random (incompressible) files whose
     * sizes sum to exactly {@code totalBytes}; deterministic for a seed. Layers are uncompressed and spooled
     * through temporary files next to {@code out}, so memory use stays small. Docker 25+ layout.
     */
    public static ImageArchive sizedImage(Path out, String tag, long totalBytes, int layers, long seed)
            throws IOException {
        if (layers < 1 || totalBytes < 0) throw new IllegalArgumentException("layers >= 1, totalBytes >= 0");
        try (Scratch scratch = new Scratch(out)) {
            List<Blob> blobs = new ArrayList<>();
            blobs.add(Blob.ofBytes(busyboxLayer().toBytes(), OCI_LAYER, null));
            long perLayer = totalBytes / layers;
            final long fileMax = 16L << 20;
            for (int i = 0; i < layers; i++) {
                long bytesHere = i == layers - 1 ? totalBytes - perLayer * (layers - 1) : perLayer;
                Layer l = new Layer().dir("data", 0755).dir(String.format("data/layer%03d", i), 0755);
                int f = 0;
                long left = bytesHere;
                do {
                    long sz = Math.min(left, fileMax);
                    long fileSeed = seed * 0x9E3779B97F4A7C15L + ((long) i << 32) + f;
                    l.file(String.format("data/layer%03d/file%04d.bin", i, f), 0644, sz, os -> randomBytes(os, sz, fileSeed));
                    left -= sz;
                    f++;
                } while (left > 0);
                blobs.add(l.toBlob(OCI_LAYER, scratch));
            }
            List<String> diffIds = blobs.stream().map(Blob::diffId).toList();
            List<Map<String, Object>> hist = new ArrayList<>();
            hist.add(history(BUSYBOX_CREATED_BY, false));
            for (int i = 0; i < layers; i++) hist.add(history("COPY layer" + i + " /data/ # random", false));
            hist.add(history("CMD [\"sh\"]", true));
            byte[] config = config(diffIds, busyboxContainerConfig(), hist);
            return DockerArchive.standard(List.of(normalizeTag(tag)), blobs, config, false).write(out);
        }
    }

    /** A plain rootfs tarball (busybox layer content, not an image) for {@code docker import}. */
    public static Path rootfsTar(Path out) throws IOException {
        mkParent(out);
        try (OutputStream os = Files.newOutputStream(out)) {
            busyboxLayer().writeTo(os);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------
    // shared pieces (package-private: HostileArchives uses them)

    static final String BUSYBOX_CREATED_BY =
            "ADD file:busybox-static in / # berth TestImages: /bin/busybox + applet symlinks, FROM scratch";

    static byte[] busyboxBinary() throws IOException {
        String p = System.getProperty("berth.test.busybox");
        if (p == null) p = System.getenv("BERTH_TEST_BUSYBOX");
        if (p == null) p = "/bin/busybox";
        Path bin = Path.of(p);
        if (!Files.isRegularFile(bin)) {
            throw new IOException(bin + " not found: apt-get install -y busybox-static (or set berth.test.busybox)");
        }
        return Files.readAllBytes(bin);
    }

    /** The busybox rootfs as a layer. */
    static Layer busyboxLayer() throws IOException {
        Layer l = new Layer();
        l.dir("bin", 0755).file("bin/busybox", 0755, busyboxBinary());
        for (String a : APPLETS) l.symlink("bin/" + a, "busybox");
        l.dir("dev", 0755);
        l.dir("etc", 0755)
                .file("etc/group", 0644, "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\n"
                        + "disk:x:6:\nwheel:x:10:root\nstaff:x:50:\nusers:x:100:\nnogroup:x:65534:\n")
                .file("etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\n"
                        + "daemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\n"
                        + "nobody:x:65534:65534:nobody:/home:/bin/false\n");
        l.dir("home", 0755).dir("proc", 0755).dir("root", 0700).dir("sys", 0755).dir("tmp", 01777)
                .dir("usr", 0755).dir("usr/bin", 0755).dir("usr/sbin", 0755).dir("var", 0755);
        return l;
    }

    static Map<String, Object> busyboxContainerConfig() {
        Map<String, Object> cc = new LinkedHashMap<>();
        cc.put("Cmd", List.of("sh"));
        cc.put("Env", List.of(PATH_ENV));
        return cc;
    }

    private static Map<String, Object> emptyContainerConfig() {
        Map<String, Object> cc = new LinkedHashMap<>();
        cc.put("Cmd", null);
        cc.put("Env", null);
        return cc;
    }

    static Map<String, Object> history(String createdBy, boolean emptyLayer) {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("created", CREATED);
        h.put("created_by", createdBy);
        if (emptyLayer) h.put("empty_layer", true);
        return h;
    }

    /** Image config JSON (keys in Docker's order), amd64/linux, fixed created. */
    static byte[] config(List<String> diffIds, Map<String, Object> containerConfig, List<Map<String, Object>> history) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architecture", "amd64");
        c.put("config", containerConfig);
        c.put("created", CREATED);
        c.put("history", history);
        c.put("os", "linux");
        Map<String, Object> rootfs = new LinkedHashMap<>();
        rootfs.put("type", "layers");
        rootfs.put("diff_ids", diffIds);
        c.put("rootfs", rootfs);
        return json(c);
    }

    /** "busybox" → "busybox:latest"; "a/b:t" unchanged. */
    static String normalizeTag(String tag) {
        int slash = tag.lastIndexOf('/');
        return tag.indexOf(':', slash + 1) < 0 ? tag + ":latest" : tag;
    }

    /** "busybox:latest" → "docker.io/library/busybox:latest". */
    static String fullName(String repoTag) {
        int slash = repoTag.indexOf('/');
        if (slash < 0) return "docker.io/library/" + repoTag;
        String first = repoTag.substring(0, slash);
        if (first.contains(".") || first.contains(":") || first.equals("localhost")) return repoTag;
        return "docker.io/" + repoTag;
    }

    static String repoOf(String repoTag) {
        return repoTag.substring(0, repoTag.lastIndexOf(':'));
    }

    static String tagOf(String repoTag) {
        return repoTag.substring(repoTag.lastIndexOf(':') + 1);
    }

    static Map<String, Object> repositories(List<String> repoTags, String topHex) {
        Map<String, Object> r = new LinkedHashMap<>();
        for (String rt : repoTags) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) r.computeIfAbsent(repoOf(rt), k -> new LinkedHashMap<>());
            m.put(tagOf(rt), topHex);
        }
        return r;
    }

    private static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);

    /**
     * Compact JSON. LinkedHashMaps keep their insertion order (Docker's struct field order); any other map
     * (e.g. Map.of, whose iteration order varies between JVM runs) is written with sorted keys.
     */
    static byte[] json(Object o) {
        try {
            return JSON.writeValueAsBytes(canonical(o));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Object canonical(Object o) {
        if (o instanceof Map<?, ?> m) {
            Map<String, Object> r = m instanceof LinkedHashMap ? new LinkedHashMap<>() : new TreeMap<>();
            m.forEach((k, v) -> r.put(String.valueOf(k), canonical(v)));
            return r;
        }
        if (o instanceof List<?> l) return l.stream().map(TestImages::canonical).toList();
        return o;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha256Hex(byte[] b) {
        return HexFormat.of().formatHex(sha256().digest(b));
    }

    static void mkParent(Path out) throws IOException {
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
    }

    /** Writes {@code size} deterministic pseudo-random bytes. */
    static void randomBytes(OutputStream os, long size, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] buf = new byte[64 * 1024];
        long left = size;
        while (left > 0) {
            int n = (int) Math.min(buf.length, left);
            for (int i = 0; i < n; i += 8) {
                long v = r.nextLong();
                for (int k = 0; k < 8 && i + k < n; k++) buf[i + k] = (byte) (v >>> (8 * k));
            }
            os.write(buf, 0, n);
            left -= n;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // nested helpers

    /** Writes exactly the declared number of bytes of an entry's content. */
    @FunctionalInterface
    interface Content {
        void writeTo(OutputStream os) throws IOException;
    }

    /** One tar entry. Names are written verbatim (no normalization), so hostile names survive. */
    static final class Entry {
        char type = '0';            // '0' file, '1' hardlink, '2' symlink, '5' dir
        String name;
        String linkName = "";
        int mode = 0644;            // permission + suid/sgid/sticky bits only
        long uid, gid;
        long size;
        long mtime = MTIME;
        byte[] data;                // or
        Content content;            // streamed content of exactly `size` bytes
        final Map<String, String> pax = new TreeMap<>();

        static Entry file(String name, int mode, byte[] data) {
            Entry e = new Entry();
            e.name = name;
            e.mode = mode;
            e.data = data;
            e.size = data.length;
            return e;
        }

        static Entry dir(String name, int mode) {
            Entry e = new Entry();
            e.type = '5';
            e.name = name.endsWith("/") ? name : name + "/";
            e.mode = mode;
            return e;
        }

        static Entry link(char type, String name, String target) {
            Entry e = new Entry();
            e.type = type;
            e.name = name;
            e.linkName = target;
            e.mode = type == '2' ? 0777 : 0644;
            return e;
        }
    }

    /**
     * Minimal PAX tar writer (what Go's archive/tar emits for docker layers): ustar headers, PAX 'x'
     * records for long/non-ASCII names, big sizes/ids and xattrs; no block padding beyond the two
     * end-of-archive zero records. Deterministic. Records data offsets of entries.
     */
    static final class TarWriter implements Closeable {
        private final CountingOutputStream out;
        private final Map<String, Long> dataOffsets = new LinkedHashMap<>();
        private boolean finished;

        TarWriter(OutputStream os) {
            this.out = new CountingOutputStream(os);
        }

        /** Offset in the stream where each entry's data starts. */
        Map<String, Long> dataOffsets() {
            return dataOffsets;
        }

        void write(Entry e) throws IOException {
            writeHeader(e);
            dataOffsets.put(e.name, out.count);
            if (e.data != null) {
                out.write(e.data);
            } else if (e.content != null) {
                long before = out.count;
                e.content.writeTo(out);
                if (out.count - before != e.size) {
                    throw new IOException("entry " + e.name + ": wrote " + (out.count - before) + " of " + e.size);
                }
            }
            pad(e.size);
        }

        void writeHeader(Entry e) throws IOException {
            byte[] nameB = bytes(e.name);
            byte[] linkB = bytes(e.linkName);
            Map<String, String> pax = new LinkedHashMap<>();
            if (nameB.length > 100 || !isAscii(e.name)) pax.put("path", e.name);
            if (linkB.length > 100 || !isAscii(e.linkName)) pax.put("linkpath", e.linkName);
            if (e.size > 077777777777L) pax.put("size", Long.toString(e.size));
            if (e.uid > 07777777) pax.put("uid", Long.toString(e.uid));
            if (e.gid > 07777777) pax.put("gid", Long.toString(e.gid));
            pax.putAll(e.pax);
            if (!pax.isEmpty()) {
                byte[] records = paxRecords(pax);
                String base = e.name.replaceAll("/+$", "");
                base = base.substring(base.lastIndexOf('/') + 1);
                Entry x = new Entry();
                x.type = 'x';
                x.name = "PaxHeaders.0/" + base;
                x.size = records.length;
                x.mtime = e.mtime;
                out.write(header(x));
                out.write(records);
                pad(records.length);
            }
            out.write(header(e));
        }

        private static byte[] header(Entry e) {
            byte[] h = new byte[512];
            put(h, 0, 100, ascii(e.name, 100));
            octal(h, 100, 8, e.mode);
            octal(h, 108, 8, Math.min(e.uid, 07777777));
            octal(h, 116, 8, Math.min(e.gid, 07777777));
            octal(h, 124, 12, e.size > 077777777777L ? 0 : e.size);
            octal(h, 136, 12, e.mtime);
            Arrays.fill(h, 148, 156, (byte) ' ');
            h[156] = (byte) e.type;
            put(h, 157, 100, ascii(e.linkName, 100));
            put(h, 257, 6, new byte[]{'u', 's', 't', 'a', 'r', 0});
            put(h, 263, 2, new byte[]{'0', '0'});
            octal(h, 329, 8, 0);
            octal(h, 337, 8, 0);
            long sum = 0;
            for (byte b : h) sum += b & 0xff;
            octal(h, 148, 7, sum);   // 6 digits + NUL, then the space left from the fill
            return h;
        }

        private static byte[] ascii(String s, int max) {
            StringBuilder sb = new StringBuilder();
            for (char c : s.toCharArray()) sb.append(c < 128 ? c : '_');
            byte[] b = sb.toString().getBytes(StandardCharsets.US_ASCII);
            return b.length > max ? Arrays.copyOf(b, max) : b;
        }

        private static boolean isAscii(String s) {
            return s.chars().allMatch(c -> c < 128);
        }

        private static void put(byte[] h, int off, int len, byte[] v) {
            System.arraycopy(v, 0, h, off, Math.min(len, v.length));
        }

        private static void octal(byte[] h, int off, int len, long v) {
            String s = Long.toOctalString(v);
            if (s.length() > len - 1) throw new IllegalArgumentException("value too large for tar field: " + v);
            s = "0".repeat(len - 1 - s.length()) + s;
            put(h, off, len - 1, s.getBytes(StandardCharsets.US_ASCII));
            h[off + len - 1] = 0;
        }

        static byte[] paxRecords(Map<String, String> kv) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (Map.Entry<String, String> r : kv.entrySet()) {
                int len = bytes(r.getKey()).length + bytes(r.getValue()).length + 3;
                int total = len + Integer.toString(len).length();
                if (Integer.toString(total).length() > Integer.toString(len).length()) total++;
                b.writeBytes(bytes(total + " " + r.getKey() + "=" + r.getValue() + "\n"));
            }
            return b.toByteArray();
        }

        void pad(long size) throws IOException {
            int rem = (int) (size % 512);
            if (rem != 0) out.write(new byte[512 - rem]);
        }

        long position() {
            return out.count;
        }

        void finish() throws IOException {
            if (!finished) {
                out.write(new byte[1024]);
                finished = true;
            }
            out.flush();
        }

        @Override
        public void close() throws IOException {
            finish();
            out.close();
        }
    }

    static final class CountingOutputStream extends FilterOutputStream {
        long count;

        CountingOutputStream(OutputStream os) {
            super(os);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }

    /** Output stream that hashes what passes through. */
    static final class HashingOutputStream extends FilterOutputStream {
        final MessageDigest md = sha256();
        long count;

        HashingOutputStream(OutputStream os) {
            super(os);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            md.update((byte) b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            md.update(b, off, len);
            count += len;
        }

        String hex() {
            return HexFormat.of().formatHex(md.digest());
        }
    }

    /**
     * A layer filesystem: entries in insertion order; missing parent directories are added (0755 root)
     * before their children unless {@link #raw} is used.
     */
    static final class Layer {
        final List<Entry> entries = new ArrayList<>();
        private final java.util.Set<String> dirs = new java.util.HashSet<>();

        private void parents(String path) {
            String[] parts = path.split("/");
            StringBuilder p = new StringBuilder();
            for (int i = 0; i < parts.length - 1; i++) {
                if (i > 0) p.append('/');
                p.append(parts[i]);
                if (dirs.add(p.toString())) entries.add(Entry.dir(p.toString(), 0755));
            }
        }

        Layer dir(String path, int mode) {
            path = strip(path);
            parents(path);
            if (dirs.add(path)) entries.add(Entry.dir(path, mode));
            else for (Entry e : entries) if (e.type == '5' && e.name.equals(path + "/")) e.mode = mode;
            return this;
        }

        Layer file(String path, int mode, String data) {
            return file(path, mode, bytes(data));
        }

        Layer file(String path, int mode, byte[] data) {
            return file(path, mode, 0, 0, data, Map.of());
        }

        Layer file(String path, int mode, long uid, long gid, byte[] data, Map<String, String> pax) {
            path = strip(path);
            parents(path);
            Entry e = Entry.file(path, mode, data);
            e.uid = uid;
            e.gid = gid;
            e.pax.putAll(pax);
            entries.add(e);
            return this;
        }

        Layer file(String path, int mode, long size, Content content) {
            path = strip(path);
            parents(path);
            Entry e = new Entry();
            e.name = path;
            e.mode = mode;
            e.size = size;
            e.content = content;
            entries.add(e);
            return this;
        }

        Layer symlink(String path, String target) {
            path = strip(path);
            parents(path);
            entries.add(Entry.link('2', path, target));
            return this;
        }

        /** target: path (relative to the layer root) of a file earlier in this layer. */
        Layer hardlink(String path, String target) {
            path = strip(path);
            parents(path);
            entries.add(Entry.link('1', path, strip(target)));
            return this;
        }

        Layer whiteout(String path) {
            path = strip(path);
            int i = path.lastIndexOf('/');
            return file(path.substring(0, i + 1) + ".wh." + path.substring(i + 1), 0644, new byte[0]);
        }

        Layer opaque(String dir) {
            dir(dir, 0755);
            return file(strip(dir) + "/.wh..wh..opq", 0644, new byte[0]);
        }

        /** Adds an entry exactly as given (no parent dirs, no name cleanup). */
        Layer raw(Entry e) {
            entries.add(e);
            return this;
        }

        private static String strip(String p) {
            return p.replaceAll("^/+", "").replaceAll("/+$", "");
        }

        void writeTo(OutputStream os) throws IOException {
            TarWriter t = new TarWriter(os);
            for (Entry e : entries) t.write(e);
            t.finish();
        }

        byte[] toBytes() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            writeTo(b);
            return b.toByteArray();
        }

        /** Uncompressed layer blob, spooled to a scratch file (or memory if scratch is null). */
        Blob toBlob(String mediaType, Scratch scratch) throws IOException {
            if (scratch == null) return Blob.ofBytes(toBytes(), mediaType, null);
            Path f = scratch.newFile();
            String hex;
            long size;
            try (HashingOutputStream h = new HashingOutputStream(
                    new java.io.BufferedOutputStream(Files.newOutputStream(f), 1 << 16))) {
                writeTo(h);
                h.flush();
                hex = h.hex();
                size = h.count;
            }
            return new Blob(hex, size, null, f, mediaType, hex);
        }
    }

    /** Content-addressed blob held in memory or in a file. */
    static final class Blob {
        final String hex;
        final long size;
        final byte[] bytes;
        final Path file;
        final String mediaType;
        final String diffIdHex;   // sha256 of the uncompressed content (layers only)

        Blob(String hex, long size, byte[] bytes, Path file, String mediaType, String diffIdHex) {
            this.hex = hex;
            this.size = size;
            this.bytes = bytes;
            this.file = file;
            this.mediaType = mediaType;
            this.diffIdHex = diffIdHex;
        }

        /** An uncompressed blob (diffIdHex null → same as its own digest). */
        static Blob ofBytes(byte[] b, String mediaType, String diffIdHex) {
            String hex = sha256Hex(b);
            return new Blob(hex, b.length, b, null, mediaType, diffIdHex == null ? hex : diffIdHex);
        }

        /** Same content, different name/metadata (for planting mismatches). */
        Blob withHex(String newHex) {
            return new Blob(newHex, size, bytes, file, mediaType, diffIdHex);
        }

        String digest() {
            return "sha256:" + hex;
        }

        String diffId() {
            return "sha256:" + diffIdHex;
        }

        InputStream open() throws IOException {
            return bytes != null ? new java.io.ByteArrayInputStream(bytes) : Files.newInputStream(file);
        }

        byte[] readAll() throws IOException {
            if (bytes != null) return bytes;
            return Files.readAllBytes(file);
        }

        static Blob gzip(Blob raw, String mediaType, Scratch scratch) throws IOException {
            return compress(raw, mediaType, scratch, os -> new GZIPOutputStream(os, 1 << 16));
        }

        static Blob gzip(Blob raw, String mediaType, int level) throws IOException {
            return compress(raw, mediaType, null, os -> new GZIPOutputStream(os, 1 << 16) {
                {
                    def.setLevel(level);
                }
            });
        }

        static Blob zstd(Blob raw, Scratch scratch) throws IOException {
            return compress(raw, OCI_LAYER_ZSTD, scratch,
                    os -> ZstdCompressorOutputStream.builder().setOutputStream(os).setLevel(3).get());
        }

        interface Wrapper {
            OutputStream wrap(OutputStream os) throws IOException;
        }

        private static Blob compress(Blob raw, String mediaType, Scratch scratch, Wrapper w) throws IOException {
            if (scratch == null && raw.bytes != null) {
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                try (OutputStream z = w.wrap(b); InputStream in = raw.open()) {
                    in.transferTo(z);
                }
                byte[] c = b.toByteArray();
                return new Blob(sha256Hex(c), c.length, c, null, mediaType, raw.diffIdHex);
            }
            if (scratch == null) throw new IllegalArgumentException("file blob needs a scratch dir");
            Path f = scratch.newFile();
            HashingOutputStream h = new HashingOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(f)));
            try (OutputStream z = w.wrap(h); InputStream in = raw.open()) {
                in.transferTo(z);
            }
            return new Blob(h.hex(), h.count, null, f, mediaType, raw.diffIdHex);
        }
    }

    /** Temporary directory next to the output; removed on close. */
    static final class Scratch implements Closeable {
        final Path dir;
        private int n;

        Scratch(Path out) throws IOException {
            mkParent(out);
            this.dir = Files.createTempDirectory(out.toAbsolutePath().getParent(), ".testimages-");
        }

        Path newFile() {
            return dir.resolve("blob" + (n++));
        }

        @Override
        public void close() throws IOException {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

    /** The outer archive: an ordered list of members written with fixed metadata. */
    static final class Outer {
        final List<Entry> members = new ArrayList<>();
        final Map<String, Blob> blobs = new LinkedHashMap<>();
        /** After {@link #write}: where each member's data starts in the file. */
        Map<String, Long> dataOffsets = Map.of();

        Outer dir(String name) {
            members.add(Entry.dir(name, 0755));
            return this;
        }

        /** Adds a file member, or replaces the content of an existing member of that name in place. */
        Outer file(String name, byte[] data) {
            put(Entry.file(name, 0644, data));
            blobs.remove(name);
            return this;
        }

        Outer file(String name, Blob b) {
            Entry e = new Entry();
            e.name = name;
            e.size = b.size;
            if (b.bytes != null) e.data = b.bytes;
            else e.content = os -> {
                try (InputStream in = b.open()) {
                    in.transferTo(os);
                }
            };
            put(e);
            blobs.put(name, b);
            return this;
        }

        private void put(Entry e) {
            for (int i = 0; i < members.size(); i++) {
                if (members.get(i).name.equals(e.name)) {
                    members.set(i, e);
                    return;
                }
            }
            members.add(e);
        }

        Outer remove(String name) {
            members.removeIf(e -> e.name.equals(name));
            blobs.remove(name);
            return this;
        }

        boolean has(String name) {
            return members.stream().anyMatch(e -> e.name.equals(name));
        }

        void write(Path out) throws IOException {
            mkParent(out);
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            try (TarWriter t = new TarWriter(new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16))) {
                for (Entry e : members) t.write(e);
                t.finish();
                dataOffsets = Map.copyOf(t.dataOffsets());
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /**
     * Docker 25+ docker-save layout (OCI layout + manifest.json + repositories), or a pure OCI layout
     * with {@code legacyManifest = false}. Fields may be adjusted before {@link #build()}.
     */
    static final class DockerArchive {
        final List<String> repoTags;
        final List<Blob> layers;
        byte[] config;
        final boolean dockerMediaTypes;
        boolean legacyManifest = true;     // write manifest.json + repositories
        boolean ociIndex = true;           // write oci-layout + index.json + manifest blob
        Map<String, String> indexAnnotations; // null → derived from the first repo tag

        DockerArchive(List<String> repoTags, List<Blob> layers, byte[] config, boolean dockerMediaTypes) {
            this.repoTags = repoTags;
            this.layers = layers;
            this.config = config;
            this.dockerMediaTypes = dockerMediaTypes;
        }

        static DockerArchive standard(List<String> repoTags, List<Blob> layers, byte[] config,
                                      boolean dockerMediaTypes) {
            return new DockerArchive(repoTags, layers, config, dockerMediaTypes);
        }

        String configHex() {
            return sha256Hex(config);
        }

        byte[] manifestBytes() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("schemaVersion", 2);
            m.put("mediaType", dockerMediaTypes ? DOCKER_MANIFEST : OCI_MANIFEST);
            m.put("config", descriptor(dockerMediaTypes ? DOCKER_CONFIG : OCI_CONFIG, "sha256:" + configHex(),
                    config.length));
            List<Object> ls = new ArrayList<>();
            for (Blob b : layers) ls.add(descriptor(b.mediaType, b.digest(), b.size));
            m.put("layers", ls);
            return json(m);
        }

        private static Map<String, Object> descriptor(String mt, String digest, long size) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("mediaType", mt);
            d.put("digest", digest);
            d.put("size", size);
            return d;
        }

        /** Builds the outer archive model; callers may tamper with it before writing. */
        Outer build() {
            Outer o = new Outer();
            String cfgHex = configHex();
            byte[] manifest = manifestBytes();
            String manHex = sha256Hex(manifest);
            // blobs in sorted order, like docker's archive of its temp dir
            TreeMap<String, Object> blobs = new TreeMap<>();
            for (Blob b : layers) blobs.put(b.hex, b);
            blobs.put(cfgHex, config);
            if (ociIndex) blobs.put(manHex, manifest);
            o.dir("blobs/").dir("blobs/sha256/");
            for (Map.Entry<String, Object> e : blobs.entrySet()) {
                if (e.getValue() instanceof Blob b) o.file("blobs/sha256/" + e.getKey(), b);
                else o.file("blobs/sha256/" + e.getKey(), (byte[]) e.getValue());
            }
            if (ociIndex) {
                Map<String, Object> desc = descriptor(dockerMediaTypes ? DOCKER_MANIFEST : OCI_MANIFEST,
                        "sha256:" + manHex, manifest.length);
                Map<String, String> ann = indexAnnotations;
                if (ann == null) {
                    ann = new LinkedHashMap<>();
                    ann.put("io.containerd.image.name", fullName(repoTags.get(0)));
                    ann.put("org.opencontainers.image.ref.name", tagOf(repoTags.get(0)));
                }
                desc.put("annotations", ann);
                Map<String, Object> plat = new LinkedHashMap<>();
                plat.put("architecture", "amd64");
                plat.put("os", "linux");
                desc.put("platform", plat);
                Map<String, Object> index = new LinkedHashMap<>();
                index.put("schemaVersion", 2);
                index.put("mediaType", OCI_INDEX);
                index.put("manifests", List.of(desc));
                o.file("index.json", json(index));
            }
            if (legacyManifest) {
                Map<String, Object> item = new LinkedHashMap<>();
                item.put("Config", "blobs/sha256/" + cfgHex);
                item.put("RepoTags", repoTags);
                item.put("Layers", layers.stream().map(b -> "blobs/sha256/" + b.hex).toList());
                o.file("manifest.json", nl(json(List.of(item))));
            }
            if (ociIndex) o.file("oci-layout", bytes("{\"imageLayoutVersion\":\"1.0.0\"}"));
            if (legacyManifest && !repoTags.isEmpty()) {
                o.file("repositories", nl(json(repositories(repoTags, layers.get(layers.size() - 1).diffIdHex))));
            }
            return o;
        }

        ImageArchive info(Path out) {
            return new ImageArchive(out, "sha256:" + configHex(), repoTags,
                    layers.stream().map(Blob::diffId).toList(), layers.stream().map(Blob::digest).toList(),
                    ociIndex ? "sha256:" + sha256Hex(manifestBytes()) : null, Format.DOCKER_ARCHIVE);
        }

        ImageArchive write(Path out) throws IOException {
            build().write(out);
            return info(out);
        }

        private static byte[] nl(byte[] b) {
            byte[] r = Arrays.copyOf(b, b.length + 1);
            r[b.length] = '\n';
            return r;
        }
    }

    /**
     * Streams a gzip'd single-file layer tar whose file is {@code fileSize} zero bytes (for bombs).
     * Compression happens once per 4 MiB chunk of zeros: the deflate output of a chunk that follows a
     * FULL_FLUSH is self-contained, so it is replayed for every further chunk; ~1000:1 ratio.
     *
     * @return {compressedHex, diffIdHex (null unless computeDiffId), compressedSize}
     */
    static String[] writeZeroBombLayer(OutputStream dest, String fileName, long fileSize) throws IOException {
        return writeZeroBombLayer(dest, fileName, fileSize, true);
    }

    static String[] writeZeroBombLayer(OutputStream dest, String fileName, long fileSize, boolean computeDiffId)
            throws IOException {
        Entry e = new Entry();
        e.name = fileName;
        e.mode = 0644;
        e.size = fileSize;
        ByteArrayOutputStream hb = new ByteArrayOutputStream();
        new TarWriter(hb).writeHeader(e);
        byte[] head = hb.toByteArray();
        long pad = (512 - fileSize % 512) % 512;
        long zeros = fileSize + pad + 1024;   // file data, padding, end-of-archive records

        MessageDigest diff = sha256();
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        diff.update(head);
        crc.update(head);

        HashingOutputStream out = new HashingOutputStream(dest);
        out.write(new byte[]{0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 2, (byte) 0xff});
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
        byte[] obuf = new byte[1 << 16];
        d.setInput(head);
        drain(d, out, obuf, Deflater.FULL_FLUSH);
        final int chunk = 4 << 20;
        byte[] zero = new byte[chunk];
        long fullChunks = zeros / chunk;
        int rest = (int) (zeros % chunk);
        if (fullChunks > 0) {
            ByteArrayOutputStream cb = new ByteArrayOutputStream();
            d.setInput(zero);
            drain(d, cb, obuf, Deflater.FULL_FLUSH);
            byte[] compressedChunk = cb.toByteArray();
            for (long i = 0; i < fullChunks; i++) {
                out.write(compressedChunk);
                if (computeDiffId) diff.update(zero);
                crc.update(zero);
            }
        }
        d.setInput(zero, 0, rest);
        d.finish();
        while (!d.finished()) {
            int n = d.deflate(obuf);
            out.write(obuf, 0, n);
        }
        d.end();
        diff.update(zero, 0, rest);
        crc.update(zero, 0, rest);
        long isize = head.length + zeros;
        byte[] trailer = new byte[8];
        long c = crc.getValue();
        for (int i = 0; i < 4; i++) {
            trailer[i] = (byte) (c >>> (8 * i));
            trailer[4 + i] = (byte) (isize >>> (8 * i));
        }
        out.write(trailer);
        out.flush();
        return new String[]{out.hex(), computeDiffId ? HexFormat.of().formatHex(diff.digest()) : null,
                Long.toString(out.count)};
    }

    private static void drain(Deflater d, OutputStream out, byte[] buf, int flush) throws IOException {
        while (true) {
            int n = d.deflate(buf, 0, buf.length, flush);
            out.write(buf, 0, n);
            if (n < buf.length && d.needsInput()) return;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // CLI

    /**
     * {@code TestImages KIND OUT [ARGS]}:
     * <pre>
     *   busybox    OUT [TAG=busybox:latest]
     *   multilayer OUT [TAG=berth/multilayer:latest]
     *   legacy     OUT [TAG=berth/legacy:latest]
     *   oci        OUT [REF=v1]
     *   oci-zstd   OUT [REF=v1]
     *   sized      OUT TAG TOTAL_BYTES LAYERS [SEED=1]
     *   rootfs     OUT
     *   hostile    NAME OUT [SIZE]   (see HostileArchives.main; NAME=list prints the names)
     * </pre>
     * Prints {@code path<TAB>imageId<TAB>repoTags<TAB>diffIds} (comma-separated lists).
     */
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: TestImages busybox|multilayer|legacy|oci|oci-zstd|sized|rootfs|hostile OUT [ARGS]");
            System.exit(2);
        }
        if (args[0].equals("hostile")) {
            HostileArchives.main(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        if (args.length < 2) {
            System.err.println("missing OUT");
            System.exit(2);
        }
        Path out = Path.of(args[1]);
        String a2 = args.length > 2 ? args[2] : null;
        ImageArchive r;
        switch (args[0]) {
            case "busybox" -> r = busybox(out, a2 != null ? a2 : "busybox:latest");
            case "multilayer" -> r = multiLayer(out, a2 != null ? a2 : "berth/multilayer:latest");
            case "legacy" -> r = legacyArchive(out, a2 != null ? a2 : "berth/legacy:latest");
            case "oci" -> r = ociLayout(out, a2 != null ? a2 : "v1");
            case "oci-zstd" -> r = ociLayoutZstd(out, a2 != null ? a2 : "v1");
            case "sized" -> {
                if (args.length < 5) {
                    System.err.println("usage: sized OUT TAG TOTAL_BYTES LAYERS [SEED]");
                    System.exit(2);
                }
                r = sizedImage(out, args[2], Long.parseLong(args[3]), Integer.parseInt(args[4]),
                        args.length > 5 ? Long.parseLong(args[5]) : 1L);
            }
            case "rootfs" -> {
                System.out.println(rootfsTar(out));
                return;
            }
            default -> {
                System.err.println("unknown kind " + args[0]);
                System.exit(2);
                return;
            }
        }
        System.out.println(r.path() + "\t" + r.imageId() + "\t" + String.join(",", r.repoTags()) + "\t"
                + String.join(",", r.diffIds()));
    }
}
