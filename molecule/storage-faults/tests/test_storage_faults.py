# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage pair's fault matrix, on the pair of inventories/example-storage converged in the
lab (nas1 serving). In each case the client writes files through the export, each one fsynced
before the writer logs it, and afterwards every logged file must read back with its checksum;
the last test compares the replicated data on both nodes. RELIABILITY.md records the outcomes.
The replication link case is molecule/storage's (it runs in make test).
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "lab"))
import lvslab  # noqa: E402
import storagelab as lab  # noqa: E402

RES = lab.RESOURCE["name"]
GAVE_UP = f"Giving up resources due to failure of drbddisk::{RES}"


def in_sync() -> bool:
    return lab.drbd("nas2")["cstate"] == "Connected" and lab.drbd("nas2")["dstate"] == "UpToDate/UpToDate"


def test_both_nodes_power_cut_at_once_then_booted():
    lab.mount_export()

    def power_cut_both() -> None:
        lvslab.labctl("kill", "nas1")
        lvslab.labctl("kill", "nas2")
        lvslab.labctl("start", "--no-wait", "nas1")
        lvslab.labctl("start", "nas2")

    samples, took = lab.write_through("both-cut", power_cut_both, lambda: lab.serves("nas1"), 600)
    stall, failed = lvslab.longest_gap(samples)
    files = lab.written_files(samples)
    print(f"\nboth nodes power-cut: nas1 served {took:.1f} s after both were booted; the client's longest "
          f"write stall {stall:.2f} s ({failed} failed writes); {len(files)} files written")
    lvslab.wait_for("the pair in sync", in_sync, 300, step=2, seen=lab.pair_report)
    assert lab.read_back("both-cut") == files


def test_the_stale_node_boots_first_and_refuses_the_group():
    """nas2 is power-cut, nas1 writes on alone, then nas1 is power-cut too and nas2, whose data
    is now stale, boots first: it must not serve. When nas1 returns, it serves every file."""
    lvslab.labctl("kill", "nas2")
    writer = lab.Writer("stale-first")
    writer.start()
    lvslab.wait_for("files written with nas2 down", lambda: writer.written() >= 20, 120)
    files = lab.written_files(writer.stop())
    lvslab.labctl("kill", "nas1")
    lvslab.labctl("start", "nas2")
    took = lvslab.wait_for("nas2 to give the group up", lambda: lab.journal_since("nas2", None, GAVE_UP),
                           240, step=2, seen=lab.pair_report)
    # Each promotion heartbeat's drbddisk tries logs the same lines: each once, with its count.
    refusal = Counter(lab.journal_since("nas2", None, r"State change failed|fence-peer helper returned|disk\("))
    print(f"\n{len(files)} files written with nas2 down; the stale node booted first: it gave the group up "
          f"{took:.1f} s after answering SSH; its log:\n  "
          + "\n  ".join(f"{line.strip()} (x{count})" for line, count in refusal.items()))
    assert not lab.serves("nas2")
    assert lab.drbd("nas2")["role"].startswith("Secondary")
    lvslab.labctl("start", "nas1")
    took = lvslab.wait_for("nas1 to serve", lambda: lab.serves("nas1"), 300, step=2, seen=lab.pair_report)
    print(f"nas1 served {took:.1f} s after answering SSH")
    lvslab.wait_for("the pair in sync", in_sync, 300, step=2, seen=lab.pair_report)
    assert lab.read_back("stale-first") == files


def device_checksums() -> Dict[str, str]:
    """sha256 of the replicated data on each node: the DRBD device's size from the start of the
    backing disk (internal meta data, which differs between nodes, lies beyond it)."""
    sums = {}
    for node in lab.NODES:
        sectors = int(lvslab.ssh(node, f"cat /sys/block/drbd{lab.RESOURCE['minor']}/size"))
        out = lvslab.ssh(node, f"head -c {sectors * 512} {lab.RESOURCE['disk']} | sha256sum")
        sums[node] = re.match(r"[0-9a-f]{64}", out).group(0)
    return sums


def test_both_nodes_hold_the_same_data_after_the_faults():
    """With heartbeat stopped on both nodes nothing is mounted and nothing writes."""
    for node in ("nas2", "nas1"):
        lvslab.ssh(node, "systemctl stop heartbeat.service")
    try:
        assert in_sync(), lab.pair_report()
        sums = device_checksums()
        print(f"\nreplicated data: {sums}")
        assert sums["nas1"] == sums["nas2"]
    finally:
        for node in ("nas1", "nas2"):
            lvslab.ssh(node, "systemctl start heartbeat.service")
    lvslab.wait_for("nas1 to serve again", lambda: lab.serves("nas1"), 300, step=2, seen=lab.pair_report)
