#!/usr/bin/env bash
# machine-bench.sh [OUT] — issue #5's figures in one sitting, each beside its floor measured in the same run:
#   machine.start_to_docker_version  `./berth start --driver libvirt` (machine exists, stopped) until the host's
#                                    `docker version` through ~/.berth/run/docker.sock first succeeds
#   floor.kernel_to_shell            the same kernel booted by the same QEMU (same accelerator, CPUs, memory) with
#                                    a busybox-only initramfs, until its /init's shell prints a marker
#   machine.first_start              the same, on a machine that does not exist yet (create, format the data disk)
#   guest.boot_*                     guest uptime at the init and agent steps (from the console's BERTH-GUEST lines)
#   guest.idle_used                  MemTotal - MemAvailable in the guest after it has idled; floor: the bare guest
#   host.qemu_rss                    the QEMU process's resident memory on the host, idle
#   image.*                          boot image sizes: initrd (compressed), vmlinuz, vmlinux, the initramfs unpacked
#   machine.stop                     `./berth stop` (graceful: engine stopped, disk synced, VM powered off)
# As root under the system libvirtd (qemu:///system); as another user under that user's own qemu:///session
# (the checkout built by its owner first: sudo ./berth build). Everything lives in a scratch BERTH_HOME removed
# at the end.
# Env: N (3 warm starts), BERTH_SHARED (../shared), ACCEL (tcg), CPUS (2), MEMORY_MIB (2048), IDLE_S (30).
set -u -o pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="${BERTH_SHARED:-$REPO/../shared}"
. "$SHARED/bench/lib.sh"
OUT="${1:-/tmp/bench-results/$(date -u +%F)-machine.tsv}"
N="${N:-3}"; ACCEL="${ACCEL:-tcg}"; CPUS="${CPUS:-2}"; MEMORY_MIB="${MEMORY_MIB:-2048}"; IDLE_S="${IDLE_S:-30}"
LABEL=berth
open_outfile "$OUT" || exit 1
WORK="$(mktemp -d /tmp/machine-bench.XXXXXX)"
export BERTH_HOME="$WORK/home"
export DOCKER_CONFIG="$WORK/docker-config" # the `berth` docker context start makes lands here, not in ~/.docker
SOCK="$BERTH_HOME/run/docker.sock"
cleanup() {
  "$REPO/berth" delete >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# builds what is missing (jars, then the guest image) before anything is timed
IMAGE="${BERTH_IMAGE:-$REPO/guest-agent/target/image}"
"$REPO/berth" machine ls >/dev/null && bash "$REPO/guest-agent/image/build-boot.sh" "$IMAGE" \
  || { echo "machine-bench: build failed" >&2; exit 2; }

docker_up() { # polls the host socket until `docker version` answers with the server part; 180 s at most
  local i
  for i in $(seq 1 1800); do
    docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# --- the floor: the bare kernel to a shell, same QEMU settings ---
FLOOR="$WORK/floor"; mkdir -p "$FLOOR/root/bin" "$FLOOR/root/proc"
cp /bin/busybox "$FLOOR/root/bin/"
for a in sh mount awk echo poweroff; do ln -s busybox "$FLOOR/root/bin/$a"; done
cat > "$FLOOR/root/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
echo "FLOOR-SHELL $(awk '/MemTotal/{t=$2} /MemAvailable/{a=$2} END{print int((t-a)/1024)}' /proc/meminfo)"
poweroff -f
EOF
chmod 0755 "$FLOOR/root/init"
( cd "$FLOOR/root" && find . | cpio -o -H newc --quiet -R 0:0 | lz4 -l -q ) > "$FLOOR/initrd.img"
floor_times=(); floor_mem=()
for i in $(seq 1 "$N"); do
  t0=${EPOCHREALTIME/./}
  timeout 120 qemu-system-x86_64 -accel "$ACCEL" -nographic -m "$MEMORY_MIB" -smp "$CPUS" -no-reboot \
    -kernel "$IMAGE/vmlinux" -initrd "$FLOOR/initrd.img" -append "console=ttyS0 panic=-1 quiet" 2>&1 |
    while IFS= read -r line; do
      case "$line" in *FLOOR-SHELL*) echo "$(( ${EPOCHREALTIME/./} - t0 )) ${line##*FLOOR-SHELL }" >"$FLOOR/result" ;; esac
    done
  if [ -s "$FLOOR/result" ]; then
    read -r us mem <"$FLOOR/result"; us_to_ms "$us"; floor_times+=("$REPLY"); floor_mem+=("${mem//[^0-9]/}")
    rm -f "$FLOOR/result"
  fi
done
emit floor.kernel_to_shell ms ok "bare vmlinux + busybox initramfs, -accel $ACCEL -smp $CPUS -m $MEMORY_MIB" "${floor_times[@]}"
emit floor.idle_used MiB info "MemTotal - MemAvailable in the bare guest" "${floor_mem[@]}"

# --- Berth: first start (create + format), then warm starts ---
start_args=(start --driver libvirt --accel "$ACCEL" --cpus "$CPUS" --memory "${MEMORY_MIB}MiB")
console="$BERTH_HOME/machines/default/console.log"
boot_step() { # console.log, pattern -> the guest uptime (ms) printed on the current boot's matching BERTH-GUEST line
  tr -d '\r' <"$console" | grep "BERTH-GUEST $1" | tail -1 | sed -n 's/.*\[\([0-9.]*\) s\]$/\1/p' |
    awk '{printf "%d", $1 * 1000}'
}
t0=${EPOCHREALTIME/./}
"$REPO/berth" "${start_args[@]}" >"$WORK/start0.log" 2>&1 && docker_up
rc=$?; us_to_ms $(( ${EPOCHREALTIME/./} - t0 ))
if [ $rc -ne 0 ]; then emit machine.first_start ms FAIL "see below" ; tail -20 "$WORK/start0.log" >&2; exit 1; fi
emit machine.first_start ms ok "create (key, qcow2, domain) + format the data disk + boot" "$REPLY"

starts=(); stops=(); inits=(); agents=()
for i in $(seq 1 "$N"); do
  timed "$REPO/berth" stop >/dev/null 2>&1 && stops+=("$LAST_MS")
  t0=${EPOCHREALTIME/./}
  if "$REPO/berth" "${start_args[@]}" >"$WORK/start$i.log" 2>&1 && docker_up; then
    us_to_ms $(( ${EPOCHREALTIME/./} - t0 )); starts+=("$REPLY")
    inits+=("$(boot_step 'init:')"); agents+=("$(boot_step 'agent: starting')")
  else
    tail -20 "$WORK/start$i.log" >&2
  fi
done
st=ok; [ ${#starts[@]} -eq "$N" ] || st=partial
emit machine.start_to_docker_version ms "$st" "./berth start --driver libvirt -> first docker version via the host socket" "${starts[@]}"
emit machine.stop ms info "./berth stop (graceful)" "${stops[@]}"
emit guest.boot_init ms info "guest uptime when /init (in its tmpfs root) starts" "${inits[@]}"
emit guest.boot_agent_start ms info "guest uptime when init starts the agent's JVM" "${agents[@]}"

# --- idle memory ---
sleep "$IDLE_S"
used="$("$REPO/berth" ssh -- cat /proc/meminfo 2>/dev/null | awk '/MemTotal/{t=$2} /MemAvailable/{a=$2} END{if (t) print int((t-a)/1024)}')"
if [ -n "$used" ]; then emit guest.idle_used MiB ok "MemTotal - MemAvailable after ${IDLE_S} s idle" "$used"
else emit guest.idle_used MiB FAIL "berth ssh did not answer"; fi
qpid="$(pgrep -f 'guest=berth-default' | head -1)"
if [ -n "$qpid" ]; then
  emit host.qemu_rss MiB info "VmRSS of the machine's QEMU process, idle" "$(awk '/VmRSS/{print int($2/1024)}' "/proc/$qpid/status")"
fi
"$REPO/berth" stop >/dev/null 2>&1

# --- image sizes ---
mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }
case "$(head -c4 "$IMAGE/initrd.img" | od -An -tx1 | tr -d ' \n')" in # its compression, by its magic
  02214c18) initrd_comp=lz4 ;; # legacy frame
  *) initrd_comp=zstd ;;       # an older image
esac
emit image.initrd MiB info "initrd.img, compressed ($initrd_comp)" "$(mib "$(stat -c %s "$IMAGE/initrd.img")")"
emit image.initrd_unpacked MiB info "the initramfs's cpio, unpacked" \
  "$(mib "$("$initrd_comp" -dc "$IMAGE/initrd.img" | wc -c)")"
emit image.vmlinuz MiB info "Debian's compressed kernel" "$(mib "$(stat -c %s "$IMAGE/vmlinuz")")"
emit image.vmlinux MiB info "the same kernel uncompressed (PVH boot, faster under TCG)" "$(mib "$(stat -c %s "$IMAGE/vmlinux")")"
emit image.opt_sqfs MiB info "opt.sqfs: /opt/berth (JRE, jars, AppCDS), lz4 squashfs, a read-only disk" \
  "$(mib "$(stat -c %s "$IMAGE/opt.sqfs")")"
emit image.boot_compressed MiB info "vmlinuz + initrd.img + opt.sqfs: what an installer ships (vmlinux is made from vmlinuz)" \
  "$(mib $(( $(stat -c %s "$IMAGE/vmlinuz") + $(stat -c %s "$IMAGE/initrd.img") + $(stat -c %s "$IMAGE/opt.sqfs") )))"
emit floor.initrd MiB info "the floor's busybox initramfs (lz4; zstd before 2026-12-06)" "$(mib "$(stat -c %s "$FLOOR/initrd.img")")"
emit image.data_disk MiB info "data.qcow2 on the host after the runs" \
  "$(mib "$(stat -c %s "$BERTH_HOME/machines/default/data.qcow2")")"
