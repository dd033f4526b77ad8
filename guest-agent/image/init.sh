#!/bin/sh
# /init of the Berth guest (first slice of #5): mounts the kernel filesystems, loads the modules the engine
# needs, and reports on the console. The agent will take over from here.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
failed=""
for m in $(cat /etc/berth-modules); do
  modprobe "$m" 2>/dev/null || failed="$failed $m"
done
cg=no; grep -q " /sys/fs/cgroup cgroup2 " /proc/mounts && cg=yes
echo "BERTH-GUEST kernel=$(uname -r) cgroup2=$cg failed-modules=[${failed# }]"
echo "BERTH-GUEST loaded: $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
if grep -q berth.shell /proc/cmdline; then
  exec sh
fi
sync
poweroff -f
