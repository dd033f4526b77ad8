#!/usr/bin/env bash
# images-bench.sh LABEL — issue #2's image figures for any engine, through the real docker CLI:
#   load.cold_100mb   docker load -i of a ~100 MB, 5-layer image the engine does not have (rmi between runs)
#   images.list_200   docker images with 200 distinct images present
# Run it against Berth and against Debian's dockerd in the same sitting and compare ratios
# (../shared/bench/summarize.py works on the TSV). Uses ../shared/bench/lib.sh for timing and output.
#   DOCKER_HOST=unix:///path.sock ./bench/images-bench.sh berth
# Env: N (5) runs per figure, OUT (TSV file), IMG_DIR (cache of generated archives), SIZE_MB (100)
set -u -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="${BERTH_SHARED:-$REPO/../shared}"
. "$SHARED/bench/lib.sh"
LABEL="${1:?usage: images-bench.sh LABEL}"
DOCKER="${DOCKER:-/usr/local/bin/docker}"
export DOCKER_CLI_HINTS=false
N="${N:-5}"; SIZE_MB="${SIZE_MB:-100}"; COUNT="${COUNT:-200}"
OUT="${OUT:-${TMPDIR:-/tmp}/bench-results/$(date -u +%F)-$LABEL-images.tsv}"
IMG_DIR="${IMG_DIR:-/tmp/berth-bench-images}"
RUNID="i$(date +%s)$$"
d() { timeout -k 5 600 "$DOCKER" "$@"; }
open_outfile "$OUT" || exit 2

mkdir -p "$IMG_DIR"
BIG="$IMG_DIR/big-${SIZE_MB}mb.tar"
if [ ! -s "$BIG" ]; then
  log "generating $BIG"
  (cd "$REPO" && mvn -q -B -pl engine -DskipTests test-compile >/dev/null) || exit 2
  CP="$REPO/engine/target/test-classes:$REPO/engine/target/classes:$REPO/engine/target/lib/*"
  java -cp "$CP" berth.engine.testing.TestImages sized "$BIG" bench/big:latest $((SIZE_MB * 1000 * 1000)) 4 7 >/dev/null || exit 2
fi
if [ ! -s "$IMG_DIR/small-$COUNT.done" ]; then
  log "generating $COUNT tiny rootfs tarballs"
  mkdir -p "$IMG_DIR/small"
  for i in $(seq 1 "$COUNT"); do
    t="$IMG_DIR/small/$i"; mkdir -p "$t/root"; echo "$i" > "$t/root/id"
    tar -C "$t/root" --owner=0 --group=0 --mtime=@0 -cf "$IMG_DIR/small/$i.tar" id; rm -rf "$t"
  done
  touch "$IMG_DIR/small-$COUNT.done"
fi

echo "$TSV_HEADER"
vals=()
for ((i=0; i<N; i++)); do
  d rmi -f bench/big:latest >/dev/null 2>&1
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  if timed d load -q -i "$BIG" >/dev/null; then vals+=("$LAST_MS"); fi
done
d rmi -f bench/big:latest >/dev/null 2>&1
emit load.cold_${SIZE_MB}mb ms "$([ ${#vals[@]} -eq "$N" ] && echo ok || echo partial)" \
  "docker load -q -i of a ${SIZE_MB} MB, 5-layer image absent from the engine (rmi + drop_caches between runs)" "${vals[@]}"

log "importing $COUNT images"
for i in $(seq 1 "$COUNT"); do d import "$IMG_DIR/small/$i.tar" "bench/many-$RUNID:$i" >/dev/null || break; done
for i in 1 2; do d images >/dev/null; done
vals=()
for ((i=0; i<N * 2; i++)); do
  if timed d images >/dev/null; then vals+=("$LAST_MS"); fi
done
rows=$(d images -q | wc -l)
emit images.list_$COUNT ms ok "docker images with $rows images present" "${vals[@]}"
d images --format '{{.Repository}}:{{.Tag}}' | grep "^bench/many-$RUNID:" | xargs -r -n 50 "$DOCKER" rmi >/dev/null
log "done: $OUT"
