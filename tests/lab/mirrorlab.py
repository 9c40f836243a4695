# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helpers for mirror pair tests and benchmarks (labctl up mirror).

The client guest polls the floating address for ``/node.txt``, a file each node keeps for
itself (it is in lvsha_mirror_excludes), so every answer names the node that served it.
"""
from __future__ import annotations

import json
import re
import sys
from typing import Any, Dict, List, Tuple

import yaml

from lvslab import LAB_DIR, Probe, Sample, heartbeat_report, ssh, wait_for

REPO = LAB_DIR.parents[1]
MODEL = yaml.safe_load((REPO / "inventories/example-mirror/group_vars/all.yml").read_text())
VIP = MODEL["lvsha_mirror_vip"]["address"]
ROOT = MODEL["lvsha_mirror_modules"][0]["path"]
INTERVAL = MODEL["lvsha_mirror_interval"]
NODES = ("mr1", "mr2")
NODE_URL = f"http://{VIP}/node.txt"
EVENTS = "/var/log/lvsha-mirror-events.log"


def serves(node: str) -> bool:
    """``node`` holds the floating address and runs nginx."""
    out = ssh(node, f"ip -o -4 addr show dev eth1 | grep -q ' {VIP}/' && systemctl is-active nginx.service",
              check=False)
    return out.strip() == "active"


def pair_report() -> str:
    """What a wait for the pair prints when it gives up."""
    return heartbeat_report(NODES)


def status(node: str) -> Dict[str, Any]:
    return json.loads(ssh(node, "/usr/local/sbin/lvsha mirror status", check=False))


def name_nodes() -> None:
    """Each node's own /node.txt (never mirrored): the probe's answers say who served. Synced:
    the tests cut a node's power, and a file younger than the kernel's writeback delay is lost."""
    for node in NODES:
        ssh(node, f"echo {node} > {ROOT}/node.txt && sync")


# The example's excludes are names (/node.txt, *.swp): find's -name takes them as they are.
EXCLUDED = tuple(pattern.lstrip("/") for pattern in MODEL["lvsha_mirror_excludes"])


def tree(node: str) -> Dict[str, str]:
    """Path -> sha256 of every mirrored file in the root of ``node`` (excluded files aside)."""
    skip = " ".join(f"! -name '{name}'" for name in EXCLUDED)
    out = ssh(node, f"cd {ROOT} && find . -type f {skip} -print0 | sort -z | xargs -0 -r sha256sum")
    return {m.group(2): m.group(1) for m in re.finditer(r"^([0-9a-f]{64})\s+\*?(\S+)$", out, re.M)}


def write_files(node: str, subdir: str, count: int, size: int = 4096) -> None:
    """``count`` files of random content under ``ROOT/subdir`` on ``node``, in one SSH call."""
    ssh(node, f"mkdir -p {ROOT}/{subdir} && cd {ROOT}/{subdir} && "
              f"for i in $(seq 1 {count}); do head -c {size} /dev/urandom > f$i; done")


def events(node: str) -> List[str]:
    return ssh(node, f"cat {EVENTS} 2>/dev/null", check=False).splitlines()


def wait_in_step(timeout: float) -> float:
    """Seconds until the standby's tree equals the serving node's (excluded files aside)."""
    serving = next(node for node in NODES if serves(node))
    standby = next(node for node in NODES if node != serving)
    return wait_for(f"{standby} to hold {serving}'s files", lambda: tree(standby) == tree(serving), timeout, step=1)


class NodeProbe(Probe):
    """http_probe.py in the client guest, asking the floating address who serves."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(url=NODE_URL, interval=interval, timeout=0.5, node="client")

    def answered_by(self) -> str:
        served = [s for s in self.samples() if s.what != "mark" and s.ok]
        return served[-1].what if served else ""


def outage(samples: List[Sample]) -> Tuple[float, int, str, str]:
    """The longest time between two answers, the requests that failed in it, and the nodes
    that answered just before and just after it."""
    answered = [i for i, s in enumerate(samples) if s.ok and s.what != "mark"]
    if len(answered) < 2:
        return 0.0, 0, "", ""
    start, end = max(zip(answered, answered[1:]), key=lambda pair: samples[pair[1]].at - samples[pair[0]].at)
    failed = sum(1 for s in samples[start + 1:end] if not s.ok and s.what != "mark")
    return samples[end].at - samples[start].at, failed, samples[start].what, samples[end].what


def show() -> int:
    """``make demo-mirror``'s last step: who serves, the standby's last pull, and a changed file arriving."""
    active = None

    def someone_serves() -> bool:
        nonlocal active
        active = next((node for node in NODES if serves(node)), None)
        return active is not None

    took = wait_for("a node to serve", someone_serves, timeout=180, step=2, seen=pair_report)
    standby = next(node for node in NODES if node != active)
    print(f"{active} serves http://{VIP}/ (waited {took:.0f} s for heartbeat); {standby} pulls every {INTERVAL} s")
    name_nodes()
    ssh(active, f"date > {ROOT}/demo.txt")
    arrived = wait_in_step(INTERVAL * 3 + 30)
    print(f"a file written on {active} was on {standby} {arrived:.1f} s later")
    report = status(standby)
    print(f"{standby}: data period {report['data']['epoch']}, last pull {report['last_pull']['result']}, "
          f"lag {report['lag']} s")
    answers = ssh("client", f"curl -s --max-time 2 {NODE_URL}").strip()
    print(f"the client asked {NODE_URL}: {answers}")
    return 0 if answers == active else 1


if __name__ == "__main__":
    if sys.argv[1:] != ["show"]:
        sys.exit("usage: mirrorlab.py show")
    sys.exit(show())
