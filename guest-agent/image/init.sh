#!/bin/sh
# /init of the Berth guest (PID 1, busybox sh). Brings the machine up for the agent, runs the agent under
# tini, and powers the machine off when the agent exits. Kernel command line (see guest-agent/README.md):
#   berth.key=<base64 of an OpenSSH public key line>  the key the agent's SSH server accepts
#   berth.data=<block device>                         the data disk: ext4 (label berth-data) at /var/lib/berth,
#                                                     formatted only when it holds no data at all
#   berth.share=<virtiofs tag>:<absolute guest path>  a file share (repeatable)
#   berth.share9p=<9p tag>:<absolute guest path>      a file share over 9p (repeatable)
#   berth.debug                                       trace this script on the console
# Every step reports on the console as "BERTH-GUEST ..." so the host can tell how far a boot got.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# Debian's busybox runs its own applet for a bare command name even when PATH has the real tool (ps, ip,
# unshare...): this script's ip is busybox's, which does what it needs; the engine execs by full path.
export HOME=/root LANG=C.UTF-8
umask 022

# ... with the guest's uptime at the end, so a slow boot shows which step took the time
say() { up=""; [ -r /proc/uptime ] && read -r up _ < /proc/uptime; echo "BERTH-GUEST $*${up:+ [$up s]}"; }

# The kernel unpacks the initramfs into "rootfs", which pivot_root(2) refuses as the current root: runc would fail
# every container with "pivot_root .: invalid argument". So the same tree, bound onto /mnt, is moved over / and
# becomes the root: a mount with a parent, which pivot_root accepts, made without copying a byte (copying the
# 35 MiB into a tmpfs cost a second of an emulated boot). This script then starts again from there.
if [ ! -e /.berth-root ]; then
  : > /.berth-root
  if mount --bind / /mnt && cd /mnt && mount --move . /; then exec chroot . /init; fi
  echo "BERTH-GUEST FAILED root bind mount"; poweroff -f
fi

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs -o mode=0755,nosuid dev /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666,newinstance devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm
mount -t tmpfs -o nosuid,nodev,mode=0755 run /run
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp /tmp
mkdir -p /run/berth /var/lib/berth
CMDLINE="$(cat /proc/cmdline)"
arg() { # the value of the kernel parameter $1= (the last one wins), empty if absent
  for w in $CMDLINE; do case "$w" in "$1="*) v="${w#*=}" ;; esac; done; echo "${v:-}"; v=""
}
case " $CMDLINE " in *" berth.debug "*) set -x ;; esac
say "init: kernel $(uname -r), $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) MiB"

# Modules. The ones the disk and the network need load now (in order: the devices appear as each loads);
# the engine's (netfilter, overlay, bridge...) load in the background while the data disk is checked.
failed_mods=/run/berth/failed-modules
: > $failed_mods
for m in virtio_pci virtio_rng virtio_blk virtio_net ext4 squashfs; do modprobe "$m" || echo "$m" >> $failed_mods; done
( for m in $(cat /etc/berth-modules); do modprobe "$m" 2>/dev/null || echo "$m" >> $failed_mods; done ) &
mods_pid=$!

# The JRE, the jars and their class-data archive: the boot image's read-only squashfs disk (serial berth-opt),
# mounted in place; its pages are page cache the kernel can drop and read again, never tmpfs memory
opt_dev=""
i=0
while [ -z "$opt_dev" ] && [ $i -lt 100 ]; do
  for b in /sys/block/vd*; do [ "$(cat "$b/serial" 2>/dev/null)" = berth-opt ] && opt_dev="/dev/${b##*/}"; done
  [ -z "$opt_dev" ] && { sleep 0.1; i=$((i + 1)); }
done
if [ -n "$opt_dev" ] && mount -t squashfs -o ro "$opt_dev" /opt/berth; then say "opt: $opt_dev mounted at /opt/berth"
else say "FAILED opt: no squashfs disk with serial berth-opt: the agent cannot start"; fi

# cgroup v2 with every controller delegated to the root's children, where the engine puts containers
mkdir -p /sys/fs/cgroup
if mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup; then
  for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || say "cgroup: controller $c not enabled"
  done
  say "cgroup2: controllers [$(cat /sys/fs/cgroup/cgroup.subtree_control)]"
else
  say "FAILED cgroup2 mount"
fi

# The clock: the kernel set it from the RTC (QEMU gives the host's time); a clock behind the image's build
# (no RTC) would break TLS, so it starts from there instead. The host's agent can set it exactly later.
built="$(cat /etc/berth-build-time)"
if [ "$(date +%s)" -lt "$built" ]; then date -s "@$built" >/dev/null; say "clock: no RTC time, set to the build time"; fi

# Network: QEMU user networking (slirp) has fixed addresses
hostname "$(cat /etc/hostname)"
ip link set lo up
if ip link set eth0 up 2>/dev/null && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2; then
  echo "nameserver 10.0.2.3" > /run/berth/resolv.conf
  say "network: eth0 10.0.2.15/24 via 10.0.2.2"
else
  : > /run/berth/resolv.conf
  say "FAILED network: no eth0"
fi
ln -sf /run/berth/resolv.conf /etc/resolv.conf

# The data disk: ext4 labelled berth-data at /var/lib/berth. A disk is formatted only when its first 64 KiB
# are all zero (a new qcow2); one with an ext2/3/4 superblock is checked; anything else is left alone.
data_ok=yes
DATA="$(arg berth.data)"
# a disk with serial berth-data (the machine's data disk) is the data disk wherever it appears: with two disks
# the order in which they probe decides which is vda (the virtio disks all exist once virtio_blk has loaded)
for b in /sys/block/vd*; do [ "$(cat "$b/serial" 2>/dev/null)" = berth-data ] && DATA="/dev/${b##*/}"; done
if [ -n "$DATA" ]; then
  i=0
  while [ ! -b "$DATA" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  if [ ! -b "$DATA" ]; then
    say "FAILED data disk: no block device $DATA"; data_ok=no
  else
    magic="$(dd if="$DATA" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')"
    if [ "$magic" = "53ef" ]; then
      e2fsck -p "$DATA" >/run/berth/e2fsck.log 2>&1
      rc=$?
      if [ $rc -ge 4 ]; then
        cat /run/berth/e2fsck.log; say "FAILED data disk: e2fsck -p $DATA exited $rc"; data_ok=no
      else
        say "data disk: $DATA checked (e2fsck $rc)"
      fi
    elif [ "$(dd if="$DATA" bs=65536 count=1 2>/dev/null | tr -d '\000' | wc -c)" -eq 0 ]; then
      if mkfs.ext4 -q -F -L berth-data -E lazy_itable_init=1,lazy_journal_init=1 "$DATA"; then
        say "data disk: $DATA formatted (ext4, label berth-data)"
      else
        say "FAILED data disk: mkfs.ext4 $DATA"; data_ok=no
      fi
    else
      say "FAILED data disk: $DATA holds something that is not ext4; not formatting it"; data_ok=no
    fi
    if [ $data_ok = yes ]; then
      if mount -t ext4 -o noatime "$DATA" /var/lib/berth; then
        say "data disk: $DATA mounted at /var/lib/berth"
        # a disk the host has grown (berth start --disk) is filled by the file system, online; the size it was
        # last grown to is kept on the disk, so a boot without a change runs nothing
        sectors="$(cat "/sys/block/${DATA##*/}/size")"
        if [ "$sectors" != "$(cat /var/lib/berth/agent/disk-sectors 2>/dev/null)" ]; then
          if resize2fs "$DATA" >/run/berth/resize2fs.log 2>&1; then
            mkdir -p /var/lib/berth/agent && echo "$sectors" > /var/lib/berth/agent/disk-sectors
            say "data disk: the file system fills $DATA ($((sectors / 2048)) MiB)"
          else
            cat /run/berth/resize2fs.log; say "FAILED data disk: resize2fs $DATA (the file system keeps its size)"
          fi
        fi
      else
        say "FAILED data disk: mount $DATA"; data_ok=no
      fi
    fi
  fi
else
  say "data disk: none (berth.data not given); /var/lib/berth is in memory"
fi

# The SSH key the agent accepts
KEY="$(arg berth.key)"
if [ -n "$KEY" ]; then
  (umask 077; echo "$KEY" | base64 -d > /run/berth/authorized_keys) && say "key: /run/berth/authorized_keys" \
    || say "FAILED key: berth.key is not base64"
else
  say "key: none (berth.key not given)"
fi

# File shares: tag:path, mounted at the same path as on the host; virtiofs (berth.share=) or 9p (berth.share9p=,
# QEMU serving them itself under an unprivileged libvirt session; cache=mmap: the page cache is dropped when a file
# closes, so the host's edits show, and mmap works; the largest msize virtio's 9p takes (512000) for fewer round
# trips, see notes/guest-boot.md)
for w in $CMDLINE; do
  case "$w" in berth.share=*:/*|berth.share9p=*:/*) ;; berth.share*=*) say "FAILED share: bad parameter $w"; continue ;;
    *) continue ;; esac
  s="${w#berth.share*=}"; tag="${s%%:*}"; path="${s#*:}"
  case "$w" in
    berth.share9p=*) modprobe 9pnet_virtio 2>/dev/null; modprobe 9p 2>/dev/null
      set -- -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap "$tag" "$path" ;;
    *) modprobe virtiofs 2>/dev/null; set -- -t virtiofs "$tag" "$path" ;;
  esac
  if mkdir -p "$path" && mount "$@"; then say "share: $tag at $path ($2)"
  else say "FAILED share: $tag at $path"; fi
done

wait $mods_pid
say "modules: loaded [$(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ' | sed 's/ $//')] failed [$(tr '\n' ' ' < $failed_mods | sed 's/ $//')]"

# The power button (libvirt's graceful shutdown) runs /etc/acpi/PWRF/00000080, which stops the agent
acpid -c /etc/acpi -l /run/berth/acpid.log -p /run/berth/acpid.pid 2>/dev/null \
  || say "FAILED acpid: the power button will not stop the agent"

# The agent, under tini (a subreaper, so orphaned processes are reaped) as a child of this init. Its heap is
# a quarter of the memory, at most 512 MiB; C1 only and serial GC start fastest on a small emulated machine, and
# so do compile thresholds ten times the default (as ./berth gives the engine on a host): under TCG each method
# compiled costs the emulator more than interpreting the start's run-once code does (likely because QEMU drops
# and redoes its translation of each page the compiler writes; not measured apart). The engine alone in a guest started in 1.5-1.9 s with
# them against 2.0-2.5 s without (three runs each), and 1.3-1.6 s with no compiler at all, which no long-running
# engine can afford.
# The class-data archive is mapped where it was dumped (ArchiveRelocationMode=0; Debian's JDK 17 defaults to
# relocating it at every start, rewriting every pointer in it: on the host that doubles `java -version`'s time,
# 0.1 s more, and under emulation it costs the guest's start far more). Where that address is taken the JVM
# still relocates.
if [ $data_ok = yes ]; then
  mem_mib=$(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo)
  heap=$((mem_mib / 4)); [ $heap -gt 512 ] && heap=512; [ $heap -lt 64 ] && heap=64
  JFLAGS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:CompileThresholdScaling=10 -Xmx${heap}m -XX:-UsePerfData \
    -Djava.io.tmpdir=/tmp"
  [ -f /opt/berth/app.jsa ] && JFLAGS="$JFLAGS -XX:SharedArchiveFile=/opt/berth/app.jsa \
    -XX:+UnlockDiagnosticVMOptions -XX:ArchiveRelocationMode=0"
  CP=/opt/berth/lib/*
  [ -f /opt/berth/classpath ] && CP="$(cat /opt/berth/classpath)"
  say "agent: starting"
  # shellcheck disable=SC2086 # JFLAGS is a list of words
  tini -s -- java $JFLAGS -cp "$CP" berth.agent.Agent --data-root /var/lib/berth \
    --engine-socket /run/berth/docker.sock --ssh-port 22 --authorized-keys /run/berth/authorized_keys \
    --host-key /var/lib/berth/agent/ssh_host_key &
  agent=$!
  echo $agent > /run/berth/agent.pid
  wait $agent
  rc=$?
  say "agent: exited $rc"
else
  say "FAILED boot: the agent is not started without its data disk; powering off"
fi

# Power off: whatever the agent left is stopped, the data disk unmounted and flushed
leftovers() { # true while a user process other than this init lives (kernel threads are children of 0 or 2)
  for s in /proc/[0-9]*/status; do
    [ "$s" = /proc/1/status ] && continue
    ppid=""; zombie=""
    while read -r k v _; do
      case "$k" in State:) [ "$v" = Z ] && zombie=1 ;; PPid:) ppid="$v"; break ;; esac
    done < "$s" 2>/dev/null
    [ -z "$zombie" ] && [ -n "$ppid" ] && [ "$ppid" != 0 ] && [ "$ppid" != 2 ] && return 0
  done
  return 1
}
kill -TERM -1 2>/dev/null
i=0
while [ $i -lt 50 ] && leftovers; do sleep 0.1; i=$((i + 1)); done
kill -KILL -1 2>/dev/null
sync
for p in $(awk '$2 ~ "^/var/lib/berth" {print $2}' /proc/mounts | sort -r); do umount "$p" 2>/dev/null || umount -l "$p"; done
if grep -q " /var/lib/berth " /proc/mounts; then say "FAILED data disk: still mounted at power-off"
elif [ -n "$DATA" ] && [ $data_ok = yes ]; then say "data disk: unmounted"; fi
sync
say "power off"
poweroff -f
