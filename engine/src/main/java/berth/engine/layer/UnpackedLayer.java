package berth.engine.layer;

import berth.engine.content.Digest;

/** A layer as stored: its diffID (sha256 of the uncompressed tar) and the bytes its regular files take. */
public record UnpackedLayer(Digest diffId, long size) {}
