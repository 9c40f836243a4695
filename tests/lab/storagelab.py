# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helpers for storage pair tests and benchmarks (labctl up storage).

The client guest mounts the export from the floating address and writes through it
(tests/lab/nfs_probe.py): what is measured is what an NFS client sees.
"""
from __future__ import annotations

import re
import shlex
import sys
from typing import Callable, Dict, List, Optional, Tuple

import yaml

from lvslab import LAB_DIR, Probe, Sample, heartbeat_report, ssh, wait_for

REPO = LAB_DIR.parents[1]
MODEL = yaml.safe_load((REPO / "inventories/example-storage/group_vars/all.yml").read_text())
VIP = MODEL["lvsha_storage_vip"]["address"]
RESOURCE = MODEL["lvsha_drbd_resources"][0]
EXPORT = MODEL["lvsha_nfs_exports"][0]["path"]
CLIENT = "nfsclient"
MOUNT = "/mnt/nfs"
NODES = ("nas1", "nas2")
# What heartbeat logs when a node cannot promote its DRBD resource and gives the group up.
GAVE_UP = f"Giving up resources due to failure of drbddisk::{RESOURCE['name']}"
NFS_PROBE = LAB_DIR / "nfs_probe.py"


def drbd(node: str) -> Dict[str, str]:
    """role, cstate and dstate of the example resource as drbdadm prints them ('' when unknown)."""
    out = ssh(node, f"for w in role cstate dstate; do drbdadm $w {RESOURCE['name']} 2>/dev/null || echo; done",
              check=False).splitlines()
    return dict(zip(("role", "cstate", "dstate"), out + ["", "", ""]))


def serves(node: str) -> bool:
    """``node`` holds the volume, the address and a running NFS server."""
    out = ssh(node, f"mountpoint -q {RESOURCE['mount']} && ip -o -4 addr show dev eth1 | grep -q ' {VIP}/' "
                    "&& systemctl is-active nfs-server.service", check=False)
    return out.strip() == "active"


def pair_report() -> str:
    """What a wait for the pair prints when it gives up: heartbeat's view and /proc/drbd."""
    drbd_states = "\n".join(f"--- {node} /proc/drbd\n{resync_progress(node)}" for node in NODES)
    return f"{heartbeat_report(NODES)}\n{drbd_states}"


def resync_progress(node: str) -> str:
    return ssh(node, "sed -n '3,5p' /proc/drbd", check=False).strip()


def clock(node: str) -> str:
    """``node``'s clock in seconds, for :func:`journal_since`."""
    return ssh(node, "date +%s").strip()


def journal_since(node: str, since: Optional[str], pattern: str) -> List[str]:
    """``node``'s journal lines since ``since`` (:func:`clock`), or since its boot (None), that
    match the regex ``pattern``."""
    when = f"--since @{since}" if since else "--boot"
    out = ssh(node, f"journalctl {when} -o cat --no-pager | grep -E {shlex.quote(pattern)}", check=False)
    return out.splitlines()


def resync_began_kib(node: str, since: str) -> int:
    """KiB of the one resync ``node`` began as its source since ``since`` (:func:`clock`)."""
    (kib,) = [int(kib) for line in journal_since(node, since, r"Began resync as SyncSource")
              for kib in re.findall(r"will sync (\d+) KB", line)]
    return kib


def mount_export() -> None:
    ssh(CLIENT, f"mkdir -p {MOUNT}; mountpoint -q {MOUNT} || "
                f"mount -t nfs4 -o vers=4.2,hard,proto=tcp,timeo=20 {VIP}:{EXPORT} {MOUNT}")


def unmount_export() -> None:
    ssh(CLIENT, f"umount {MOUNT} || umount -l {MOUNT}", check=False)


class Writer(Probe):
    """nfs_probe.py in the client guest, writing into the mounted export."""

    def __init__(self, subdir: str, interval: float = 0.2) -> None:
        super().__init__(url="", interval=interval, node=CLIENT)
        self.dir = f"{MOUNT}/{subdir}"

    def start(self) -> None:
        ssh(self.node, "cat > /tmp/nfs_probe.py", stdin=NFS_PROBE.read_text())
        ssh(self.node, f"mkdir -p {self.dir}; rm -f /tmp/probe.log; nohup python3 /tmp/nfs_probe.py {self.dir} "
                       f"--interval {self.interval} --out /tmp/probe.log >/dev/null 2>&1 & echo $! > /tmp/probe.pid")
        wait_for("the writer to start", lambda: bool(ssh(self.node, "head -c1 /tmp/probe.log", check=False)), 60)

    def written(self) -> int:
        return sum(1 for s in self.samples() if s.ok)


def write_through(subdir: str, event: Callable[[], object], served: Callable[[], bool],
                  timeout: float = 600) -> Tuple[List[Sample], float]:
    """Start a writer, run ``event`` once it has written some files, wait until ``served()`` and
    until writes resume, stop it. Returns its log and the seconds ``served()`` took. The writer
    runs only around this one event, so the longest gap in its log is that event's stall (a
    mark would not do: a signal reaches the writer only after a blocked NFS write returns)."""
    writer = Writer(subdir)
    writer.start()
    wait_for("the first files", lambda: writer.written() >= 10, 120)
    event()
    waited = wait_for("the other node to serve", served, timeout, step=1, seen=pair_report)
    count = writer.written()
    wait_for("writes to resume", lambda: writer.written() >= count + 10, 240, step=1)
    return writer.stop(), waited


def written_files(samples: List[Sample]) -> Dict[str, str]:
    """File name -> sha256 of every file the writer reported safely written."""
    return dict(s.what.split(" ", 1) for s in samples if s.ok)


def read_back(subdir: str) -> Dict[str, str]:
    """File name -> sha256 of what the client reads back from the export now."""
    out = ssh(CLIENT, f"cd {MOUNT}/{subdir} && sha256sum probe-*")
    return {m.group(2): m.group(1) for m in re.finditer(r"^([0-9a-f]{64})\s+\*?(\S+)$", out, re.M)}


def show() -> int:
    """``make demo-storage``'s last step: who serves, the DRBD states, and a file through NFS."""
    active = None

    def someone_serves() -> bool:
        nonlocal active
        active = next((node for node in NODES if serves(node)), None)
        return active is not None

    took = wait_for("a node to serve NFS", someone_serves, timeout=180, step=2, seen=pair_report)
    print(f"{active} serves {VIP}:{EXPORT} (waited {took:.0f} s for heartbeat)")
    for node in NODES:
        print(f"  {node}: {drbd(node)}")
    mount_export()
    out = ssh(CLIENT, f"head -c 1048576 /dev/urandom > {MOUNT}/demo.bin && sync && sha256sum {MOUNT}/demo.bin && "
                      f"df -h {MOUNT} | tail -1")
    print(f"{CLIENT} wrote 1 MiB through NFS:\n{out}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["show"]:
        sys.exit("usage: storagelab.py show")
    sys.exit(show())
