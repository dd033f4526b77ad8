#!/usr/bin/env bash
# build-bench.sh [OUT] — issue #7's figures in one sitting: the classic builder (DOCKER_BUILDKIT=0) of Berth against
# Debian's dockerd 20.10 (own containerd), each on its own data root and socket, both inside one private network
# namespace (run it under `unshare --net`; the script refuses otherwise unless ALLOW_HOST_NET=1).
#   1. ../shared/bench/engine-bench.sh's build group: cold (--no-cache) and cached rebuild of one 5-step Dockerfile
#   2. a context of 10,000 small files (100 dirs × 100 files of 100 random bytes) sent and COPY'd (ctx10k.cold,
#      --no-cache) and sent and checked against the cache (ctx10k.cached)
#   sudo unshare --net -- sh -c 'ip link set lo up && ./bench/build-bench.sh /tmp/bench-results/build.tsv'
# Env: N_BUILD (5) N_CTX (3), BERTH_SHARED (../shared), SKIP_DOCKERD=1.
set -u -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="${BERTH_SHARED:-$REPO/../shared}"
. "$SHARED/bench/lib.sh"
OUT="${1:-/tmp/bench-results/$(date -u +%F)-build.tsv}"
N_BUILD="${N_BUILD:-5}"
N_CTX="${N_CTX:-3}"
if [ "${ALLOW_HOST_NET:-0}" != 1 ] && [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
  echo "run me in a private network namespace: unshare --net -- sh -c 'ip link set lo up && $0'" >&2; exit 2
fi
open_outfile "$OUT" || exit 1
. "$HERE/engines.sh"
scratch
export DOCKER_BUILDKIT=0 DOCKER_CLI_HINTS=false

CTX="$WORK/ctx10k"
python3 - "$CTX" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(100):
  p = os.path.join(root, "d%02d" % d)
  os.makedirs(p)
  for f in range(100):
    with open(os.path.join(p, "f%02d" % f), "wb") as o:
      o.write(os.urandom(100))
with open(os.path.join(root, "Dockerfile"), "w") as o:
  o.write("FROM bench/busybox:latest\nCOPY . /ctx\nRUN find /ctx -type f | wc -l > /count\n")
PY
bash "$SHARED/bench/images/make-images.sh" "$WORK/images" >/dev/null

bench_engine() { # LABEL SOCKET
  LABEL="$1"; local sock="$2" d=(docker -H "unix://$2") i cold=() cached=() st=ok hits=()
  # group 1: the shared harness (it loads bench/busybox)
  DOCKER_HOST="unix://$sock" IMAGES_DIR="$WORK/images" OUT="$OUT" ONLY=build N_BUILD="$N_BUILD" \
    BENCH_BUILD_ARGS="--network none" bash "$SHARED/bench/engine-bench.sh" "$LABEL" | grep -v '^date_utc'
  # group 2: the 10,000-file context
  for i in $(seq 1 "$N_CTX"); do
    timed "${d[@]}" build --network none --no-cache -t ctx10k "$CTX" >"$WORK/ctx.out" 2>&1 || st=FAIL
    cold+=("$LAST_MS")
    [ "$("${d[@]}" run --rm --network none ctx10k cat /count 2>&1)" = 10001 ] || { st=FAIL; tail -3 "$WORK/ctx.out"; }
  done
  for i in $(seq 1 "$N_CTX"); do
    timed "${d[@]}" build --network none -t ctx10k "$CTX" >"$WORK/ctx.out" 2>&1 || st=FAIL
    cached+=("$LAST_MS"); hits+=("$(grep -c 'Using cache' "$WORK/ctx.out")")
  done
  emit ctx10k.cold ms "$st" "docker build --no-cache of a 10,000-file context (100 B each): COPY . /ctx, RUN find" "${cold[@]}"
  emit ctx10k.cached ms "$st" "the same build again, from the cache ('Using cache' lines: ${hits[*]})" "${cached[@]}"
  "${d[@]}" rmi -f ctx10k >/dev/null 2>&1
}

start_berth
bench_engine berth "$WORK/berth.sock"
kill "$BERTH_PID"; wait "${PIDS[0]}" 2>/dev/null
if [ "${SKIP_DOCKERD:-0}" != 1 ]; then
  # no docker0 and no iptables: the private namespace has nothing to bridge to, and RUN uses --network none
  if start_dockerd --bridge none --iptables=false; then bench_engine dockerd "$WORK/dockerd.sock"; fi
  stop_dockerd
fi
