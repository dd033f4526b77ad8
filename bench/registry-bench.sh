#!/usr/bin/env bash
# registry-bench.sh [OUT] — issue #8's figures in one sitting: `docker push` and `docker pull` of a 200 MB, 5-layer
# image to and from Debian's docker-registry on 127.0.0.1, Berth against Debian's dockerd 20.10 (own containerd).
# Every push goes to an empty registry (its storage wiped and the registry restarted), every pull to an engine
# without the image (rmi before). Throughput = the image's 200 MB / wall time of the docker command.
#   sudo ./bench/registry-bench.sh /tmp/bench-results/registry.tsv
# Caveat: each engine pushes what it stores. The test image is loaded with uncompressed layers; Berth pushes them as
# they are (and pulls them back uncompressed), dockerd gzips them on push and gunzips on pull.
# Env: N (3), BERTH_SHARED (../shared), SKIP_DOCKERD=1, PORT (5055).
set -u -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="${BERTH_SHARED:-$REPO/../shared}"
. "$SHARED/bench/lib.sh"
OUT="${1:-/tmp/bench-results/$(date -u +%F)-registry.tsv}"
N="${N:-3}"; PORT="${PORT:-5055}"; BYTES=200000000
open_outfile "$OUT" || exit 1
command -v docker-registry >/dev/null || { echo "registry-bench: needs Debian's docker-registry" >&2; exit 2; }
WORK="$(mktemp -d /tmp/registry-bench.XXXXXX)"
PIDS=(); REG=""
cleanup() {
  [ -n "$REG" ] && kill "$REG" 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 3
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
. "$HERE/engines.sh"

cat > "$WORK/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/reg}}
http: {addr: 127.0.0.1:$PORT}
EOF
fresh_registry() { # an empty registry: storage wiped, process restarted
  [ -n "$REG" ] && { kill "$REG" 2>/dev/null; wait "$REG" 2>/dev/null; }
  rm -rf "$WORK/reg"
  docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
  REG=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && return 0; sleep 0.1; done
  echo "registry did not start:" >&2; tail "$WORK/registry.log" >&2; return 1
}

(cd "$REPO" && mvn -q -B -o -pl engine -DskipTests test-compile >/dev/null) || exit 2
CP="$REPO/engine/target/test-classes:$REPO/engine/target/classes:$REPO/engine/target/lib/*"
java -cp "$CP" berth.engine.testing.TestImages sized "$WORK/big.tar" bench/big:latest "$BYTES" 5 7 >/dev/null || exit 2

mbps() { awk -v b="$BYTES" -v us="$1" 'BEGIN{printf "%.1f", b / us}'; }

bench_engine() { # LABEL SOCKET
  LABEL="$1"; local d=(docker -H "unix://$2") ref="127.0.0.1:$PORT/bench/big-$1:latest" i push=() pull=() st=ok
  for i in $(seq 1 "$N"); do
    fresh_registry || return
    "${d[@]}" load -q -i "$WORK/big.tar" >/dev/null && "${d[@]}" tag bench/big:latest "$ref" || { st=FAIL; break; }
    if timed "${d[@]}" push -q "$ref" >/dev/null; then push+=("$(mbps "$LAST_US")"); else st=FAIL; fi
    "${d[@]}" rmi -f bench/big:latest "$ref" >/dev/null
    if timed "${d[@]}" pull -q "$ref" >/dev/null; then pull+=("$(mbps "$LAST_US")"); else st=FAIL; fi
    "${d[@]}" rmi -f "$ref" >/dev/null
  done
  emit registry.push MB/s "$st" "docker push of a 200 MB, 5-layer image to an empty local registry" "${push[@]}"
  emit registry.pull MB/s "$st" "docker pull of it back into an engine without it" "${pull[@]}"
}

bench_both bench_engine
