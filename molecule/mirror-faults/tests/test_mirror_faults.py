# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mirror pair's fault matrix, on the pair of inventories/example-mirror converged in the
lab (mr1 serving, mr2 pulling). In each case files are written on the node that serves, each
batch synced before it counts as acknowledged; afterwards every acknowledged file must be on
the nodes as written, or kept aside in a node's displaced/ directory and listed by
``lvsha mirror status`` (the mirror is asynchronous: that is its promise). RELIABILITY.md
records the outcomes. The serving node's power cut and its return are molecule/mirror's (they
run in make test).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "lab"))
import lvslab  # noqa: E402
import mirrorlab as lab  # noqa: E402

DISPLACED = "/var/lib/lvsha-mirror/displaced"
# The mirror's module in the example, as displaced/TIME/MODULE keeps it.
MODULE = lab.MODEL["lvsha_mirror_modules"][0]["name"]
# A file on both nodes as written.
IN_PLACE = set(lab.NODES)
HOSTS = yaml.safe_load((REPO / "inventories/example-mirror/hosts.yml").read_text())["all"]["children"]["mirrors"]["hosts"]
PUBLIC = {node: HOSTS[node]["lvsha_public_address"] for node in lab.NODES}
# A locally administered MAC that no lab guest has (theirs are 52:54:00:...).
NOBODY = "02:00:00:00:00:01"


def write_acked(node: str, subdir: str, count: int = 10) -> Dict[str, str]:
    """``count`` files written on ``node`` and synced: path (as lab.tree names it) -> sha256."""
    lab.write_files(node, subdir, count)
    lvslab.ssh(node, "sync")
    return {path: digest for path, digest in lab.tree(node).items() if path.startswith(f"./{subdir}/")}


def displaced(node: str) -> Dict[str, str]:
    """Path (as lab.tree names it) -> sha256 of every file pulls on ``node`` moved aside."""
    out = lvslab.ssh(node, f"cd {DISPLACED} 2>/dev/null && find . -type f -path './*/{MODULE}/*' -print0 "
                           "| xargs -0 -r sha256sum", check=False)
    return {"./" + m.group(2).split("/", 3)[3]: m.group(1)
            for m in re.finditer(r"^([0-9a-f]{64})\s+\*?(\S+)$", out, re.M)}


def where_kept(files: Dict[str, str]) -> Tuple[Dict[str, List[str]], List[str]]:
    """For each acknowledged file, the places it is kept with its content ("mr1", "mr2 displaced",
    ...), and the files kept nowhere."""
    places = {}
    for node in lab.NODES:
        places[node] = lab.tree(node)
        places[f"{node} displaced"] = displaced(node)
    kept = {path: [place for place, tree in places.items() if tree.get(path) == digest] for path, digest in files.items()}
    return kept, sorted(path for path, found in kept.items() if not found)


def summary(kept: Dict[str, List[str]]) -> str:
    counts: Dict[str, int] = {}
    for found in kept.values():
        key = " + ".join(found) or "nowhere"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{count} on {key}" for key, count in sorted(counts.items()))


def serving_node() -> str:
    lvslab.wait_for("one node to serve", lambda: sum(lab.serves(node) for node in lab.NODES) == 1, 300, step=2,
                    seen=lab.pair_report)
    return next(node for node in lab.NODES if lab.serves(node))


def test_a_cut_private_link_stops_the_pulls_and_they_catch_up_when_it_returns():
    """heartbeat still hears the peer over the public link: nothing moves, the standby's pulls
    fail and its lag grows (what a monitor of `lvsha mirror status --max-lag` sees); when the
    link returns the next pull brings it up to date."""
    lvslab.wait_for("mr1 to serve", lambda: lab.serves("mr1"), 300, step=2, seen=lab.pair_report)
    lab.name_nodes()
    probe = lab.NodeProbe()
    probe.start()
    lvslab.labctl("link", "mr2", "private", "down")
    try:
        files = write_acked("mr1", "private-cut")
        lvslab.wait_for("a pull on mr2 to fail", lambda: (lab.status("mr2")["last_pull"] or {}).get("result")
                        == "failed", lab.INTERVAL * 3 + 60, step=2, seen=lab.pair_report)
        report = lab.status("mr2")
        late = lvslab.ssh("mr2", f"/usr/local/sbin/lvsha mirror status --max-lag {lab.INTERVAL} >/dev/null; echo $?",
                          check=False).strip()
    finally:
        lvslab.labctl("link", "mr2", "private", "up")
    took = lab.wait_in_step(lab.INTERVAL * 3 + 60)
    samples = probe.stop()
    gap, failed, before, after = lab.outage(samples)
    print(f"\nprivate link of mr2 cut: its pull failed ({report['last_pull'].get('error', '')[:100]}), lag "
          f"{report['lag']} s, status --max-lag {lab.INTERVAL} exit {late}; link restored: in step {took:.1f} s "
          f"later; the client's longest gap {gap:.2f} s ({failed} failed requests), {before} -> {after}")
    assert late == "2"
    assert (before, after) == ("mr1", "mr1") and failed == 0
    kept, lost = where_kept(files)
    assert not lost and all(IN_PLACE <= set(found) for found in kept.values()), summary(kept)


def test_a_cut_public_link_hands_the_pair_to_the_peer_and_back():
    """mr1's public link fails while the private one carries heartbeat and the pulls: mr1 no
    longer reaches the ping node (the client), and ipfail hands the pair to mr2, which pulls
    mr1's last writes before it serves. When the link returns, mr1 pulls mr2's and serves
    again (auto_failback)."""
    lab.name_nodes()
    lvslab.ssh("mr2", "systemctl stop lvsha-mirror-pull.timer; "
                      "while systemctl is-active -q lvsha-mirror-pull.service; do sleep 0.5; done")
    try:
        # Written after mr2's last pull: its takeover must pull them over the private link.
        on_mr1 = write_acked("mr1", "public-cut-mr1")
        probe = lab.NodeProbe()
        probe.start()
        try:
            lvslab.wait_for("the client to see mr1", lambda: probe.answered_by() == "mr1", 60)
            lvslab.labctl("link", "mr1", "public", "down")
            took_cut = lvslab.wait_for("mr2 to serve", lambda: lab.serves("mr2"), 300, step=1, seen=lab.pair_report)
            lvslab.wait_for("the client to see mr2", lambda: probe.answered_by() == "mr2", 60)
        finally:
            cut = probe.stop()
    finally:
        lvslab.ssh("mr2", "systemctl start lvsha-mirror-pull.timer")
    assert not lab.serves("mr1"), lab.pair_report()
    on_mr2 = write_acked("mr2", "public-cut-mr2")
    probe = lab.NodeProbe()
    probe.start()
    try:
        lvslab.labctl("link", "mr1", "public", "up")
        took_back = lvslab.wait_for("mr1 to serve again", lambda: lab.serves("mr1"), 300, step=1, seen=lab.pair_report)
        lvslab.wait_for("the client to see mr1", lambda: probe.answered_by() == "mr1", 60)
    finally:
        back = probe.stop()
    gap_cut, failed_cut, before_cut, after_cut = lab.outage(cut)
    gap_back, failed_back, before_back, after_back = lab.outage(back)
    kept, lost = where_kept({**on_mr1, **on_mr2})
    print(f"\npublic link of mr1 cut: mr2 served {took_cut:.1f} s later, the client's gap {gap_cut:.2f} s "
          f"({failed_cut} failed requests, {before_cut} -> {after_cut}); link restored: mr1 served {took_back:.1f} s later, gap {gap_back:.2f} s "
          f"({failed_back} failed requests, {before_back} -> {after_back}); files: {summary(kept)}")
    assert (before_cut, after_cut) == ("mr1", "mr2") and (before_back, after_back) == ("mr2", "mr1")
    assert not lost, summary(kept)
    assert all("mr1" in found for found in kept.values()), summary(kept)


def test_the_stale_node_boots_first_and_serves_what_it_has_then_nothing_is_lost():
    """mr2 is power-cut, mr1 writes on alone, then mr1 is power-cut too and mr2, whose copy is
    stale, boots first: a mirror pair serves what it has (no node can refuse as DRBD's does).
    When mr1 returns it takes the newer period from mr2 and keeps its own lone writes aside,
    listed by `lvsha mirror status`."""
    serving_node()
    lvslab.labctl("kill", "mr2")
    alone = write_acked("mr1", "stale-first-mr1")
    lvslab.labctl("kill", "mr1")
    lvslab.labctl("start", "mr2")
    took = lvslab.wait_for("mr2 to serve", lambda: lab.serves("mr2"), 300, step=2, seen=lab.pair_report)
    on_mr2 = write_acked("mr2", "stale-first-mr2")
    lvslab.labctl("start", "mr1")
    took_back = lvslab.wait_for("mr1 to serve again", lambda: lab.serves("mr1"), 600, step=2, seen=lab.pair_report)
    lab.wait_in_step(lab.INTERVAL * 3 + 60)
    kept, lost = where_kept({**alone, **on_mr2})
    listed = lab.status("mr1")["displaced"]
    print(f"\nstale mr2 booted first: served {took:.1f} s after answering SSH; mr1 served again {took_back:.1f} s "
          f"after answering SSH; files: {summary(kept)}; mr1 lists displaced {listed}")
    assert not lost, summary(kept)
    assert all(IN_PLACE <= set(found) for path, found in kept.items() if path in on_mr2), summary(kept)
    assert all("mr1 displaced" in found for path, found in kept.items() if path in alone), summary(kept)
    assert listed


def test_both_nodes_power_cut_at_once_then_booted():
    mr1_files = write_acked(serving_node(), "both-cut")
    lvslab.labctl("kill", "mr1")
    lvslab.labctl("kill", "mr2")
    lvslab.labctl("start", "--no-wait", "mr1")
    lvslab.labctl("start", "mr2")
    took = lvslab.wait_for("mr1 to serve", lambda: lab.serves("mr1"), 600, step=2, seen=lab.pair_report)
    lab.wait_in_step(lab.INTERVAL * 3 + 60)
    kept, lost = where_kept(mr1_files)
    print(f"\nboth nodes power-cut: mr1 served {took:.1f} s after both answered SSH; files: {summary(kept)}")
    assert not lost and all(IN_PLACE <= set(found) for found in kept.values()), summary(kept)


def test_a_split_brain_keeps_what_each_side_wrote_and_lists_it():
    """Both links between the nodes fail (the private link cut, the public path between the two
    nodes lost) while the client reaches both: each declares the other dead, mr2 takes the
    address too, and both serve and are written on. When the paths return, heartbeat settles on
    one node; every file written on either side is kept, in place or displaced and listed
    (`lvsha mirror pull --force` is the operator's choice where a node refuses to pull)."""
    lab.name_nodes()
    assert serving_node() == "mr1", lab.pair_report()
    since = {node: lvslab.ssh(node, "date +%s").strip() for node in lab.NODES}
    lvslab.labctl("link", "mr2", "private", "down")
    # heartbeat sends each path's packets from its own device, past any route: a wrong, fixed
    # neighbour entry loses them on the public segment instead (no lab guest has that MAC).
    for node, peer in (("mr1", "mr2"), ("mr2", "mr1")):
        lvslab.ssh(node, f"ip neigh replace {PUBLIC[peer]} lladdr {NOBODY} dev eth1 nud permanent")
    try:
        lvslab.wait_for("mr2 to serve too", lambda: lab.serves("mr2"), 300, step=2, seen=lab.pair_report)
        assert lab.serves("mr1"), lab.pair_report()
        on_mr1 = write_acked("mr1", "split-mr1")
        on_mr2 = write_acked("mr2", "split-mr2")
    finally:
        for node, peer in (("mr1", "mr2"), ("mr2", "mr1")):
            lvslab.ssh(node, f"ip neigh del {PUBLIC[peer]} dev eth1", check=False)
        lvslab.labctl("link", "mr2", "private", "up")
    # After a partition heartbeat gives everything up and restarts on both nodes ("returning
    # after partition"); the pair has settled when one node serves and the other holds its
    # period. A standby that refuses to pull (both served the same period) gets the
    # operator's documented choice: keep the serving node's copy, its own writes aside.
    forced = ""

    def settled() -> bool:
        nonlocal forced
        serving = [node for node in lab.NODES if lab.serves(node)]
        if len(serving) != 1:
            return False
        standby = next(node for node in lab.NODES if node not in serving)
        report = lab.status(standby)
        if not forced and "pull --force" in (report["last_pull"] or {}).get("error", ""):
            forced = lvslab.ssh(standby, "/usr/local/sbin/lvsha mirror pull --force --wait 120")
            return False
        return report["data"] == {"epoch": lab.status(serving[0])["data"]["epoch"], "served": False,
                                  "unreconciled": False}

    took = lvslab.wait_for("the pair to settle", settled, 600, step=2, seen=lab.pair_report)
    serving = next(node for node in lab.NODES if lab.serves(node))
    kept, lost = where_kept({**on_mr1, **on_mr2})
    moves = lvslab.ssh(serving, f"journalctl --since @{since[serving]} -o short-precise | grep -E "
                                "'partition|Giving up|Acquiring|Releasing|restart triggered' | tail -n 12",
                       check=False)
    print(f"\nsplit brain: both served; settled {took:.1f} s after the paths returned, {serving} serving"
          f"{'; pull --force: ' + forced[:120] if forced else ''}; files: {summary(kept)}; displaced listed: mr1 "
          f"{lab.status('mr1')['displaced']}, mr2 {lab.status('mr2')['displaced']}\n{serving}'s log:\n{moves}")
    assert not lost, summary(kept)
    assert lab.tree("mr1") == lab.tree("mr2")
