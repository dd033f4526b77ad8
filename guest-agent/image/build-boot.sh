#!/usr/bin/env bash
# build-boot.sh OUT_DIR — the Berth guest's boot files, from Debian packages only:
#   OUT_DIR/vmlinuz        Debian's kernel (linux-image-amd64 of the machine's release)
#   OUT_DIR/initrd.img     a gzip'd cpio: busybox-static, the kernel modules the guest needs (with their
#                          dependency closure and a modules.dep from depmod), and /init
#   OUT_DIR/inputs.sha256  what the files were built from; the build is skipped when it is unchanged
# First slice of issue #5: the guest boots to its init, loads its modules and reports; the JRE, runc and
# the agent join the image in the next steps. Needs root only for apt-get (it installs kmod, cpio,
# busybox-static when missing). Facts behind the choices: ../../../shared/notes/guest-boot.md.
set -euo pipefail
OUT="${1:?usage: build-boot.sh OUT_DIR}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

need=()
command -v depmod >/dev/null 2>&1 || [ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || need+=(kmod)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"

# the kernel package the release's linux-image-amd64 points at (a machine without package lists gets them)
if ! apt-cache policy linux-image-amd64 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi
KPKG="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
[ -n "$KPKG" ] || { echo "build-boot: no linux-image-amd64 in the apt sources" >&2; exit 1; }
KVER_DEB="$(apt-cache policy "$KPKG" | awk '/Candidate:/{print $2}')"
MODS="virtio_pci virtio_blk virtio_net virtio_console virtio_rng 9p 9pnet_virtio virtiofs overlay veth bridge
br_netfilter nf_nat nf_conntrack ext4 iptable_nat iptable_filter xt_MASQUERADE xt_conntrack xt_addrtype
nft_chain_nat nft_compat nf_tables tun"
INPUTS="$(printf '%s\n' "$KPKG=$KVER_DEB" "$MODS" "$(sha256sum "$HERE/init.sh" "$0" | awk '{print $1}')" \
  "$(sha256sum /bin/busybox | awk '{print $1}')" | sha256sum | awk '{print $1}')"
if [ -f "$OUT/inputs.sha256" ] && [ "$(cat "$OUT/inputs.sha256")" = "$INPUTS" ] \
   && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ]; then
  echo "build-boot: up to date ($KPKG $KVER_DEB)"; exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/berth-boot.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
( cd "$WORK" && apt-get download -qq "$KPKG" >/dev/null )
dpkg -x "$WORK"/"$KPKG"_*.deb "$WORK/k"
KV="${KPKG#linux-image-}"
KROOT="$WORK/k"
depmod -b "$KROOT" "$KV"

ST="$WORK/initrd"
mkdir -p "$ST"/{bin,sbin,proc,sys,dev,tmp,mnt,run,etc,root,lib/modules/"$KV"}
cp /bin/busybox "$ST/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$ST/bin/$a"; done
ln -sf ../bin/busybox "$ST/sbin/modprobe" # the kernel's request_module() runs /sbin/modprobe
for m in $MODS; do
  modprobe -d "$KROOT" -S "$KV" --show-depends "$m" | awk '$1=="insmod"{print $2}'
done | sort -u | while read -r f; do
  rel="${f#"$KROOT"/}"; mkdir -p "$ST/$(dirname "$rel")"; cp "$f" "$ST/$rel"
done
cp "$KROOT/lib/modules/$KV"/modules.{order,builtin,builtin.modinfo} "$ST/lib/modules/$KV/"
depmod -b "$ST" "$KV"
echo "$MODS" | tr ' \n' '  ' > "$ST/etc/berth-modules"
install -m 0755 "$HERE/init.sh" "$ST/init"
( cd "$ST" && find . | cpio -o -H newc --quiet | gzip -6 ) > "$WORK/initrd.img"
cp "$KROOT/boot/vmlinuz-$KV" "$WORK/vmlinuz"
mv "$WORK/vmlinuz" "$OUT/vmlinuz"; mv "$WORK/initrd.img" "$OUT/initrd.img"
echo "$INPUTS" > "$OUT/inputs.sha256"
echo "build-boot: $OUT ($KPKG $KVER_DEB; initrd $(du -k "$OUT/initrd.img" | cut -f1) KiB)"
