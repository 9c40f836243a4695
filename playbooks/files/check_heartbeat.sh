#!/usr/bin/env bash
# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Let heartbeat's own parser load a node's rendered ha.cf, authkeys and haresources.
#   unshare --mount --net --pid --ipc --uts --fork --mount-proc --kill-child \
#       check_heartbeat.sh ROOT HA_D NODE
# ROOT: heartbeat's packages unpacked (dpkg-deb -x; make setup's build/heartbeat-root); HA_D:
# the rendered etc/ha.d; NODE: the node's name (uname -n, which ha.cf must list).
# heartbeat has no check-only mode, but `heartbeat -r` parses every file as a start does, then
# signals the running heartbeat and exits 0, or exits 1 on a configuration error. The running
# heartbeat is a stand-in that waits, so nothing starts; everything happens in namespaces of
# their own (unshare), where /usr, /etc and /var/lib are read-only overlays of the host's and
# ROOT's, and the media's interfaces are veth devices that reach nowhere.
set -euo pipefail
root=$1 ha_d=$2 node=$3
hb=/usr/libexec/heartbeat/heartbeat

mount --make-rprivate /
hostname "$node"
mount -t tmpfs tmpfs /run   # the host's pid files out of sight; the scratch layer
top=/run/check-etc
mkdir -p "$top/ha.d"
cp -p "$ha_d/ha.cf" "$ha_d/authkeys" "$ha_d/haresources" "$top/ha.d/"
cp /etc/passwd /etc/group "$top/"
getent passwd hacluster >/dev/null || echo 'hacluster:x:997:997::/var/lib/heartbeat:/usr/sbin/nologin' >>"$top/passwd"
getent group haclient >/dev/null || echo 'haclient:x:997:' >>"$top/group"
mount -t overlay overlay -o "lowerdir=$root/usr:/usr" /usr
mount -t overlay overlay -o "lowerdir=$top:$root/etc:/etc" /etc
mount -t overlay overlay -o "lowerdir=$root/var/lib:/var/lib" /var/lib
mount -t tmpfs tmpfs /var/log
# The host's devices out of reach: a /dev of the few that heartbeat uses, where each serial
# medium's device (serial /dev/ttyS0 ...) is /dev/null under its name.
mkdir /run/dev
mount -t tmpfs -o mode=0755 tmpfs /run/dev
for dev in null zero random urandom; do
    touch "/run/dev/$dev"
    mount --bind "/dev/$dev" "/run/dev/$dev"
done
for dev in $(awk '$1 == "serial" { for (i = 2; i <= NF; i++) print $i }' "$top/ha.d/ha.cf"); do
    name=${dev#/dev/}
    case $name in */* | "") continue ;; esac  # the model's serial devices are /dev/ttyNAME
    touch "/run/dev/$name"
    mount --bind /dev/null "/run/dev/$name"
done
mount --move /run/dev /dev
ip link set lo up
# Each medium's interface (ucast, bcast, mcast IF ...), as a veth pair in this namespace, with
# an address (bcast and mcast ask for the interface's) that reaches nowhere.
n=0
while read -r medium iface _; do
    case $medium in ucast | bcast | mcast) ;; *) continue ;; esac
    ip link show "$iface" >/dev/null 2>&1 && continue
    n=$((n + 1))
    ip link add "$iface" type veth peer name "p${iface:0:13}"
    ip addr add "203.0.113.$n/32" brd + dev "$iface"
    ip link set "p${iface:0:13}" up
    ip link set "$iface" up
done <"$top/ha.d/ha.cf"

# The stand-in: heartbeat -r believes a heartbeat runs when the pid file names a process of
# the same executable. It ignores the HUP that -r sends, and waits in -k's loop.
bash -c 'echo $$ >/run/heartbeat.pid; trap "" TERM HUP; exec '"$hb"' -k' >/dev/null 2>&1 &
standin=$!
for _ in $(seq 200); do
    [ "$(readlink "/proc/$standin/exe" 2>/dev/null)" = "$hb" ] && break
    sleep 0.02
done
rc=0
"$hb" -r 2>&1 || rc=$?
kill -KILL "$standin"
wait "$standin" 2>/dev/null || true
exit "$rc"
