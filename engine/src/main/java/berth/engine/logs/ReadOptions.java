package berth.engine.logs;

/**
 * What {@link JsonFileLog#read} returns, as {@code GET /containers/{id}/logs} asks.
 *
 * @param stdout     deliver stdout entries
 * @param stderr     deliver stderr entries
 * @param sinceNanos epoch nanos; entries older than this are skipped (0 = no limit)
 * @param untilNanos epoch nanos; reading ends at the first entry newer than this (0 = no limit)
 * @param tail       -1 = all; N = only the last N entries present when reading starts, counted across the
 *                   rotated files and all streams before the since/stream filters (as dockerd does)
 * @param follow     keep reading new entries, across rotations, until cancelled or the container stops
 */
public record ReadOptions(boolean stdout, boolean stderr, long sinceNanos, long untilNanos, int tail, boolean follow) {
  public static ReadOptions all() {
    return new ReadOptions(true, true, 0, 0, -1, false);
  }

  public ReadOptions withStreams(boolean out, boolean err) {
    return new ReadOptions(out, err, sinceNanos, untilNanos, tail, follow);
  }

  public ReadOptions withSince(long nanos) {
    return new ReadOptions(stdout, stderr, nanos, untilNanos, tail, follow);
  }

  public ReadOptions withUntil(long nanos) {
    return new ReadOptions(stdout, stderr, sinceNanos, nanos, tail, follow);
  }

  public ReadOptions withTail(int n) {
    return new ReadOptions(stdout, stderr, sinceNanos, untilNanos, n, follow);
  }

  public ReadOptions withFollow(boolean f) {
    return new ReadOptions(stdout, stderr, sinceNanos, untilNanos, tail, f);
  }
}
