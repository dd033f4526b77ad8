# engines.sh — sourced by the bench scripts: start Berth and Debian's dockerd side by side for one sitting.
# Needs REPO and WORK (a scratch dir: `scratch` makes one); appends the pids it starts to PIDS (killed on exit).

# scratch — for a sitting with nothing else to clean up: a scratch dir WORK (named after the script) and PIDS,
# whose processes are killed and WORK removed when the script ends
scratch() {
  WORK="$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX")"
  PIDS=()
  trap scratch_cleanup EXIT INT TERM
}
scratch_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 3
  rm -rf "$WORK"
}

wait_sock() { for _ in $(seq 1 150); do curl -sf --unix-socket "$1" http://x/_ping >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }

# start_berth — Berth in exactly the documented foreground form; sets BERTH_PID; exits 2 if it does not start
start_berth() {
  "$REPO/berth" engine --data-root "$WORK/berth" --host "unix://$WORK/berth.sock" >"$WORK/berth.log" 2>&1 &
  PIDS+=($!)
  wait_sock "$WORK/berth.sock" || { echo "berth did not start:"; tail "$WORK/berth.log"; exit 2; }
  BERTH_PID=$(pgrep -f "berth-engine.jar --data-root $WORK/berth" | head -1)
}

# start_dockerd [DOCKERD FLAGS…] — dockerd 20.10 with its own containerd, data root and socket; sets DD and
# CTRD; returns 1 (with its log) if it does not answer
start_dockerd() {
  mkdir -p "$WORK/ctrd" "$WORK/dockerd"
  containerd --root "$WORK/ctrd/root" --state "$WORK/ctrd/state" --address "$WORK/ctrd.sock" >"$WORK/ctrd.log" 2>&1 &
  PIDS+=($!); CTRD=$!
  sleep 2
  dockerd --containerd "$WORK/ctrd.sock" --data-root "$WORK/dockerd" --exec-root "$WORK/dexec" \
    --host "unix://$WORK/dockerd.sock" --pidfile "$WORK/dockerd.pid" "$@" >"$WORK/dockerd.log" 2>&1 &
  PIDS+=($!); DD=$!
  wait_sock "$WORK/dockerd.sock" || { echo "dockerd did not start:"; tail "$WORK/dockerd.log"; return 1; }
}

stop_dockerd() { kill "$DD"; sleep 3; kill "$CTRD"; }

# bench_both FN — FN LABEL SOCKET on Berth, then on dockerd (unless SKIP_DOCKERD=1 or it is not installed); each
# engine stopped before the next starts
bench_both() {
  start_berth
  "$1" berth "$WORK/berth.sock"
  kill "$BERTH_PID"; wait "${PIDS[0]}" 2>/dev/null
  if [ "${SKIP_DOCKERD:-0}" != 1 ] && command -v dockerd >/dev/null && command -v containerd >/dev/null; then
    if start_dockerd; then "$1" dockerd "$WORK/dockerd.sock"; fi
    stop_dockerd
  fi
}
