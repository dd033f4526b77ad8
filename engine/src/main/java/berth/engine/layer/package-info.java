/**
 * Image layers unpacked into overlayfs lower directories.
 *
 * <p>Vocabulary, after containerd's snapshotter model and the OCI image spec:
 *
 * <ul>
 *   <li><b>layer blob</b>: what a registry serves, a tar stream that may be gzip- or
 *       zstd-compressed; named by its compressed digest in the content store.
 *   <li><b>diffID</b>: the sha256 of the uncompressed tar. A {@link berth.engine.layer.LayerStore}
 *       keys layers by diffID, not by chain ID: the files of an overlay lower dir depend only on
 *       its own diff, so two images that share a diff share its directory, and the image store
 *       keeps the chain-to-diffID mapping.
 *   <li><b>diff dir</b>: a layer's files as overlayfs expects them in a lowerdir. Deletions are
 *       whiteouts (a 0:0 character device) and opaque directories ({@code trusted.overlay.opaque=y}),
 *       converted from the AUFS-style {@code .wh.} entries of the tar format and back again.
 * </ul>
 *
 * <p>Unpacking treats every archive as hostile: names are cleaned and must stay inside the layer,
 * nothing is created through a symlink, and a layer becomes visible by one rename only after the
 * whole stream has been read, so a failure leaves nothing behind. Mounting is not done here: the
 * runtime builds the overlay mount from {@link berth.engine.layer.LayerStore#diffDir} paths.
 */
package berth.engine.layer;
