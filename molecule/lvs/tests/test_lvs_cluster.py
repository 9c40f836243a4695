# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LVS cluster of inventories/example-lvs, deployed in the lab, checked from the client.

Runs in order: a second run at -vvv (changed=0, the heartbeat key kept and not printed), the
converged state, distribution, a real server's failure and return, then
director failover (lb1 powered off) and failback (lb1 booted again). lb2 is the backup
director that doubles as a real server; its role is checked before, during and after.
Outage figures are printed (``-s``); BENCHMARKS.md takes medians from benchmarks/lvs_failover.py.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "lab"))
import lvslab  # noqa: E402

testinfra_hosts = ["lb1"]

MODEL = yaml.safe_load((REPO / "inventories/example-lvs/group_vars/all.yml").read_text())
SERVICE = MODEL["lvsha_lvs_services"][0]
VIP = SERVICE["vip"]
WEIGHTS = {rs["host"]: rs["weight"] for rs in SERVICE["realservers"]}
ADDRESSES = {"web1": "192.0.2.21", "web2": "192.0.2.22", "lb2": "192.0.2.12"}
CHECK = SERVICE["check"]


def table(node: str) -> dict:
    """Real server address -> weight in ``node``'s IPVS service for the VIP."""
    out = lvslab.ssh(node, "ipvsadm -Sn")
    return {m.group(1): int(m.group(2))
            for m in re.finditer(rf"-a -t {re.escape(VIP)}:80 -r ([\d.]+):80 -g -w (\d+)", out)}


def sysctl(node: str, *names: str) -> list:
    return lvslab.ssh(node, "sysctl -n " + " ".join(names)).split()


def on_lo(node: str) -> bool:
    return f" {VIP}/32 " in lvslab.ssh(node, "ip -o -4 addr show dev lo")


def assert_realserver_mode(node: str) -> None:
    assert on_lo(node), f"{node}: the VIP is not on lo"
    assert not lvslab.holds_vip(node), f"{node}: a real server must not hold the VIP on eth1"
    assert sysctl(node, "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.eth1.arp_ignore") == ["1", "1"]
    assert sysctl(node, "net.ipv4.conf.all.arp_announce", "net.ipv4.conf.eth1.arp_announce") == ["2", "2"]


def assert_director_mode(node: str) -> None:
    assert lvslab.holds_vip(node), f"{node}: the active director does not hold the VIP on eth1"
    assert not on_lo(node), f"{node}: the VIP is still on lo"
    assert sysctl(node, "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.eth1.arp_ignore") == ["0", "0"]
    assert sysctl(node, "net.ipv4.ip_forward") == ["1"]
    assert table(node) == {ADDRESSES[h]: w for h, w in WEIGHTS.items()}
    assert lvslab.ssh(node, "systemctl is-active mon.service", check=False).strip() == "active"


def heartbeat_key(node: str) -> str:
    return lvslab.ssh(node, "awk '$1 == 1 { print $3 }' /etc/ha.d/authkeys").strip()


def test_second_run_changes_nothing_and_prints_no_secret():
    key = heartbeat_key("lb1")
    proc = lvslab.playbook("lvs", "lvs", None, "-vvv")
    assert proc.returncode == 0
    assert lvslab.changed(proc) == {"lb1": 0, "lb2": 0, "web1": 0, "web2": 0}
    assert len(key) >= 20 and heartbeat_key("lb2") == key == heartbeat_key("lb1"), "the key was not kept"
    assert key not in proc.stdout + proc.stderr


def test_lb1_is_the_active_director(host):
    # heartbeat acquires the resources some seconds after it starts.
    lvslab.wait_for("lb1 to hold the VIP", lambda: lvslab.holds_vip("lb1"), timeout=90, seen=lvslab.directors_report)
    authkeys = host.file("/etc/ha.d/authkeys")
    assert (authkeys.user, authkeys.group, authkeys.mode) == ("root", "root", 0o600)
    assert "crc" not in authkeys.content_string.split()
    assert table("lb1") == {ADDRESSES[h]: w for h, w in WEIGHTS.items()}
    assert not on_lo("lb1")
    assert host.service("mon").is_running
    assert host.service("heartbeat").is_enabled
    assert not host.service("mon").is_enabled  # heartbeat starts it


def test_realservers_carry_the_vip_on_lo():
    for node in ("web1", "web2", "lb2"):
        assert_realserver_mode(node)
    assert table("lb2") == {}, "the standby director that doubles as a real server must keep no table"


def test_requests_are_split_by_weight():
    counts = lvslab.answers_from_client(WEIGHTS)
    share = counts["web1"] / (counts["web1"] + counts["web2"])
    expected = WEIGHTS["web1"] / (WEIGHTS["web1"] + WEIGHTS["web2"])
    assert abs(share - expected) <= 0.10, f"web1 got {share:.0%} of web1+web2, expected {expected:.0%} +- 10 points"
    assert counts["lb2"] > 0, "the backup director did not serve as a real server"


def weight_in(node: str, host: str, weight: int, timeout: float) -> lvslab.Watch:
    """A watcher in ``node`` that returns once ``host`` has ``weight`` in the VIP's service."""
    return lvslab.Watch(node, f"ipvsadm -Sn | grep -q -- '-r {ADDRESSES[host]}:80 -g -w {weight}$'", timeout)


def test_mon_drains_a_dead_realserver_and_restores_it():
    # The budget is interval x alertafter + 5 s. The time is printed against it, not
    # asserted: under emulation mon's own loop adds seconds to each interval (see BENCHMARKS.md).
    budget = CHECK["interval"] * CHECK["alertafter"] + 5
    assert table("lb1").get(ADDRESSES["web1"]) == WEIGHTS["web1"]
    watcher = weight_in("lb1", "web1", 0, 90)
    time.sleep(2)  # the watcher's SSH session is up
    stopped = time.monotonic()
    lvslab.ssh("web1", "systemctl stop nginx.service")
    try:
        watcher.wait("mon to drain web1", seen=lvslab.mon_report)
        took = time.monotonic() - stopped
        print(f"\nweb1 drained {took:.1f} s after nginx was stopped (budget {budget} s: "
              f"{'met' if took <= budget else 'missed'})")
        samples = lvslab.requests_from_client(40)
        assert all(s.ok and s.what != "web1" for s in samples), [s.what for s in samples]
    finally:
        watcher = weight_in("lb1", "web1", WEIGHTS["web1"], 90)
        time.sleep(2)
        started = time.monotonic()
        lvslab.ssh("web1", "systemctl start nginx.service")
    watcher.wait("web1 to get its weight back", seen=lvslab.mon_report)
    print(f"web1 restored to weight {WEIGHTS['web1']} {time.monotonic() - started:.1f} s after nginx started")


def test_failover_to_the_backup_director_and_back():
    probe = lvslab.Probe()
    probe.start()
    time.sleep(2)
    probe.mark()  # 0: failover
    lvslab.labctl("kill", "lb1")
    killed = time.monotonic()
    try:
        took = lvslab.wait_for("lb2 to take the VIP", lambda: lvslab.holds_vip("lb2"), timeout=60, seen=lvslab.directors_report)
        print(f"\nlb2 holds the VIP {took:.1f} s after lb1 was powered off")
        lvslab.wait_for("the client to be served again", probe.answering, timeout=60)
        time.sleep(3)
        print(f"before the power cut the client was answered by "
              f"{lvslab.responders(lvslab.before_mark(probe.samples(), 0))}")
        window = lvslab.after_mark(probe.samples(), 0)
        assert lvslab.span(window) >= took, "the probe stopped logging during the failover"
        gap, failed = lvslab.longest_gap(window)
        print(f"failover: longest gap the client saw {gap:.2f} s ({failed} failed requests)")
        assert_director_mode("lb2")
        recent = [s for s in probe.samples() if s.what != "mark"]
        assert all(s.ok for s in recent if s.at > recent[-1].at - 2)
    finally:
        probe.mark()  # 1: lb1 boots and takes the VIP back
        lvslab.labctl("start", "lb1")
    print(f"lb1 answers SSH again {time.monotonic() - killed:.0f} s after it was powered off")
    booted = time.monotonic()
    lvslab.wait_for("lb1 to take the VIP back (auto_failback)", lambda: lvslab.holds_vip("lb1"), timeout=180, seen=lvslab.directors_report)
    waited = time.monotonic() - booted
    lvslab.wait_for("lb2 to be a real server again", lambda: on_lo("lb2"), timeout=60)
    print(f"failback done {time.monotonic() - booted:.1f} s after lb1 answered SSH")
    time.sleep(3)
    samples = probe.stop()
    window = lvslab.after_mark(samples, 1)
    assert lvslab.span(window) >= waited, "the probe stopped logging during the failback"
    gap, failed = lvslab.longest_gap(window)
    print(f"failback: longest gap the client saw {gap:.2f} s ({failed} failed requests)")
    served = [s for s in samples if s.what != "mark"]
    assert all(s.ok for s in served if s.at > served[-1].at - 2), "the client is not served after failback"
    assert_director_mode("lb1")
    assert_realserver_mode("lb2")
    assert table("lb2") == {}
    assert lvslab.ssh("lb2", "systemctl is-active mon.service", check=False).strip() == "inactive"
