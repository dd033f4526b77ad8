#!/usr/bin/env bash
# build-boot.sh OUT_DIR — the Berth guest's boot files:
#   OUT_DIR/vmlinux        Debian's kernel (linux-image-amd64 of the machine's release) as an uncompressed ELF:
#                          QEMU boots it through its PVH entry, which under TCG saves the ~3 s of XZ unpacking
#   OUT_DIR/vmlinuz        the same kernel as Debian ships it (bzImage), for boot paths without PVH
#   OUT_DIR/initrd.img     one lz4'd cpio holding the whole guest (see guest-agent/README.md): busybox, the kernel
#                          modules the engine needs (with their closure and modules.dep), a jlink'ed JRE with its
#                          CDS archive, the engine's and agent's jars (those three in OUT_DIR/opt.sqfs, below), berth-mon, runc, tini, iptables, iproute2,
#                          util-linux's unshare/nsenter, procps' ps, e2fsprogs, the shared libraries they need,
#                          and /init (init.sh)
#   OUT_DIR/opt.sqfs       /opt/berth as a read-only squashfs: the JRE, the jars, their AppCDS archive; the machine
#                          attaches it as a read-only virtio disk with serial "berth-opt"
#   OUT_DIR/inputs.sha256  what the files were built from; the build is skipped when it is unchanged
#   OUT_DIR/quick.sha256   the repository's part of it, checked first without asking apt (see "quick check")
# Everything but the JRE and the repository's own build output comes from Debian packages (apt-get download +
# dpkg -x, cached in OUT_DIR/debs), so the image is reproducible from package versions. The JRE is jlink'ed from
# the host's JDK 17 (same Debian release, so it runs on the packaged glibc). The jars are taken from
# engine/target and guest-agent/target of the repository this script sits in: build them first
# (mvn -pl guest-agent -am package). Needs root only for apt-get when kmod, cpio, busybox-static, binutils,
# lz4 or squashfs-tools are missing. Facts behind the choices: /work/shared/notes/guest-boot.md (sections 1, 4 and 6).
set -euo pipefail
OUT="${1:?usage: build-boot.sh OUT_DIR}"
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export PATH="$PATH:/usr/sbin:/sbin"
log() { echo "build-boot: $*" >&2; }
die() { log "$*"; exit 1; }

need=()
command -v depmod >/dev/null 2>&1 || need+=(kmod)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v readelf >/dev/null 2>&1 || need+=(binutils)
command -v lz4 >/dev/null 2>&1 || need+=(lz4)
command -v mksquashfs >/dev/null 2>&1 || need+=(squashfs-tools)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac || command -v jlink)")")")}"
[ -x "$JAVA_HOME/bin/jlink" ] || die "no jlink in JAVA_HOME=$JAVA_HOME (a JDK 17 is needed)"

# --- inputs: the repository's build output ---
ENGINE="$REPO/engine/target"
[ -s "$ENGINE/berth-engine.jar" ] && [ -x "$ENGINE/berth-mon" ] \
  || die "no $ENGINE/berth-engine.jar or berth-mon: build the engine first (mvn -pl engine -am package)"
JARS=("$ENGINE/berth-engine.jar" "$ENGINE"/lib/*.jar)
AGENT="$REPO/guest-agent/target"
if [ -s "$AGENT/berth-guest-agent.jar" ]; then
  JARS+=("$AGENT/berth-guest-agent.jar")
  # the agent's dependencies, less the engine's jar under its Maven name (a copy of berth-engine.jar)
  [ -d "$AGENT/lib" ] && for j in "$AGENT"/lib/*.jar; do case "$j" in */berth-engine-*.jar) ;; *) JARS+=("$j") ;; esac; done
else
  log "warning: no $AGENT/berth-guest-agent.jar: the image has the engine but no agent"
fi

# --- the quick check: when the repository's inputs are unchanged and apt's package lists are no newer than
# the last build (so no package version can have moved), the image is up to date without asking apt, which
# takes seconds. Names, sizes and modification times, as make's: hashing the 15 MB of jars took a fifth of a
# second of every `berth start`. The script is named by its absolute path, however it was called ---
sha() { sha256sum "$@" | awk '{print $1}'; }
QUICK="$(stat -c '%n %s %Y' "$HERE/${0##*/}" "$HERE/init.sh" /bin/busybox "$ENGINE/berth-mon" "${JARS[@]}" \
  "$JAVA_HOME/lib/modules" "$JAVA_HOME/release" | sha256sum | awk '{print $1}')"
if [ -f "$OUT/quick.sha256" ] && [ "$(cat "$OUT/quick.sha256")" = "$QUICK" ] && [ -f "$OUT/inputs.sha256" ] \
   && [ -s "$OUT/vmlinux" ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/opt.sqfs" ] \
   && [ -z "$(find /var/lib/apt/lists -maxdepth 1 -newer "$OUT/inputs.sha256" 2>/dev/null | head -1)" ]; then
  log "up to date"; exit 0
fi

# --- inputs: Debian packages ---
# (grep reads all of apt-cache's output: with -q it would stop at the first match, apt-cache would die of SIGPIPE,
# and pipefail would call that a failure, updating apt's lists for nothing; as a user it failed on apt's lock)
if ! apt-cache policy linux-image-amd64 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
  [ "$(id -u)" -eq 0 ] || die "apt knows no linux-image-amd64: run apt-get update as root"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi
KPKG="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
[ -n "$KPKG" ] || die "no linux-image-amd64 in the apt sources"
KV="${KPKG#linux-image-}"
# What the engine and init run by name; the busybox applets of the same names lack flags the engine uses
# (ps -q, unshare --net=FILE, ip -batch).
TOOL_PKGS="runc tini iptables iproute2 util-linux e2fsprogs procps netbase"
# Their shared libraries come from the library packages in their dependency closure (perl's left out), plus
# the ones the JRE and the engine need. Only the libraries some binary in the image asks for are copied.
LIB_PKGS="$( (apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
  --no-enhances $TOOL_PKGS 2>/dev/null | grep -E '^(lib|zlib)' | grep -Ev 'perl|^libelogind'; printf "%s\n" libc6 libgcc-s1 libstdc++6 zlib1g libnettle8) \
  | sort -u | tr '\n' ' ')"
PKGS="$KPKG $TOOL_PKGS $LIB_PKGS"
VERSIONS="$(apt-cache policy $PKGS | awk '/^[^ ]/{p=substr($1, 1, length($1) - 1)} /Candidate:/{print p "=" $2}')"
if echo "$VERSIONS" | grep -q '=(none)'; then die "no candidate version for: $(echo "$VERSIONS" | grep '=(none)')"; fi
# Modules loaded at boot (with their closure); MODS_EXTRA are only in the image, for the kernel's own
# request_module (netfilter matches and targets an iptables rule asks for, for instance).
MODS="virtio_pci virtio_blk virtio_net virtio_console virtio_rng ext4 squashfs overlay veth bridge br_netfilter nf_nat
nf_conntrack iptable_nat iptable_filter ip_tables xt_MASQUERADE xt_conntrack xt_addrtype xt_nat nft_chain_nat
nft_compat nf_tables tun button evdev"
MODS_EXTRA="9p 9pnet_virtio virtiofs nft_masq nft_nat nft_ct nft_reject_inet nft_reject_ipv4 xt_tcpudp xt_mark
xt_comment xt_multiport ipt_REJECT ip6_tables ip6table_nat ip6table_filter nf_reject_ipv6 ip6t_REJECT"

INPUTS="$( {
  echo "$VERSIONS"; echo "$MODS $MODS_EXTRA"
  sha "$0" "$HERE/init.sh" /bin/busybox "$JAVA_HOME/lib/modules" "$ENGINE/berth-mon" "${JARS[@]}"
  "$JAVA_HOME/bin/java" -version 2>&1
} | sha256sum | awk '{print $1}')"
if [ -f "$OUT/inputs.sha256" ] && [ "$(cat "$OUT/inputs.sha256")" = "$INPUTS" ] \
   && [ -s "$OUT/vmlinux" ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/opt.sqfs" ]; then
  # checked against apt's lists from now (unless this user cannot write there: then the full check each time)
  { echo "$QUICK" > "$OUT/quick.sha256" && touch "$OUT/inputs.sha256"; } 2>/dev/null || true
  log "up to date ($KPKG)"; exit 0
fi
[ -w "$OUT" ] || die "the guest image in $OUT is out of date, and $(id -un) cannot rebuild it there: build it as \
$(stat -c %U "$OUT") (./berth build)"
rm -f "$OUT/quick.sha256"
T0=$(date +%s)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/berth-boot.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# --- download (cached by file name, which carries the version) and unpack the packages ---
DEBS="$OUT/debs"
mkdir -p "$DEBS"
missing=()
while read -r line; do
  p="${line%%=*}"; v="${line#*=}"; v="${v//:/%3a}"
  ls "$DEBS/${p}_${v}_"*.deb >/dev/null 2>&1 || missing+=("$p")
done <<< "$VERSIONS"
if [ ${#missing[@]} -gt 0 ]; then
  log "downloading ${#missing[@]} packages"
  # apt-get download as root falls back to an unsandboxed download (a harmless warning): keep it quiet
  ( cd "$DEBS" && apt-get download -qq "${missing[@]}" 2>&1 | grep -v 'unsandboxed' >&2 || true )
fi
PKG="$WORK/pkg"
for p in $TOOL_PKGS $LIB_PKGS; do
  v="$(echo "$VERSIONS" | awk -F'=' -v p="$p" '$1==p{print $2}')"; v="${v//:/%3a}"
  f="$(ls "$DEBS/${p}_${v}_"*.deb 2>/dev/null | head -1 || true)"
  [ -n "$f" ] || die "package $p $v was not downloaded"
  dpkg -x "$f" "$PKG"
done
kdeb="$(ls "$DEBS/${KPKG}_"*.deb | head -1)"
dpkg -x "$kdeb" "$WORK/k"
KROOT="$WORK/k"
depmod -b "$KROOT" "$KV"

# --- the tree: usr-merged, so every tool lives in /usr/bin or /usr/sbin ---
ST="$WORK/initrd"
mkdir -p "$ST"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,usr/libexec/berth,proc,sys,dev,tmp,mnt,run,etc,root,var/lib/berth,opt/berth/lib}
ln -s usr/bin "$ST/bin"; ln -s usr/sbin "$ST/sbin"; ln -s usr/lib "$ST/lib"; ln -s usr/lib64 "$ST/lib64"
chmod 1777 "$ST/tmp"
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$ST/usr/lib64/ld-linux-x86-64.so.2"

# tools: NAME=path in the unpacked packages (a link there is copied as the file it points to)
tools=(
  usr/sbin/runc=usr/sbin/runc usr/bin/tini-static=usr/bin/tini-static
  usr/sbin/xtables-nft-multi=usr/sbin/xtables-nft-multi usr/sbin/xtables-legacy-multi=usr/sbin/xtables-legacy-multi
  usr/sbin/ip=bin/ip usr/bin/unshare=usr/bin/unshare usr/bin/nsenter=usr/bin/nsenter usr/bin/ps=bin/ps
  usr/sbin/mke2fs=sbin/mke2fs usr/sbin/e2fsck=sbin/e2fsck usr/sbin/resize2fs=sbin/resize2fs
  etc/mke2fs.conf=etc/mke2fs.conf etc/protocols=etc/protocols etc/services=etc/services
)
for t in "${tools[@]}"; do
  dst="${t%%=*}"; src="$PKG/${t#*=}"
  [ -e "$src" ] || src="$PKG/usr/${t#*=}"
  [ -e "$src" ] || die "no ${t#*=} in the unpacked packages"
  cp -L "$src" "$ST/$dst"
done
ln -s tini-static "$ST/usr/bin/tini"
ln -s ../bin/tini-static "$ST/usr/sbin/docker-init"
for n in mkfs.ext4 mkfs.ext3 mkfs.ext2; do ln -s mke2fs "$ST/usr/sbin/$n"; done
for n in fsck.ext4 fsck.ext3 fsck.ext2; do ln -s e2fsck "$ST/usr/sbin/$n"; done
# iptables as Debian's alternatives set it up: nf_tables by default, the legacy back end by its own names
for v in iptables ip6tables; do
  for s in "" -save -restore; do
    ln -s xtables-nft-multi "$ST/usr/sbin/$v-nft$s"; ln -s xtables-legacy-multi "$ST/usr/sbin/$v-legacy$s"
    ln -s "$v-nft$s" "$ST/usr/sbin/$v$s"
  done
done
cp -a "$PKG/usr/lib/x86_64-linux-gnu/xtables" "$ST/usr/lib/x86_64-linux-gnu/"
cp "$ENGINE/berth-mon" "$ST/usr/libexec/berth/berth-mon"

# busybox for everything else (init's shell, mount, modprobe, acpid...), where no real tool has the name
cp /bin/busybox "$ST/usr/bin/busybox"
for a in $(/bin/busybox --list-full); do
  n="${a##*/}"
  [ "$n" = busybox ] && continue
  [ -e "$ST/usr/bin/$n" ] || [ -e "$ST/usr/sbin/$n" ] || [ -L "$ST/usr/sbin/$n" ] && continue
  case "$a" in */sbin/*) ln -s ../bin/busybox "$ST/usr/sbin/$n" ;; *) ln -s busybox "$ST/usr/bin/$n" ;; esac
done

# --- the JRE: the modules the jars need (jdeps) plus the SSH server's (EC keys, JMX, JNDI), with the default
# CDS archive; the AWT/sound/font native libraries (X11, ALSA, freetype) are left out: nothing runs headful ---
JRE_MODS="$("$JAVA_HOME/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 17 -q \
  --module-path "$ENGINE/lib" "${JARS[@]}" | tail -1)"
JRE_MODS="$(echo "$JRE_MODS,jdk.crypto.ec,jdk.unsupported,java.naming,java.management" | tr , "\n" | sort -u | paste -sd, -)"
"$JAVA_HOME/bin/jlink" --add-modules "$JRE_MODS" --strip-debug --no-man-pages --no-header-files \
  --generate-cds-archive --exclude-files='**/libawt_xawt.so,**/libjawt.so,**/libsplashscreen.so,**/libjsound.so,**/libfontmanager.so,**/liblcms.so,**/libjavajpeg.so' \
  --output "$ST/opt/berth/jre" >/dev/null
rm -f "$ST/opt/berth/jre/lib/server/classes_nocoops.jsa" # the heap stays far below 32 GiB: compressed oops
ln -s ../../opt/berth/jre/bin/java "$ST/usr/bin/java"

# --- the jars, and the class path in a fixed order (the CDS archive of app classes checks it) ---
for j in "${JARS[@]}"; do cp "$j" "$ST/opt/berth/lib/"; done
( cd "$ST/opt/berth/lib" && ls ./*.jar | LC_ALL=C sort | sed 's|^\./|/opt/berth/lib/|' | paste -sd: ) > "$ST/opt/berth/classpath"

# --- the agent's own class-data-sharing archive (AppCDS), made by a training run of the agent: the staged JRE
# and jars at their guest paths (/opt/berth bound from the staging tree in a private mount namespace, so the
# archive's class path checks pass in the guest), with a private /run (the engine's exec root) and a private
# network namespace with its own /sys (the engine's bridge and rules never reach this host, and it never sees
# the host's). The run goes through what a `berth start` does — SSH in with a key, `berth-agent
# ready`, the API socket forwarded, /_ping and /version — then SIGTERM, and the JVM writes every class it
# loaded (-XX:ArchiveClassesAtExit). It saves the guest's JVM from parsing and verifying ~4,000 classes at boot.
# Needs root (unshare) and OpenSSH's client; without them the image works without the archive, only slower.
train_cds() {
  local tr="$WORK/train" rc=0
  mkdir -p "$tr"
  ssh-keygen -q -t ecdsa -N '' -f "$tr/id" && cp "$tr/id.pub" "$tr/keys"
  unshare --mount --net --fork --propagation private sh -c '
    mount -t tmpfs -o mode=0755 berth-train /opt && mkdir /opt/berth && mount --bind "$1/opt/berth" /opt/berth \
      && mount -t tmpfs -o mode=0755 berth-train-run /run && mount -t sysfs berth-train-sys /sys \
      && ip link set lo up || exit 90
    /opt/berth/jre/bin/java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit=/opt/berth/app.jsa \
      -Djava.io.tmpdir="$2" -cp "$(cat /opt/berth/classpath)" berth.agent.Agent --data-root "$2/data" \
      --engine-socket "$2/docker.sock" --ssh-port 2222 --ssh-address 127.0.0.1 --authorized-keys "$2/keys" \
      --host-key "$2/host_key" > "$2/agent.log" 2>&1 &
    agent=$!
    i=0; while ! grep -q "BERTH-AGENT READY" "$2/agent.log" && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    o="-q -i $2/id -p 2222 -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    ssh $o root@127.0.0.1 berth-agent ready --time-sync "$(date +%s%3N)" \
      && { ssh $o -N -L "$2/fwd.sock:$2/docker.sock" root@127.0.0.1 & fwd=$!
           i=0; while [ ! -S "$2/fwd.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
           curl -sf --unix-socket "$2/fwd.sock" http://berth/_ping && curl -sf --unix-socket "$2/fwd.sock" \
             http://berth/version && curl -sf --unix-socket "$2/fwd.sock" "http://berth/containers/json?all=1"
           rc=$?; kill $fwd; exit_rc=$rc; }
    kill -TERM $agent; wait $agent
    exit ${exit_rc:-91}' sh "$ST" "$tr" >"$tr/train.log" 2>&1 || rc=$?
  if [ $rc -ne 0 ] || [ ! -s "$ST/opt/berth/app.jsa" ]; then
    rm -f "$ST/opt/berth/app.jsa"
    log "warning: the AppCDS training run failed (exit $rc); the image has no app.jsa:"
    { cat "$tr/train.log"; grep -v '\[cds' "$tr/agent.log"; } 2>/dev/null | tail -n 30 >&2 || true
  fi
}
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && command -v ssh >/dev/null && command -v curl >/dev/null; then
  train_cds
else
  log "warning: not root or no unshare/ssh/curl: the image has no AppCDS archive (slower agent start)"
fi

# --- shared libraries: every NEEDED of every ELF file in the tree, from the unpacked packages ---
LIBDIR="$ST/usr/lib/x86_64-linux-gnu"
find_lib() { # soname -> path in the packages
  local d
  for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
    [ -e "$PKG/$d/$1" ] && { echo "$PKG/$d/$1"; return 0; }
  done
  return 1
}
# native libraries inside the jars (netty's epoll, JNA, zstd-jni) are unpacked to /tmp at run time: their
# dependencies are needed too
python3 - "$WORK/jarnative" "${JARS[@]}" <<'EOF'
import os, re, sys, zipfile
out = sys.argv[1]
for i, jar in enumerate(sys.argv[2:]):
  with zipfile.ZipFile(jar) as z:
    for n in z.namelist():
      if n.endswith('.so') and re.search(r'(linux|native).*(x86[-_]64|amd64)|(x86[-_]64|amd64).*linux', n, re.I) \
          and not re.search(r'musl|android', n, re.I):
        d = os.path.join(out, str(i)); os.makedirs(d, exist_ok=True)
        open(os.path.join(d, n.replace('/', '_')), 'wb').write(z.read(n))
EOF
queue="$(find "$ST" "$WORK/jarnative" -type f ! -name '*.ko' ! -name '*.jar' ! -name '*.jsa' -size +1k -exec sh -c \
  'for f; do [ "$(head -c4 "$f" | od -An -c | tr -d " ")" = "177ELF" ] && echo "$f"; done' sh {} +)"
# opened by the engine itself (JNA's dlopen, so no NEEDED names it): Nettle, the engine's SHA-256
for n in libnettle.so.8; do
  src="$(find_lib "$n")" || die "no unpacked package has $n"
  cp -L "$src" "$LIBDIR/$n"; queue="$queue $LIBDIR/$n"
done
while [ -n "$queue" ]; do
  next=""
  for f in $queue; do
    for n in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -e "$LIBDIR/$n" ] && continue
      # the JRE's own libraries find each other through $ORIGIN
      case "$f" in "$ST/opt/berth/jre/"*)
        [ -e "$ST/opt/berth/jre/lib/$n" ] || [ -e "$ST/opt/berth/jre/lib/server/$n" ] && continue ;;
      esac
      src="$(find_lib "$n")" || die "${f#"$ST"} needs $n, which no unpacked package has"
      cp -L "$src" "$LIBDIR/$n"; next="$next $LIBDIR/$n"
    done
  done
  queue="$next"
done
# ld.so is asked for by PT_INTERP, not NEEDED, in static-pie-less binaries that need nothing else
[ -e "$LIBDIR/ld-linux-x86-64.so.2" ] || cp -L "$(find_lib ld-linux-x86-64.so.2)" "$LIBDIR/"

# --- kernel modules: the closure of MODS and MODS_EXTRA, and a modules.dep for busybox modprobe ---
mkdir -p "$ST/usr/lib/modules/$KV"
for m in $MODS $MODS_EXTRA; do
  modprobe -d "$KROOT" -S "$KV" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  [ "${PIPESTATUS[0]}" = 0 ] || die "no kernel module $m in $KPKG"
done | sort -u | while read -r f; do
  rel="${f#"$KROOT"/lib/modules/}"; mkdir -p "$ST/usr/lib/modules/$(dirname "$rel")"
  cp "$f" "$ST/usr/lib/modules/$rel"
done
cp "$KROOT/lib/modules/$KV"/modules.{order,builtin,builtin.modinfo} "$ST/usr/lib/modules/$KV/"
depmod -b "$ST" "$KV"
echo "$MODS" | tr ' \n' '  ' > "$ST/etc/berth-modules"
ln -s ../bin/busybox "$ST/usr/sbin/modprobe" 2>/dev/null || true # the kernel's request_module() runs /sbin/modprobe

# --- configuration files ---
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$ST/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ST/etc/group"
printf '127.0.0.1\tlocalhost berth\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$ST/etc/hosts"
echo berth > "$ST/etc/hostname"
printf 'hosts: files dns\n' > "$ST/etc/nsswitch.conf"
date -u +%s > "$ST/etc/berth-build-time"
# busybox acpid runs /etc/acpi/PWRF/00000080 on a power-button press (libvirt's graceful shutdown)
mkdir -p "$ST/etc/acpi/PWRF"
printf '#!/bin/sh\n# ACPI power button: ask the agent to stop (it stops the engine); init then powers off\n%s\n' \
  'echo "BERTH-GUEST power button: stopping the agent" >/dev/console; kill -TERM "$(cat /run/berth/agent.pid)"' \
  > "$ST/etc/acpi/PWRF/00000080"
chmod 0755 "$ST/etc/acpi/PWRF/00000080"
install -m 0755 "$HERE/init.sh" "$ST/init"

# --- /opt/berth (the JRE, the jars and the class-data archives, ~130 MiB) as one read-only squashfs (lz4,
# the cheapest to unpack under TCG), OUT_DIR/opt.sqfs, that the machine attaches as a read-only disk and init
# mounts in place: those pages are then page cache the guest can drop and read again, neither unpacked by the
# kernel at boot nor copied into the tmpfs root nor held there for good ---
mksquashfs "$ST/opt/berth" "$WORK/opt.sqfs" -comp lz4 -Xhc -noappend -quiet -no-progress >/dev/null
find "$ST/opt/berth" -mindepth 1 -delete

# --- pack: lz4 (the legacy frame format, the only one the kernel reads). The kernel unpacks the initramfs while
# it initialises, but its first usermode helper waits for the unpacking, so the unpacking is on the boot's path:
# under TCG, zstd's 35 MiB took the kernel to /init 0.35 s later than lz4's did (2.07-2.14 s of uptime against
# 1.72-1.78 s, four boots each, the same tree), and lz4 is as fast there as no compression at all ---
( cd "$ST" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | lz4 -l -9 -q ) > "$WORK/initrd.img"
cp "$KROOT/boot/vmlinuz-$KV" "$WORK/vmlinuz"
python3 - "$WORK/vmlinuz" "$WORK/vmlinux" <<'EOF'
import lzma, sys
d = open(sys.argv[1], 'rb').read()
o = d.find(b'\xfd7zXZ\x00')
open(sys.argv[2], 'wb').write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[o:]))
EOF
UNPACKED_KIB="$(du -sk "$ST" | cut -f1)"
mv "$WORK/vmlinux" "$OUT/vmlinux"; mv "$WORK/vmlinuz" "$OUT/vmlinuz"; mv "$WORK/initrd.img" "$OUT/initrd.img"
mv "$WORK/opt.sqfs" "$OUT/opt.sqfs"
echo "$INPUTS" > "$OUT/inputs.sha256"
echo "$QUICK" > "$OUT/quick.sha256"
log "$OUT ($KPKG; initrd $(( $(stat -c %s "$OUT/initrd.img") / 1024 )) KiB lz4, ${UNPACKED_KIB} KiB unpacked;" \
  "opt.sqfs $(( $(stat -c %s "$OUT/opt.sqfs") / 1024 )) KiB;" \
  "JRE modules $JRE_MODS; $(( $(date +%s) - T0 )) s)"
