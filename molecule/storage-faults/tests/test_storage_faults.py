# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage pair's fault matrix, on the pair of inventories/example-storage converged in the
lab (nas1 serving). In each case the client writes files through the export, each one fsynced
before the writer logs it, and afterwards every logged file must read back with its checksum;
the last test compares the replicated data on both nodes. RELIABILITY.md records the outcomes.
The replication link case is molecule/storage's (it runs in make test). The public link case
needs the ping node of inventories/example-storage (heartbeat's ipfail).
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
NAS2_ONLY = "written-on-nas2-during-the-split-brain"


def in_sync() -> bool:
    return lab.drbd("nas2")["cstate"] == "Connected" and lab.drbd("nas2")["dstate"] == "UpToDate/UpToDate"


def test_a_cut_public_link_hands_the_group_to_the_peer_and_back():
    """nas1's public link fails while the private one still carries heartbeat and DRBD: nas1
    no longer reaches the ping node (the client), and ipfail hands the group to nas2. When the
    link returns, nas1 takes the group back (auto_failback)."""
    lab.mount_export()
    assert lab.serves("nas1"), lab.pair_report()
    since = lab.clock("nas1")
    cut, took_cut = lab.write_through("public-cut", lambda: lvslab.labctl("link", "nas1", "public", "down"),
                                      lambda: lab.serves("nas2"), 300)
    assert not lab.serves("nas1"), lab.pair_report()
    back, took_back = lab.write_through("public-back", lambda: lvslab.labctl("link", "nas1", "public", "up"),
                                        lambda: lab.serves("nas1"), 300)
    # ipfail's and heartbeat's view of the moves, with their times (-o cat would drop the names).
    moves = lvslab.ssh("nas1", f"journalctl --since @{since} -o short-precise | grep -E "
                               "'ipfail|standby|Releasing|Acquiring|acquisition' | tail -n 12", check=False)
    print(f"\npublic link of nas1 cut: nas2 served {took_cut:.1f} s later, the client's longest write stall "
          f"{lvslab.longest_gap(cut)[0]:.2f} s; link restored: nas1 served {took_back:.1f} s later, stall "
          f"{lvslab.longest_gap(back)[0]:.2f} s; {len(lab.written_files(cut))} + {len(lab.written_files(back))} "
          f"files written; nas1's log:\n{moves}")
    lvslab.wait_for("the pair in sync", in_sync, 300, step=2, seen=lab.pair_report)
    assert lab.read_back("public-cut") == lab.written_files(cut)
    assert lab.read_back("public-back") == lab.written_files(back)


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
    took = lvslab.wait_for("nas2 to give the group up", lambda: lab.journal_since("nas2", None, lab.GAVE_UP),
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


def test_a_forced_split_brain_is_resolved_by_the_documented_procedure():
    """With nas2 out of heartbeat's hands and its replication link cut, an operator forces it
    Primary and writes on it while nas1 serves the client: both sides changed. When the link
    returns DRBD refuses to choose (after-sb-2pri disconnect: both StandAlone). RELIABILITY.md's
    procedure keeps nas1's side: every file the client wrote is there, nas2's own is gone."""
    mount = lab.RESOURCE["mount"]
    since = {node: lab.clock(node) for node in lab.NODES}
    lvslab.ssh("nas2", "systemctl stop heartbeat.service")
    lvslab.labctl("link", "nas2", "private", "down")
    try:
        # No dopd on nas2 with its heartbeat stopped: nas1's handler finds nas2 gone, and
        # nas2's disk stays UpToDate. Its promotion, forced, cannot outdate nas1 either.
        lvslab.wait_for("nas2 to lose its peer", lambda: lab.drbd("nas2")["cstate"] == "WFConnection",
                        60, step=1, seen=lab.pair_report)
        lvslab.ssh("nas2", f"drbdadm primary --force {RES} && mount /dev/drbd{lab.RESOURCE['minor']} {mount} && "
                           f"echo nas2 > {mount}/{NAS2_ONLY} && sync && umount {mount}")
        writer = lab.Writer(f"split-brain-{since['nas2']}")
        writer.start()
        lvslab.wait_for("files written on nas1", lambda: writer.written() >= 20, 120)
        files = lab.written_files(writer.stop())
    finally:
        lvslab.labctl("link", "nas2", "private", "up")
    lvslab.wait_for("DRBD to see the split brain", lambda: lab.journal_since("nas2", since["nas2"], "Split-Brain detected"),
                    60, step=1, seen=lab.pair_report)
    assert lab.drbd("nas1")["cstate"] == "StandAlone" and lab.drbd("nas2")["cstate"] == "StandAlone", lab.pair_report()
    # The procedure: on the node whose changes are discarded, then on the survivor.
    lvslab.ssh("nas2", f"drbdadm disconnect {RES}; drbdadm secondary {RES} && drbdadm connect --discard-my-data {RES}")
    lvslab.ssh("nas1", f"drbdadm connect {RES}")
    lvslab.wait_for("the pair in sync", in_sync, 120, step=1, seen=lab.pair_report)
    lvslab.ssh("nas2", "systemctl start heartbeat.service")
    resync_kib = lab.resync_began_kib("nas1", since["nas1"])
    print(f"\nsplit brain resolved: {len(files)} files written on nas1 kept; resync {resync_kib} KiB")
    assert lab.read_back(f"split-brain-{since['nas2']}") == files
    assert lvslab.ssh("nas1", f"ls {mount}").split().count(NAS2_ONLY) == 0


def device_checksums() -> Dict[str, str]:
    """sha256 of the replicated data on each node: the DRBD device's size from the start of the
    backing disk (internal meta data, which differs between nodes, lies beyond it). Read with
    O_DIRECT: DRBD writes the backing disk beneath its page cache, so a buffered read can
    return blocks cached before (udev probes the disk at boot)."""
    sums = {}
    for node in lab.NODES:
        sectors = int(lvslab.ssh(node, f"cat /sys/block/drbd{lab.RESOURCE['minor']}/size"))
        out = lvslab.ssh(node, f"dd if={lab.RESOURCE['disk']} iflag=direct,count_bytes bs=1M count={sectors * 512} "
                               "status=none | sha256sum")
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
