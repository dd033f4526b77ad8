#!/usr/bin/env bash
# storage-bench.sh [OUT] — issue #6's figure in one sitting: `docker cp` of a 200 MB tree of 10,000 files into a
# running container and back out, Berth against Debian's dockerd 20.10 (own containerd), each on its own data
# root and socket. Throughput = tree bytes / wall time of the docker command (CLI start-up included, as a user
# sees it). Every copy out is compared with the source tree (status FAIL if it differs).
#   sudo ./bench/storage-bench.sh /tmp/bench-results/storage.tsv
# Env: N (3 copies each way), BERTH_SHARED (../shared), SKIP_DOCKERD=1.
set -u -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="${BERTH_SHARED:-$REPO/../shared}"
. "$SHARED/bench/lib.sh"
OUT="${1:-/tmp/bench-results/$(date -u +%F)-storage.tsv}"
N="${N:-3}"
open_outfile "$OUT" || exit 1
. "$HERE/engines.sh"
scratch

# the tree: 100 directories of 100 files of 20,000 random bytes (nothing compresses, nothing is a hole)
TREE="$WORK/tree"
python3 - "$TREE" <<'EOF'
import os, sys
root = sys.argv[1]
for d in range(100):
  p = os.path.join(root, "d%03d" % d)
  os.makedirs(p)
  for f in range(100):
    with open(os.path.join(p, "f%03d" % f), "wb") as o:
      o.write(os.urandom(20000))
EOF
BYTES=$(( 100 * 100 * 20000 ))
bash "$SHARED/bench/images/make-images.sh" "$WORK/images" >/dev/null

mbps() { awk -v b="$BYTES" -v us="$1" 'BEGIN{printf "%.1f", b / us}'; } # bytes per microsecond = MB/s

bench_engine() { # LABEL SOCKET
  LABEL="$1"; local d=(docker -H "unix://$2") i ins=() outs=() st=ok
  "${d[@]}" load -i "$WORK/images/busybox.tar" >/dev/null || { emit cp.in MB/s FAIL "load failed"; return; }
  "${d[@]}" run -d --name cpbench --network none busybox sleep 3600 >/dev/null || { emit cp.in MB/s FAIL "run failed"; return; }
  for i in $(seq 1 "$N"); do
    timed "${d[@]}" cp "$TREE" "cpbench:/in$i" || st=FAIL
    ins+=("$(mbps "$LAST_US")")
    timed "${d[@]}" cp "cpbench:/in$i" "$WORK/out$i" || st=FAIL
    outs+=("$(mbps "$LAST_US")")
    diff -r -q "$TREE" "$WORK/out$i" >/dev/null || st=FAIL
    rm -rf "$WORK/out$i"
    "${d[@]}" exec cpbench rm -rf "/in$i" || st=FAIL
  done
  emit cp.in MB/s "$st" "docker cp of a 200 MB tree of 10,000 files into a running container" "${ins[@]}"
  emit cp.out MB/s "$st" "the same tree copied back out (compared with the source)" "${outs[@]}"
  "${d[@]}" rm -f cpbench >/dev/null
}

bench_both bench_engine
