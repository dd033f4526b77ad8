package berth.engine.testing;

import berth.engine.testing.TestImages.Blob;
import berth.engine.testing.TestImages.DockerArchive;
import berth.engine.testing.TestImages.Entry;
import berth.engine.testing.TestImages.Layer;
import berth.engine.testing.TestImages.Outer;
import berth.engine.testing.TestImages.Scratch;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static berth.engine.testing.TestImages.OCI_LAYER;
import static berth.engine.testing.TestImages.OCI_LAYER_GZIP;
import static berth.engine.testing.TestImages.bytes;
import static berth.engine.testing.TestImages.history;
import static berth.engine.testing.TestImages.json;
import static berth.engine.testing.TestImages.sha256Hex;

/**
 * Archives an image loader must reject. Each is a Docker 25+ docker-save archive (see {@link TestImages})
 * of a busybox image (layer 1 = the busybox layer, config valid: Cmd, Env, matching diff_ids) that is
 * well-formed except for ONE planted flaw. Unless noted the flaw is in layer 2 (uncompressed,
 * {@value TestImages#OCI_LAYER}), the blob digests and diff_ids are correct, and the repo tag is
 * {@code berth-hostile:<method name>}.
 *
 * <p>Archives whose flaw is in manifest.json ({@link #malformedManifestJson}, {@link #manifestPathTraversal})
 * have no oci-layout/index.json, so a loader cannot route around the flaw via the OCI index.
 */
public final class HostileArchives {

    private HostileArchives() {}

    public static final String DOTDOT_ENTRY = "../../escape.txt";
    public static final String ABSOLUTE_ENTRY = "/../../escape";
    public static final String SYMLINK_NAME = "evil";
    public static final String SYMLINK_CHILD = "evil/tmp/pwned";
    public static final String HARDLINK_NAME = "passwd-link";
    public static final String HARDLINK_TARGET = "../../../etc/passwd";
    public static final List<String> OUTER_DOTDOT_ENTRIES = List.of("../outside.txt", "blobs/../../x");
    public static final String MANIFEST_TRAVERSAL_LAYER = "../../etc/passwd";
    public static final String BOMB_FILE = "bomb";
    /** Default inflated size of {@link #gzipBomb(Path)}: 20 GiB. */
    public static final long DEFAULT_BOMB_SIZE = 20L << 30;

    // ---- layer-content flaws ---------------------------------------------------------------------

    /** Layer 2 has an entry {@value #DOTDOT_ENTRY}. */
    public static Path dotdotLayer(Path out) throws IOException {
        return withLayer(out, "dotdotlayer", harmless().raw(Entry.file(DOTDOT_ENTRY, 0644, bytes("escaped\n"))));
    }

    /** Layer 2 has an entry {@value #ABSOLUTE_ENTRY}. */
    public static Path absoluteEscape(Path out) throws IOException {
        return withLayer(out, "absoluteescape", harmless().raw(Entry.file(ABSOLUTE_ENTRY, 0644, bytes("escaped\n"))));
    }

    /** Layer 2: symlink {@code evil -> /}, then a regular file {@code evil/tmp/pwned}. */
    public static Path symlinkEscape(Path out) throws IOException {
        return symlinkEscape(out, "/", "symlinkescape");
    }

    /** Layer 2: symlink {@code evil -> ../../..}, then a regular file {@code evil/tmp/pwned}. */
    public static Path symlinkEscapeRelative(Path out) throws IOException {
        return symlinkEscape(out, "../../..", "symlinkescaperelative");
    }

    private static Path symlinkEscape(Path out, String target, String kind) throws IOException {
        Layer l = harmless().raw(Entry.link('2', SYMLINK_NAME, target))
                .raw(Entry.file(SYMLINK_CHILD, 0644, bytes("pwned\n")));
        return withLayer(out, kind, l);
    }

    /** Layer 2: hard link {@value #HARDLINK_NAME} → {@value #HARDLINK_TARGET}. */
    public static Path hardlinkEscape(Path out) throws IOException {
        return withLayer(out, "hardlinkescape", harmless().raw(Entry.link('1', HARDLINK_NAME, HARDLINK_TARGET)));
    }

    // ---- outer-archive flaws ---------------------------------------------------------------------

    /** A valid busybox archive whose OUTER tar also has entries {@code ../outside.txt} and {@code blobs/../../x}. */
    public static Path archiveDotdot(Path out) throws IOException {
        DockerArchive d = image("archivedotdot", List.of());
        Outer o = d.build();
        for (String n : OUTER_DOTDOT_ENTRIES) o.file(n, bytes("outside\n"));
        o.write(out);
        return out;
    }

    /** manifest.json (and the OCI manifest) name layer 2's blob, which is not in the archive. */
    public static Path manifestMissingBlob(Path out) throws IOException {
        Blob l2 = Blob.ofBytes(harmless().toBytes(), OCI_LAYER, null);
        DockerArchive d = image("manifestmissingblob", List.of(l2));
        Outer o = d.build();
        o.remove("blobs/sha256/" + l2.hex);
        o.write(out);
        return out;
    }

    /**
     * Layer 2's blob is stored as {@code blobs/sha256/<hex>} but its content (a valid tar of the same size,
     * one file's text changed) hashes to something else; diff_ids name the original content.
     */
    public static Path digestMismatch(Path out) throws IOException {
        byte[] original = new Layer().dir("etc", 0755).file("etc/tamper.txt", 0644, "original\n").toBytes();
        byte[] tampered = new Layer().dir("etc", 0755).file("etc/tamper.txt", 0644, "tampered\n").toBytes();
        Blob good = Blob.ofBytes(original, OCI_LAYER, null);
        Blob bad = Blob.ofBytes(tampered, OCI_LAYER, null).withHex(good.hex);
        DockerArchive d = image("digestmismatch", List.of(good));
        Outer o = d.build();
        o.file("blobs/sha256/" + good.hex, bad);
        o.write(out);
        return out;
    }

    /** All blobs match their names, but the config's diff_id for layer 2 is not the layer's sha256. */
    public static Path diffIdMismatch(Path out) throws IOException {
        Blob l2 = Blob.ofBytes(harmless().toBytes(), OCI_LAYER, null);
        Blob busy = busyboxBlob();
        String wrong = "sha256:" + sha256Hex(bytes("not the layer"));
        DockerArchive d = new DockerArchive(List.of(tag("diffidmismatch")), List.of(busy, l2),
                config(List.of(busy.diffId(), wrong)), false);
        d.write(out);
        return out;
    }

    /** Layer 2 is gzip (media type tar+gzip) cut in the middle; blob named by the truncated bytes' sha256. */
    public static Path truncatedGzip(Path out) throws IOException {
        byte[] raw = new Layer().dir("data", 0755)
                .file("data/random.bin", 0644, 256 * 1024, os -> TestImages.randomBytes(os, 256 * 1024, 7)).toBytes();
        Blob full = Blob.gzip(Blob.ofBytes(raw, OCI_LAYER, null), OCI_LAYER_GZIP, (Scratch) null);
        byte[] cut = Arrays.copyOf(full.bytes, full.bytes.length / 2);
        Blob truncated = new Blob(sha256Hex(cut), cut.length, cut, null, OCI_LAYER_GZIP, full.diffIdHex);
        image("truncatedgzip", List.of(truncated)).write(out);
        return out;
    }

    /** A valid busybox archive cut in the middle of the busybox layer blob's data. */
    public static Path truncatedArchive(Path out) throws IOException {
        DockerArchive d = image("truncatedarchive", List.of());
        Outer o = d.build();
        o.write(out);
        Blob layer = d.layers.get(0);
        long start = o.dataOffsets.get("blobs/sha256/" + layer.hex);
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.WRITE)) {
            ch.truncate(start + layer.size / 2);
        }
        return out;
    }

    /** A 0-byte file. */
    public static Path zeroByte(Path out) throws IOException {
        TestImages.mkParent(out);
        Files.write(out, new byte[0]);
        return out;
    }

    /** 64 KiB of seeded random bytes (first byte is not a gzip/zstd magic). */
    public static Path notATar(Path out) throws IOException {
        TestImages.mkParent(out);
        try (OutputStream os = Files.newOutputStream(out)) {
            byte[] b = new byte[64 * 1024];
            new SplittableRandom(42).nextBytes(b);
            b[0] = 'X';
            os.write(b);
        }
        return out;
    }

    /** {@link #gzipBomb(Path, long)} with {@link #DEFAULT_BOMB_SIZE} (20 GiB → ~20 MB on disk). */
    public static Path gzipBomb(Path out) throws IOException {
        return gzipBomb(out, DEFAULT_BOMB_SIZE);
    }

    /**
     * Layer 2 is a gzip'd tar ({@value TestImages#OCI_LAYER_GZIP}) holding one file {@value #BOMB_FILE} of
     * {@code inflatedBytes} zero bytes; on disk ~inflatedBytes/1000. The blob digest and the diff_id
     * (sha256 of the whole uncompressed tar) are correct, so only a size limit stops it. Generated by
     * streaming; 20 GiB takes roughly 15-30 s (dominated by hashing the diff_id).
     */
    public static Path gzipBomb(Path out, long inflatedBytes) throws IOException {
        try (Scratch s = new Scratch(out)) {
            Path f = s.newFile();
            String[] r;
            try (OutputStream os = new java.io.BufferedOutputStream(Files.newOutputStream(f), 1 << 16)) {
                r = TestImages.writeZeroBombLayer(os, BOMB_FILE, inflatedBytes);
            }
            Blob bomb = new Blob(r[0], Long.parseLong(r[2]), null, f, OCI_LAYER_GZIP, r[1]);
            image("gzipbomb", List.of(bomb)).write(out);
        }
        return out;
    }

    // ---- manifest / config flaws -----------------------------------------------------------------

    /** manifest.json is cut-off JSON. No oci-layout/index.json. */
    public static Path malformedManifestJson(Path out) throws IOException {
        DockerArchive d = image("malformedmanifestjson", List.of());
        d.ociIndex = false;
        Outer o = d.build();
        o.file("manifest.json", bytes("[{\"Config\":\"blobs/sha256/" + d.configHex()
                + "\",\"RepoTags\":[\"berth-hostile:malformedmanifestjson\"],\"Layers\":[\"blobs/sha"));
        o.write(out);
        return out;
    }

    /**
     * manifest.json's Layers are [busybox blob, {@value #MANIFEST_TRAVERSAL_LAYER}] (layer 2's real blob is
     * present and matches diff_ids). No oci-layout/index.json.
     */
    public static Path manifestPathTraversal(Path out) throws IOException {
        Blob l2 = Blob.ofBytes(harmless().toBytes(), OCI_LAYER, null);
        DockerArchive d = image("manifestpathtraversal", List.of(l2));
        d.ociIndex = false;
        Outer o = d.build();
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("Config", "blobs/sha256/" + d.configHex());
        item.put("RepoTags", d.repoTags);
        item.put("Layers", List.of("blobs/sha256/" + d.layers.get(0).hex, MANIFEST_TRAVERSAL_LAYER));
        o.file("manifest.json", json(List.of(item)));
        o.write(out);
        return out;
    }

    /** The config blob (correctly named by its sha256, referenced by manifest.json and the OCI manifest) is not JSON. */
    public static Path configNotJson(Path out) throws IOException {
        DockerArchive d = image("confignotjson", List.of());
        d.config = bytes("this is not json {\"architecture\":");
        d.write(out);
        return out;
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static String tag(String kind) {
        return "berth-hostile:" + kind;
    }

    private static Blob busyboxBlob() throws IOException {
        return Blob.ofBytes(TestImages.busyboxLayer().toBytes(), OCI_LAYER, null);
    }

    private static Layer harmless() {
        return new Layer().file("hostile.txt", 0644, "a harmless file before the planted entry\n");
    }

    private static byte[] config(List<String> diffIds) {
        List<Map<String, Object>> hist = new ArrayList<>();
        hist.add(history(TestImages.BUSYBOX_CREATED_BY, false));
        for (int i = 1; i < diffIds.size(); i++) hist.add(history("COPY hostile / # layer " + (i + 1), false));
        hist.add(history("CMD [\"sh\"]", true));
        return TestImages.config(diffIds, TestImages.busyboxContainerConfig(), hist);
    }

    /** busybox layer + extra layers, valid config. */
    private static DockerArchive image(String kind, List<Blob> extra) throws IOException {
        List<Blob> layers = new ArrayList<>();
        layers.add(busyboxBlob());
        layers.addAll(extra);
        return new DockerArchive(List.of(tag(kind)), layers, config(layers.stream().map(Blob::diffId).toList()), false);
    }

    private static Path withLayer(Path out, String kind, Layer l) throws IOException {
        image(kind, List.of(Blob.ofBytes(l.toBytes(), OCI_LAYER, null))).write(out);
        return out;
    }

    /** Every generator by CLI name. */
    public static final List<String> NAMES = List.of("dotdotLayer", "absoluteEscape", "symlinkEscape",
            "symlinkEscapeRelative", "hardlinkEscape", "archiveDotdot", "manifestMissingBlob", "digestMismatch",
            "diffIdMismatch", "truncatedGzip", "truncatedArchive", "zeroByte", "gzipBomb", "notATar",
            "malformedManifestJson", "manifestPathTraversal", "configNotJson");

    /** Writes the named archive; {@code size} is used by gzipBomb only. */
    public static Path write(String name, Path out, long size) throws IOException {
        return switch (name) {
            case "dotdotLayer" -> dotdotLayer(out);
            case "absoluteEscape" -> absoluteEscape(out);
            case "symlinkEscape" -> symlinkEscape(out);
            case "symlinkEscapeRelative" -> symlinkEscapeRelative(out);
            case "hardlinkEscape" -> hardlinkEscape(out);
            case "archiveDotdot" -> archiveDotdot(out);
            case "manifestMissingBlob" -> manifestMissingBlob(out);
            case "digestMismatch" -> digestMismatch(out);
            case "diffIdMismatch" -> diffIdMismatch(out);
            case "truncatedGzip" -> truncatedGzip(out);
            case "truncatedArchive" -> truncatedArchive(out);
            case "zeroByte" -> zeroByte(out);
            case "gzipBomb" -> gzipBomb(out, size > 0 ? size : DEFAULT_BOMB_SIZE);
            case "notATar" -> notATar(out);
            case "malformedManifestJson" -> malformedManifestJson(out);
            case "manifestPathTraversal" -> manifestPathTraversal(out);
            case "configNotJson" -> configNotJson(out);
            default -> throw new IllegalArgumentException("unknown hostile archive " + name + "; one of " + NAMES);
        };
    }

    /** {@code HostileArchives NAME OUT [SIZE]} (NAME case-insensitive), {@code list}, or {@code all OUTDIR [SIZE]}. */
    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("list")) {
            NAMES.forEach(System.out::println);
            return;
        }
        if (args.length < 2) {
            System.err.println("usage: HostileArchives NAME OUT [BOMB_SIZE] | list | all OUTDIR [BOMB_SIZE]; names: " + NAMES);
            System.exit(2);
        }
        long size = args.length > 2 ? Long.parseLong(args[2]) : 0;
        if (args[0].equals("all")) {
            for (String n : NAMES) System.out.println(write(n, Path.of(args[1]).resolve(n + ".tar"), size));
            return;
        }
        String name = NAMES.stream().filter(n -> n.equalsIgnoreCase(args[0])).findFirst().orElse(args[0]);
        System.out.println(write(name, Path.of(args[1]), size));
    }
}
