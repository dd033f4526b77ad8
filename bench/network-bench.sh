#!/usr/bin/env bash
# network-bench.sh [OUT] — issue #4's figures in one sitting: Berth and Debian's dockerd 20.10, each with its
# default bridge network, through ../shared/bench/engine-bench.sh, appended to one TSV and summarised.
#   sudo ./bench/network-bench.sh /tmp/bench-results/network.tsv
# Groups: port (docker run -d -p → first HTTP 200; latency and throughput via the published port and straight
# to the container's IP), run (docker run --rm true, now with a veth and an address), concurrent (20 starts).
# dockerd runs as shipped (userland proxy on, iptables on). Its iptables rules and docker0 do not outlive the
# run: the tables are saved before and restored after, and docker0 is removed if it was not there before.
# Each engine gets its own host port (18080, 18180): dockerd's docker-proxy leaves TIME_WAIT sockets on its
# port for a minute, and Berth's held port would refuse to bind over them in a back-to-back sitting.
# Env: N (10), GROUPS_ONLY (the list above), BERTH_SHARED (../shared), SKIP_DOCKERD=1.
set -u -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="${BERTH_SHARED:-$REPO/../shared}"
OUT="${1:-/tmp/bench-results/$(date -u +%F)-network.tsv}"
ONLY_GROUPS="${GROUPS_ONLY:-port,run,concurrent}"
export N="${N:-10}"
mkdir -p "$(dirname "$OUT")"
WORK="$(mktemp -d /tmp/network-bench.XXXXXX)"
PIDS=()
iptables-save >"$WORK/iptables.before"
HAD_DOCKER0=0; [ -e /sys/class/net/docker0 ] && HAD_DOCKER0=1
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 3
  if [ -s "$WORK/iptables.before" ]; then iptables-restore <"$WORK/iptables.before"; fi
  [ "$HAD_DOCKER0" = 0 ] && ip link del docker0 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
. "$HERE/engines.sh"

start_berth
DOCKER_HOST="unix://$WORK/berth.sock" ENGINE_PIDS="$BERTH_PID" ONLY="$ONLY_GROUPS" OUT="$OUT" PORT=18080 \
  bash "$SHARED/bench/engine-bench.sh" berth
kill "$BERTH_PID"; wait "${PIDS[0]}" 2>/dev/null

# --- dockerd 20.10 (Debian docker.io) with its own containerd, data root and socket, default networking
if [ "${SKIP_DOCKERD:-0}" != 1 ] && command -v dockerd >/dev/null && command -v containerd >/dev/null; then
  if start_dockerd; then
    DOCKER_HOST="unix://$WORK/dockerd.sock" ENGINE_PIDS="$DD $CTRD" ONLY="$ONLY_GROUPS" OUT="$OUT" PORT=18180 \
      bash "$SHARED/bench/engine-bench.sh" dockerd
  fi
  stop_dockerd
fi
python3 "$SHARED/bench/summarize.py" "$OUT"
