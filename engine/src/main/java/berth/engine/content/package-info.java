/**
 * A content-addressed blob store, after containerd's {@code core/content}.
 *
 * <p>A <b>blob</b> is a byte sequence named by its {@link berth.engine.content.Digest} (sha256):
 * manifests, configs and compressed layers. Blobs are written through an <b>ingest</b>, a
 * {@link berth.engine.content.ContentWriter} that hashes as it writes into a private file; a
 * <b>commit</b> checks the size and digest the caller expected and publishes the blob by an atomic
 * rename, after which it is read-only and never changes. A crash leaves at most an ingest, which
 * the store removes when it is next opened; it never leaves a partial blob under its name.
 */
package berth.engine.content;
