#!/usr/bin/env bash
# images-sitting.sh [OUT] — issue #2's figures in one sitting: Berth (started exactly as `./berth engine …`,
# so with the JVM options and class-data archive a user gets) and Debian's dockerd with its own containerd,
# each through ../shared/bench/engine-bench.sh (info, rss, cli, api, load) and ./images-bench.sh
# (100 MB load, 200 images); everything appended to one TSV and summarised side by side.
#   sudo ./bench/images-sitting.sh /tmp/bench-results/images.tsv
# Env: N (10), BERTH_SHARED (../shared), SKIP_DOCKERD=1.
set -u -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="${BERTH_SHARED:-$REPO/../shared}"
OUT="${1:-/tmp/bench-results/$(date -u +%F)-images.tsv}"
export N="${N:-10}"
mkdir -p "$(dirname "$OUT")"
. "$HERE/engines.sh"
scratch

# LABEL SOCKET PIDS
one_engine() {
  DOCKER_HOST="unix://$2" ENGINE_PIDS="$3" ONLY=info,rss,cli,api,load OUT="$OUT" bash "$SHARED/bench/engine-bench.sh" "$1"
  DOCKER_HOST="unix://$2" OUT="$OUT" N=5 bash "$HERE/images-bench.sh" "$1"
}

start_berth
one_engine berth "$WORK/berth.sock" "$BERTH_PID"
kill "$BERTH_PID"; wait "${PIDS[0]}" 2>/dev/null

if [ "${SKIP_DOCKERD:-0}" != 1 ] && command -v dockerd >/dev/null && command -v containerd >/dev/null; then
  if start_dockerd; then one_engine dockerd "$WORK/dockerd.sock" "$DD $CTRD"; fi
  stop_dockerd
fi
python3 "$SHARED/bench/summarize.py" "$OUT"
