package berth.engine.testing;

import berth.engine.testing.TestImages.ImageArchive;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TestImagesTest {

    private static final ObjectMapper M = new ObjectMapper();

    @TempDir
    Path dir;

    @BeforeAll
    static void needBusybox() {
        assumeTrue(Files.isRegularFile(Path.of("/bin/busybox")) || System.getProperty("berth.test.busybox") != null
                || System.getenv("BERTH_TEST_BUSYBOX") != null, "busybox-static not installed");
    }

    // ---------------------------------------------------------------------------------------------
    // reading helpers

    /** One tar entry as read by commons-compress. */
    record Member(TarArchiveEntry entry, byte[] data) {}

    static Map<String, Member> readTar(byte[] tar) throws IOException {
        Map<String, Member> m = new LinkedHashMap<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                m.put(e.getName(), new Member(e, in.readAllBytes()));
            }
        }
        return m;
    }

    static Map<String, Member> readTar(Path p) throws IOException {
        return readTar(Files.readAllBytes(p));
    }

    static byte[] data(Map<String, Member> tar, String name) {
        Member m = tar.get(name);
        assertNotNull(m, "missing archive member " + name + " in " + tar.keySet());
        return m.data();
    }

    static String sha(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static byte[] decompress(byte[] blob) throws IOException {
        if (blob.length > 2 && (blob[0] & 0xff) == 0x1f && (blob[1] & 0xff) == 0x8b) {
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(blob))) {
                return in.readAllBytes();
            }
        }
        if (blob.length > 4 && (blob[0] & 0xff) == 0x28 && (blob[1] & 0xff) == 0xb5 && (blob[2] & 0xff) == 0x2f
                && (blob[3] & 0xff) == 0xfd) {
            try (InputStream in = new ZstdCompressorInputStream(new ByteArrayInputStream(blob))) {
                return in.readAllBytes();
            }
        }
        return blob;
    }

    static JsonNode json(byte[] b) throws IOException {
        return M.readTree(b);
    }

    static List<String> strings(JsonNode arr) {
        List<String> r = new ArrayList<>();
        arr.forEach(n -> r.add(n.asText()));
        return r;
    }

    /** Every blobs/sha256/<hex> member's content hashes to <hex>. */
    static void assertBlobNamesMatch(Map<String, Member> tar) throws Exception {
        for (Map.Entry<String, Member> e : tar.entrySet()) {
            if (e.getKey().startsWith("blobs/sha256/") && !e.getValue().entry().isDirectory()) {
                assertEquals(e.getKey().substring("blobs/sha256/".length()), sha(e.getValue().data()), e.getKey());
            }
        }
    }

    /**
     * Checks a docker-archive / OCI-layout archive end to end and returns its members.
     * manifest.json (if expected) and index.json → manifest → config/layers: every referenced blob exists,
     * digests/sizes match, diff_ids = sha256 of uncompressed layers, image ID = sha256(config).
     */
    static Map<String, Member> verifyImage(ImageArchive a, boolean expectManifestJson, boolean expectOci)
            throws Exception {
        Map<String, Member> tar = readTar(a.path());
        assertBlobNamesMatch(tar);
        String cfgHex = a.imageId().substring(7);
        byte[] config = data(tar, "blobs/sha256/" + cfgHex);
        assertEquals(cfgHex, sha(config));
        JsonNode cfg = json(config);
        assertEquals("amd64", cfg.path("architecture").asText());
        assertEquals("linux", cfg.path("os").asText());
        assertEquals(TestImages.CREATED, cfg.path("created").asText());
        assertEquals("layers", cfg.path("rootfs").path("type").asText());
        List<String> diffIds = strings(cfg.path("rootfs").path("diff_ids"));
        assertEquals(a.diffIds(), diffIds);
        int nonEmpty = 0;
        for (JsonNode h : cfg.path("history")) if (!h.path("empty_layer").asBoolean(false)) nonEmpty++;
        assertEquals(diffIds.size(), nonEmpty, "non-empty history entries = layers");

        List<String> layerPaths = new ArrayList<>();
        for (String d : a.layerDigests()) layerPaths.add("blobs/sha256/" + d.substring(7));
        for (int i = 0; i < layerPaths.size(); i++) {
            byte[] blob = data(tar, layerPaths.get(i));
            assertEquals(a.layerDigests().get(i), "sha256:" + sha(blob));
            assertEquals(diffIds.get(i), "sha256:" + sha(decompress(blob)), "diff_id of layer " + i);
        }

        if (expectManifestJson) {
            JsonNode man = json(data(tar, "manifest.json"));
            assertEquals(1, man.size());
            JsonNode item = man.get(0);
            assertEquals("blobs/sha256/" + cfgHex, item.path("Config").asText());
            assertEquals(a.repoTags(), strings(item.path("RepoTags")));
            assertEquals(layerPaths, strings(item.path("Layers")));
            JsonNode repos = json(data(tar, "repositories"));
            for (String rt : a.repoTags()) {
                int c = rt.lastIndexOf(':');
                assertEquals(diffIds.get(diffIds.size() - 1).substring(7),
                        repos.path(rt.substring(0, c)).path(rt.substring(c + 1)).asText());
            }
        } else {
            assertFalse(tar.containsKey("manifest.json"));
            assertFalse(tar.containsKey("repositories"));
        }

        if (expectOci) {
            assertEquals("1.0.0", json(data(tar, "oci-layout")).path("imageLayoutVersion").asText());
            JsonNode index = json(data(tar, "index.json"));
            assertEquals(2, index.path("schemaVersion").asInt());
            assertEquals(TestImages.OCI_INDEX, index.path("mediaType").asText());
            JsonNode desc = index.path("manifests").get(0);
            assertEquals(a.manifestDigest(), desc.path("digest").asText());
            byte[] manifestBlob = data(tar, "blobs/sha256/" + a.manifestDigest().substring(7));
            assertEquals(desc.path("size").asLong(), manifestBlob.length);
            JsonNode manifest = json(manifestBlob);
            assertEquals(desc.path("mediaType").asText(), manifest.path("mediaType").asText());
            assertEquals(a.imageId(), manifest.path("config").path("digest").asText());
            assertEquals(config.length, manifest.path("config").path("size").asLong());
            JsonNode layers = manifest.path("layers");
            assertEquals(layerPaths.size(), layers.size());
            for (int i = 0; i < layers.size(); i++) {
                JsonNode l = layers.get(i);
                byte[] blob = data(tar, "blobs/sha256/" + l.path("digest").asText().substring(7));
                assertEquals(a.layerDigests().get(i), l.path("digest").asText());
                assertEquals(blob.length, l.path("size").asLong());
                String mt = l.path("mediaType").asText();
                boolean gz = (blob[0] & 0xff) == 0x1f && (blob[1] & 0xff) == 0x8b;
                boolean zst = (blob[0] & 0xff) == 0x28 && (blob[1] & 0xff) == 0xb5;
                assertEquals(gz, mt.endsWith("gzip"), mt);
                assertEquals(zst, mt.endsWith("zstd"), mt);
                if (!gz && !zst) assertTrue(mt.endsWith(".tar"), mt);
            }
        } else {
            assertFalse(tar.containsKey("index.json"));
        }
        return tar;
    }

    static Map<String, Member> layer(Map<String, Member> tar, String digest) throws IOException {
        return readTar(decompress(data(tar, "blobs/sha256/" + digest.substring(7))));
    }

    static void assertBusyboxLayer(Map<String, Member> l) throws IOException {
        Member bb = l.get("bin/busybox");
        assertNotNull(bb);
        assertEquals(0755, bb.entry().getMode() & 07777);
        assertArrayEquals(TestImages.busyboxBinary(), bb.data());
        for (String a : TestImages.APPLETS) {
            Member s = l.get("bin/" + a);
            assertNotNull(s, a);
            assertTrue(s.entry().isSymbolicLink(), a);
            assertEquals("busybox", s.entry().getLinkName());
        }
        assertEquals(01777, l.get("tmp/").entry().getMode() & 07777);
        for (String d : List.of("root/", "home/", "var/", "proc/", "sys/", "dev/", "etc/")) {
            assertTrue(l.get(d).entry().isDirectory(), d);
        }
        String passwd = new String(l.get("etc/passwd").data(), StandardCharsets.UTF_8);
        assertTrue(passwd.startsWith("root:x:0:0:"));
        assertTrue(passwd.contains("nobody:x:65534:65534:"));
        assertTrue(new String(l.get("etc/group").data(), StandardCharsets.UTF_8).contains("root:x:0:"));
        for (Member m : l.values()) {
            assertEquals(0, m.entry().getLongUserId());
            assertEquals(TestImages.MTIME, m.entry().getModTime().getTime() / 1000);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // images

    @Test
    void busybox() throws Exception {
        ImageArchive a = TestImages.busybox(dir.resolve("busybox.tar"), "busybox");
        assertEquals(List.of("busybox:latest"), a.repoTags());
        assertEquals(1, a.diffIds().size());
        Map<String, Member> tar = verifyImage(a, true, true);
        JsonNode cfg = json(data(tar, "blobs/sha256/" + a.imageId().substring(7)));
        assertEquals(List.of("sh"), strings(cfg.path("config").path("Cmd")));
        assertEquals(List.of(TestImages.PATH_ENV), strings(cfg.path("config").path("Env")));
        JsonNode ann = json(data(tar, "index.json")).path("manifests").get(0).path("annotations");
        assertEquals("docker.io/library/busybox:latest", ann.path("io.containerd.image.name").asText());
        assertEquals("latest", ann.path("org.opencontainers.image.ref.name").asText());
        assertEquals(a.diffIds().get(0), a.layerDigests().get(0), "docker save layers are uncompressed");
        assertBusyboxLayer(layer(tar, a.layerDigests().get(0)));
    }

    @Test
    void deterministic() throws Exception {
        ImageArchive a = TestImages.busybox(dir.resolve("a.tar"), "busybox:latest");
        ImageArchive b = TestImages.busybox(dir.resolve("b.tar"), "busybox:latest");
        assertArrayEquals(Files.readAllBytes(a.path()), Files.readAllBytes(b.path()));
        assertEquals(a.imageId(), b.imageId());
        ImageArchive c = TestImages.busybox(dir.resolve("c.tar"), "other/name:v2");
        assertEquals(a.imageId(), c.imageId(), "the tag is not part of the image ID");
        assertArrayEquals(Files.readAllBytes(TestImages.multiLayer(dir.resolve("m1.tar"), "m:1").path()),
                Files.readAllBytes(TestImages.multiLayer(dir.resolve("m2.tar"), "m:1").path()));
        assertArrayEquals(Files.readAllBytes(TestImages.ociLayoutZstd(dir.resolve("z1.tar"), "v1").path()),
                Files.readAllBytes(TestImages.ociLayoutZstd(dir.resolve("z2.tar"), "v1").path()));
        assertArrayEquals(Files.readAllBytes(TestImages.legacyArchive(dir.resolve("l1.tar"), "l:1").path()),
                Files.readAllBytes(TestImages.legacyArchive(dir.resolve("l2.tar"), "l:1").path()));
    }

    @Test
    void multiLayer() throws Exception {
        ImageArchive a = TestImages.multiLayer(dir.resolve("multi.tar"), "berth/multi:latest");
        assertEquals(4, a.diffIds().size());
        Map<String, Member> tar = verifyImage(a, true, true);
        assertEquals(a.diffIds().get(0), TestImages.busybox(dir.resolve("bb.tar"), "busybox").diffIds().get(0),
                "layer 1 is the busybox layer");

        JsonNode manifest = json(data(tar, "blobs/sha256/" + a.manifestDigest().substring(7)));
        assertEquals(TestImages.DOCKER_MANIFEST, manifest.path("mediaType").asText());
        assertEquals(TestImages.DOCKER_CONFIG, manifest.path("config").path("mediaType").asText());
        assertEquals(TestImages.DOCKER_LAYER_GZIP, manifest.path("layers").get(3).path("mediaType").asText());
        assertNotEquals(a.diffIds().get(3), a.layerDigests().get(3), "layer 4 is compressed");

        JsonNode cfg = json(data(tar, "blobs/sha256/" + a.imageId().substring(7)));
        JsonNode cc = cfg.path("config");
        assertEquals("multi", cc.path("Labels").path("berth.test").asText());
        assertEquals("/data", cc.path("WorkingDir").asText());
        assertTrue(cc.path("ExposedPorts").has("8080/tcp"));
        assertTrue(strings(cc.path("Env")).contains("BERTH_TEST=multi"));
        assertTrue(cc.path("Cmd").isArray());
        boolean emptyEnv = false;
        for (JsonNode h : cfg.path("history")) {
            if (h.path("created_by").asText().startsWith("ENV") && h.path("empty_layer").asBoolean()) emptyEnv = true;
        }
        assertTrue(emptyEnv, "ENV history entry with empty_layer");

        Map<String, Member> l2 = layer(tar, a.layerDigests().get(1));
        assertEquals("a\n", new String(l2.get("data/a.txt").data(), StandardCharsets.UTF_8));
        assertTrue(l2.containsKey("data/b.txt"));
        assertTrue(l2.containsKey("data/dir/c.txt"));
        assertTrue(l2.get("data/link").entry().isSymbolicLink());
        assertEquals("a.txt", l2.get("data/link").entry().getLinkName());
        assertTrue(l2.get("data/hard").entry().isLink());
        assertEquals("data/a.txt", l2.get("data/hard").entry().getLinkName());
        assertEquals(04755, l2.get("data/suid").entry().getMode() & 07777);
        assertEquals(1000, l2.get("data/owned.txt").entry().getLongUserId());
        assertEquals(1000, l2.get("data/owned.txt").entry().getLongGroupId());
        assertEquals("test", l2.get("data/xattr.txt").entry().getExtraPaxHeader("SCHILY.xattr.user.berth"));

        Map<String, Member> l3 = layer(tar, a.layerDigests().get(2));
        assertEquals(0, l3.get("data/.wh.b.txt").data().length);
        assertTrue(l3.containsKey("data/dir/.wh..wh..opq"));
        assertTrue(l3.containsKey("data/dir/new.txt"));

        Map<String, Member> l4 = layer(tar, a.layerDigests().get(3));
        assertTrue(l4.containsKey("etc/layer4"));
    }

    @Test
    void legacyArchive() throws Exception {
        ImageArchive a = TestImages.legacyArchive(dir.resolve("legacy.tar"), "berth/legacy");
        assertEquals(TestImages.Format.LEGACY_DOCKER_ARCHIVE, a.format());
        assertNull(a.manifestDigest());
        Map<String, Member> tar = readTar(a.path());
        assertFalse(tar.containsKey("index.json"));
        assertFalse(tar.containsKey("oci-layout"));
        String cfgHex = a.imageId().substring(7);
        byte[] config = data(tar, cfgHex + ".json");
        assertEquals(cfgHex, sha(config));
        List<String> diffIds = strings(json(config).path("rootfs").path("diff_ids"));
        assertEquals(2, diffIds.size());
        assertEquals(a.diffIds(), diffIds);
        JsonNode item = json(data(tar, "manifest.json")).get(0);
        assertEquals(cfgHex + ".json", item.path("Config").asText());
        assertEquals(List.of("berth/legacy:latest"), strings(item.path("RepoTags")));
        List<String> layers = strings(item.path("Layers"));
        assertEquals(2, layers.size());
        String parent = null;
        for (int i = 0; i < layers.size(); i++) {
            String l = layers.get(i);
            assertTrue(l.matches("[0-9a-f]{64}/layer\\.tar"), l);
            String id = l.substring(0, 64);
            assertEquals(diffIds.get(i), "sha256:" + sha(data(tar, l)));
            assertEquals("1.0", new String(data(tar, id + "/VERSION"), StandardCharsets.UTF_8));
            JsonNode v1 = json(data(tar, id + "/json"));
            assertEquals(id, v1.path("id").asText());
            if (parent != null) assertEquals(parent, v1.path("parent").asText());
            parent = id;
        }
        assertEquals(parent, json(data(tar, "repositories")).path("berth/legacy").path("latest").asText());
    }

    @Test
    void ociLayout() throws Exception {
        ImageArchive a = TestImages.ociLayout(dir.resolve("oci.tar"), "v1");
        assertEquals(TestImages.Format.OCI_LAYOUT, a.format());
        Map<String, Member> tar = verifyImage(a, false, true);
        JsonNode desc = json(data(tar, "index.json")).path("manifests").get(0);
        assertEquals(TestImages.OCI_MANIFEST, desc.path("mediaType").asText());
        assertEquals("v1", desc.path("annotations").path("org.opencontainers.image.ref.name").asText());
        assertEquals("docker.io/library/ocitest:v1", desc.path("annotations").path("io.containerd.image.name").asText());
        JsonNode manifest = json(data(tar, "blobs/sha256/" + a.manifestDigest().substring(7)));
        assertEquals(TestImages.OCI_CONFIG, manifest.path("config").path("mediaType").asText());
        for (JsonNode l : manifest.path("layers")) assertEquals(TestImages.OCI_LAYER_GZIP, l.path("mediaType").asText());
        assertBusyboxLayer(layer(tar, a.layerDigests().get(0)));
    }

    @Test
    void ociLayoutZstd() throws Exception {
        ImageArchive a = TestImages.ociLayoutZstd(dir.resolve("ociz.tar"), "v1");
        Map<String, Member> tar = verifyImage(a, false, true);
        JsonNode manifest = json(data(tar, "blobs/sha256/" + a.manifestDigest().substring(7)));
        for (JsonNode l : manifest.path("layers")) assertEquals(TestImages.OCI_LAYER_ZSTD, l.path("mediaType").asText());
        assertBusyboxLayer(layer(tar, a.layerDigests().get(0)));
        assertEquals(TestImages.ociLayout(dir.resolve("oci.tar"), "v1").diffIds().get(0), a.diffIds().get(0));
    }

    @Test
    void sizedImage() throws Exception {
        long total = 3_000_001;
        ImageArchive a = TestImages.sizedImage(dir.resolve("sized.tar"), "bench/sized", total, 3, 7);
        assertEquals(4, a.diffIds().size(), "busybox base + 3 data layers");
        Map<String, Member> tar = verifyImage(a, true, true);
        long sum = 0;
        for (int i = 1; i < 4; i++) {
            byte[] blob = data(tar, "blobs/sha256/" + a.layerDigests().get(i).substring(7));
            for (Member m : readTar(blob).values()) if (m.entry().isFile()) sum += m.data().length;
            ByteArrayOutputStream gz = new ByteArrayOutputStream();
            try (GZIPOutputStream z = new GZIPOutputStream(gz)) {
                z.write(blob);
            }
            assertTrue(gz.size() > blob.length * 0.95, "layer data is incompressible");
        }
        assertEquals(total, sum);
        try (var s = Files.list(dir)) {
            assertEquals(1, s.count(), "scratch files removed");
        }
        ImageArchive same = TestImages.sizedImage(dir.resolve("sized2.tar"), "bench/sized", total, 3, 7);
        assertArrayEquals(Files.readAllBytes(a.path()), Files.readAllBytes(same.path()));
        ImageArchive other = TestImages.sizedImage(dir.resolve("sized3.tar"), "bench/sized", total, 3, 8);
        assertNotEquals(a.imageId(), other.imageId());
    }

    @Test
    void rootfsTar() throws Exception {
        Path p = TestImages.rootfsTar(dir.resolve("rootfs.tar"));
        Map<String, Member> tar = readTar(p);
        assertFalse(tar.containsKey("manifest.json"));
        assertBusyboxLayer(tar);
    }

    @Test
    void mainWritesArchives() throws Exception {
        TestImages.main(new String[]{"busybox", dir.resolve("cli.tar").toString(), "cli:1"});
        assertTrue(readTar(dir.resolve("cli.tar")).containsKey("manifest.json"));
    }

    // ---------------------------------------------------------------------------------------------
    // hostile archives

    /** The archive's second layer (from manifest.json), uncompressed. */
    static Map<String, Member> secondLayer(Map<String, Member> tar) throws Exception {
        JsonNode item = json(data(tar, "manifest.json")).get(0);
        return readTar(decompress(data(tar, item.path("Layers").get(1).asText())));
    }

    /** Blob names, diff_ids and config of a hostile archive are otherwise consistent. */
    static Map<String, Member> assertConsistent(Path p) throws Exception {
        Map<String, Member> tar = readTar(p);
        assertBlobNamesMatch(tar);
        JsonNode item = json(data(tar, "manifest.json")).get(0);
        JsonNode cfg = json(data(tar, item.path("Config").asText()));
        assertEquals(List.of("sh"), strings(cfg.path("config").path("Cmd")));
        List<String> diffIds = strings(cfg.path("rootfs").path("diff_ids"));
        List<String> layers = strings(item.path("Layers"));
        assertEquals(diffIds.size(), layers.size());
        for (int i = 0; i < layers.size(); i++) {
            assertEquals(diffIds.get(i), "sha256:" + sha(decompress(data(tar, layers.get(i)))));
        }
        return tar;
    }

    @Test
    void hostileLayerEntries() throws Exception {
        Map<String, Member> l = secondLayer(assertConsistent(HostileArchives.dotdotLayer(dir.resolve("a.tar"))));
        assertTrue(l.containsKey(HostileArchives.DOTDOT_ENTRY), l.keySet().toString());

        l = secondLayer(assertConsistent(HostileArchives.absoluteEscape(dir.resolve("b.tar"))));
        assertTrue(l.containsKey(HostileArchives.ABSOLUTE_ENTRY), l.keySet().toString());

        l = secondLayer(assertConsistent(HostileArchives.symlinkEscape(dir.resolve("c.tar"))));
        assertEquals("/", l.get("evil").entry().getLinkName());
        assertTrue(l.get("evil").entry().isSymbolicLink());
        assertTrue(l.get(HostileArchives.SYMLINK_CHILD).entry().isFile());
        List<String> order = new ArrayList<>(l.keySet());
        assertTrue(order.indexOf("evil") < order.indexOf(HostileArchives.SYMLINK_CHILD));

        l = secondLayer(assertConsistent(HostileArchives.symlinkEscapeRelative(dir.resolve("d.tar"))));
        assertEquals("../../..", l.get("evil").entry().getLinkName());
        assertTrue(l.containsKey(HostileArchives.SYMLINK_CHILD));

        l = secondLayer(assertConsistent(HostileArchives.hardlinkEscape(dir.resolve("e.tar"))));
        assertTrue(l.get(HostileArchives.HARDLINK_NAME).entry().isLink());
        assertEquals(HostileArchives.HARDLINK_TARGET, l.get(HostileArchives.HARDLINK_NAME).entry().getLinkName());
    }

    @Test
    void hostileOuterArchive() throws Exception {
        Map<String, Member> tar = assertConsistent(HostileArchives.archiveDotdot(dir.resolve("a.tar")));
        for (String n : HostileArchives.OUTER_DOTDOT_ENTRIES) assertTrue(tar.containsKey(n), n);

        tar = readTar(HostileArchives.manifestMissingBlob(dir.resolve("b.tar")));
        JsonNode item = json(data(tar, "manifest.json")).get(0);
        String missing = item.path("Layers").get(1).asText();
        assertFalse(tar.containsKey(missing));
        assertTrue(tar.containsKey(item.path("Layers").get(0).asText()));
        assertTrue(new String(data(tar, "blobs/sha256/" + json(data(tar, "index.json")).path("manifests").get(0)
                .path("digest").asText().substring(7)), StandardCharsets.UTF_8).contains(missing.substring(13)));

        tar = readTar(HostileArchives.digestMismatch(dir.resolve("c.tar")));
        item = json(data(tar, "manifest.json")).get(0);
        String l2 = item.path("Layers").get(1).asText();
        assertNotEquals(l2.substring(13), sha(data(tar, l2)));
        readTar(data(tar, l2)); // still a valid tar
        JsonNode cfg = json(data(tar, item.path("Config").asText()));
        assertEquals("sha256:" + l2.substring(13), cfg.path("rootfs").path("diff_ids").get(1).asText());

        tar = readTar(HostileArchives.diffIdMismatch(dir.resolve("d.tar")));
        assertBlobNamesMatch(tar);
        item = json(data(tar, "manifest.json")).get(0);
        cfg = json(data(tar, item.path("Config").asText()));
        assertNotEquals(cfg.path("rootfs").path("diff_ids").get(1).asText(),
                "sha256:" + sha(data(tar, item.path("Layers").get(1).asText())));
        assertEquals(cfg.path("rootfs").path("diff_ids").get(0).asText(),
                "sha256:" + sha(data(tar, item.path("Layers").get(0).asText())));
    }

    @Test
    void hostileCompression() throws Exception {
        Map<String, Member> tar = readTar(HostileArchives.truncatedGzip(dir.resolve("a.tar")));
        assertBlobNamesMatch(tar);
        String l2 = json(data(tar, "manifest.json")).get(0).path("Layers").get(1).asText();
        byte[] blob = data(tar, l2);
        assertEquals(0x1f, blob[0] & 0xff);
        assertThrows(EOFException.class, () -> decompress(blob));

        long size = 8L << 20;
        tar = assertConsistent(HostileArchives.gzipBomb(dir.resolve("b.tar"), size));
        String bombPath = json(data(tar, "manifest.json")).get(0).path("Layers").get(1).asText();
        byte[] bomb = data(tar, bombPath);
        assertTrue(bomb.length < size / 500, "compressed " + bomb.length);
        Map<String, Member> inner = readTar(decompress(bomb));
        assertEquals(size, inner.get(HostileArchives.BOMB_FILE).entry().getSize());
        assertEquals(size, inner.get(HostileArchives.BOMB_FILE).data().length);
        JsonNode manifest = json(data(tar, "blobs/sha256/" + json(data(tar, "index.json")).path("manifests").get(0)
                .path("digest").asText().substring(7)));
        assertEquals(TestImages.OCI_LAYER_GZIP, manifest.path("layers").get(1).path("mediaType").asText());
    }

    @Test
    void gzipBombBigSizeHeader() throws Exception {
        // > 8 GiB needs a PAX size record; check the header without inflating it all
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long size = 9L << 30;
        String[] r = TestImages.writeZeroBombLayer(out, "bomb", size, false);
        assertEquals(out.size(), Long.parseLong(r[2]));
        assertTrue(out.size() < size / 900, "compressed " + out.size());
        try (TarArchiveInputStream in = new TarArchiveInputStream(new GZIPInputStream(
                new ByteArrayInputStream(out.toByteArray())))) {
            TarArchiveEntry e = in.getNextEntry();
            assertEquals("bomb", e.getName());
            assertEquals(size, e.getSize());
        }
    }

    @Test
    void hostileBrokenFiles() throws Exception {
        Path t = HostileArchives.truncatedArchive(dir.resolve("a.tar"));
        Path full = TestImages.busybox(dir.resolve("full.tar"), "x").path();
        assertTrue(Files.size(t) < Files.size(full));
        assertThrows(IOException.class, () -> readTar(t));

        assertEquals(0, Files.size(HostileArchives.zeroByte(dir.resolve("b.tar"))));

        Path n = HostileArchives.notATar(dir.resolve("c.tar"));
        assertEquals(64 * 1024, Files.size(n));
        boolean rejected;
        try {
            rejected = readTar(n).isEmpty();
        } catch (IOException e) {
            rejected = true;
        }
        assertTrue(rejected);
    }

    @Test
    void hostileManifests() throws Exception {
        Map<String, Member> tar = readTar(HostileArchives.malformedManifestJson(dir.resolve("a.tar")));
        assertFalse(tar.containsKey("index.json"));
        assertBlobNamesMatch(tar);
        byte[] man = data(tar, "manifest.json");
        assertThrows(IOException.class, () -> json(man));

        tar = readTar(HostileArchives.manifestPathTraversal(dir.resolve("b.tar")));
        assertFalse(tar.containsKey("index.json"));
        assertBlobNamesMatch(tar);
        assertTrue(strings(json(data(tar, "manifest.json")).get(0).path("Layers"))
                .contains(HostileArchives.MANIFEST_TRAVERSAL_LAYER));

        tar = readTar(HostileArchives.configNotJson(dir.resolve("c.tar")));
        assertBlobNamesMatch(tar);
        String cfgPath = json(data(tar, "manifest.json")).get(0).path("Config").asText();
        byte[] cfg = data(tar, cfgPath);
        assertThrows(IOException.class, () -> json(cfg));
    }

    @Test
    void hostileCliNames() throws Exception {
        for (String name : HostileArchives.NAMES) {
            if (name.equals("gzipBomb")) continue;
            Path p = HostileArchives.write(name, dir.resolve(name + ".tar"), 0);
            assertTrue(Files.exists(p), name);
        }
        assertTrue(Files.size(HostileArchives.write("gzipBomb", dir.resolve("bomb.tar"), 1 << 20)) > 0);
    }
}
