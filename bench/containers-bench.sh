#!/usr/bin/env bash
# containers-bench.sh [OUT] — issue #3's container figures in one sitting: Berth, Debian's dockerd and the
# bare-runc floor, all through ../shared/bench (engine-bench.sh for the engines, runc-floor.sh for the floor),
# appended to one TSV and summarised side by side.
#   sudo ./bench/containers-bench.sh /tmp/bench-results/containers.tsv
# Groups: info, rss, cli, run (docker run --rm true), lifecycle, exec, logs, concurrent (20 starts), ps (100).
# Every engine runs containers with --network none (BENCH_RUN_ARGS), as when #3 was measured (Berth had no bridge networking then)
# and dockerd is measured without its bridge/iptables work too — like for like.
# Env: N (10), GROUPS_ONLY (the list above), BERTH_SHARED (../shared), SKIP_DOCKERD=1, SKIP_FLOOR=1.
set -u -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="${BERTH_SHARED:-$REPO/../shared}"
OUT="${1:-/tmp/bench-results/$(date -u +%F)-containers.tsv}"
ONLY_GROUPS="${GROUPS_ONLY:-info,rss,cli,run,lifecycle,exec,logs,concurrent,ps}"
export N="${N:-10}"
mkdir -p "$(dirname "$OUT")"
. "$HERE/engines.sh"
scratch

start_berth
DOCKER_HOST="unix://$WORK/berth.sock" ENGINE_PIDS="$BERTH_PID" ONLY="$ONLY_GROUPS" BENCH_RUN_ARGS="--network none" \
  OUT="$OUT" bash "$SHARED/bench/engine-bench.sh" berth
kill "$BERTH_PID"; wait "${PIDS[0]}" 2>/dev/null

# --- dockerd 20.10 (Debian docker.io) with its own containerd, data root and socket
if [ "${SKIP_DOCKERD:-0}" != 1 ] && command -v dockerd >/dev/null && command -v containerd >/dev/null; then
  if start_dockerd --bridge none --iptables=false; then
    DOCKER_HOST="unix://$WORK/dockerd.sock" ENGINE_PIDS="$DD $CTRD" ONLY="$ONLY_GROUPS" \
      BENCH_RUN_ARGS="--network none" OUT="$OUT" bash "$SHARED/bench/engine-bench.sh" dockerd
  fi
  stop_dockerd
fi

# --- the floor: bare runc on the same rootfs
if [ "${SKIP_FLOOR:-0}" != 1 ]; then
  OUT="$OUT" bash "$SHARED/bench/runc-floor.sh" floor
fi
python3 "$SHARED/bench/summarize.py" "$OUT"
