# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An LVS cluster whose forwarding is not direct routing, deployed in the lab from its example
inventory (inventories/example-SCENARIO: ``nat``, the two-network NAT cluster, or ``tun``,
tunnelling), checked from the client.

Runs in order: a second run (changed=0), the converged state (every floating address on lb1,
the table with the service's forwarding, each real server set up for it), distribution by
weight, the sorry server while every real server is down (where the example declares one), a
firewall-mark service's stickiness across its ports and the connection timeouts (tun), one
alert for a real server that stops answering ping (nat), then director failover (lb1 powered
off: lb2 takes every floating address) and failback (lb1 booted again: its timeouts set again).
Gaps are printed (``-s``).
"""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "lab"))
import lvslab  # noqa: E402

testinfra_hosts = ["lb1"]

EXAMPLE = os.environ["MOLECULE_SCENARIO_NAME"]
MODEL = yaml.safe_load((REPO / f"inventories/example-{EXAMPLE}/group_vars/all.yml").read_text())
HOSTS = yaml.safe_load((REPO / f"inventories/example-{EXAMPLE}/hosts.yml").read_text())["all"]["children"]
SERVICE = MODEL["lvsha_lvs_services"][0]
VIP = SERVICE["vip"]
SEGMENT = SERVICE.get("segment", "public")
# Each floating address and the directors' interface that carries it.
FLOATING = {v["address"]: MODEL[f"lvsha_{v.get('segment', 'public')}_interface"] for v in MODEL["lvsha_lvs_vips"]}
WEIGHTS = {rs["host"]: rs["weight"] for rs in SERVICE["realservers"]}
SORRY = SERVICE.get("sorry_server")
# Each host's own variables in hosts.yml, whichever groups list it.
HOST_VARS: dict = {}
for members in HOSTS.values():
    for name, variables in (members.get("hosts") or {}).items():
        HOST_VARS.setdefault(name, {}).update(variables or {})
ADDRESSES = {host: HOST_VARS[host][f"lvsha_{SEGMENT}_address"] for host in [*WEIGHTS, *([SORRY] if SORRY else [])]}
# ipvsadm -S's forwarding flag: masquerading (NAT) or IPIP tunnelling.
FLAG = {"nat": "-m", "tun": "-i"}[SERVICE["forwarding"]]
FWMARK = next((svc for svc in MODEL["lvsha_lvs_services"] if "fwmark" in svc), None)
TIMEOUTS = MODEL.get("lvsha_lvs_timeouts")
PING = MODEL.get("lvsha_lvs_ping_check")


def table(node: str) -> dict:
    """Real server address -> weight in ``node``'s service for the VIP."""
    out = lvslab.ssh(node, "ipvsadm -Sn")
    return {m.group(1): int(m.group(2))
            for m in re.finditer(rf"-a -t {re.escape(VIP)}:80 -r ([\d.]+):\d+ {FLAG} -w (\d+)", out)}


def holds(node: str) -> dict:
    """Floating address -> whether ``node`` carries it on its interface."""
    return {address: lvslab.holds_vip(node, address, iface) for address, iface in FLOATING.items()}


def holds_all(node: str) -> bool:
    return all(holds(node).values())


def assert_active(node: str, standby: str) -> None:
    assert holds_all(node), f"{node}, the active director, carries {holds(node)}"
    assert not any(holds(standby).values()), f"{standby}, the standby director, carries {holds(standby)}"
    assert table(node) == {ADDRESSES[h]: w for h, w in WEIGHTS.items()}
    assert lvslab.ssh(node, "sysctl -n net.ipv4.ip_forward").strip() == "1"


def timeouts(node: str) -> dict:
    """``node``'s IPVS connection timeouts, as lvsha_lvs_timeouts names them."""
    numbers = lvslab.ssh(node, "ipvsadm -Ln --timeout").split(":")[-1].split()
    return dict(zip(("tcp", "tcpfin", "udp"), map(int, numbers)))


def assert_timeouts(node: str) -> None:
    if TIMEOUTS:
        live = timeouts(node)
        assert {name: live[name] for name in TIMEOUTS} == TIMEOUTS, f"{node}: {live}"


def test_second_run_changes_nothing():
    proc = lvslab.playbook("lvs", EXAMPLE)
    assert proc.returncode == 0
    assert lvslab.changed(proc) == {"lb1": 0, "lb2": 0, **{host: 0 for host in WEIGHTS}}


def test_lb1_holds_every_floating_address(host):
    lvslab.wait_for("lb1 to hold every floating address", lambda: holds_all("lb1"), timeout=90,
                    seen=lvslab.directors_report)
    assert_active("lb1", "lb2")
    assert host.service("mon").is_running
    assert_timeouts("lb1")


def test_real_servers_are_set_up_for_the_forwarding():
    for node in WEIGHTS:
        sysctl = dict(line.split(" = ") for line in lvslab.ssh(
            node, "sysctl net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.rp_filter").splitlines())
        addresses = lvslab.ssh(node, "ip -o -4 addr show")
        if SERVICE["forwarding"] == "nat":
            # No VIP and no ARP setting; replies go back through the directors' inside address.
            gateway = next(a for a, iface in FLOATING.items() if a != VIP)
            route = lvslab.ssh(node, "ip -4 route show default")
            assert route.startswith(f"default via {gateway} "), f"{node}: {route!r}"
            assert f" {VIP}/" not in addresses, f"{node} carries the VIP"
            assert sysctl["net.ipv4.conf.all.arp_ignore"] == "0"
        else:
            # The VIP on tunl0, hidden from ARP; no reverse-path filter for the tunnelled packets.
            assert re.search(rf"tunl0\s+inet {re.escape(VIP)}/32 ", addresses), f"{node}: {addresses}"
            assert sysctl == {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.rp_filter": "0"}


def test_requests_are_split_by_weight():
    counts = lvslab.answers_from_client(WEIGHTS)
    share = counts["web1"] / sum(counts.values())
    expected = WEIGHTS["web1"] / sum(WEIGHTS.values())
    assert abs(share - expected) <= 0.10, f"web1 got {share:.0%}, expected {expected:.0%} +- 10 points"


@pytest.mark.skipif(SORRY is None, reason="the example declares no sorry server")
def test_the_sorry_server_answers_only_while_no_real_server_can():
    # ipvsadm 1.31 follows -i with --tun-type: the weight ends at a blank or at the line's end.
    watcher = lvslab.Watch("lb1", f"ipvsadm -Sn | grep -Eq -- '-r {ADDRESSES[SORRY]}:80 {FLAG} -w 1( |$)'", 120)
    time.sleep(2)  # the watcher's SSH session is up
    stopped = time.monotonic()
    for node in WEIGHTS:
        lvslab.ssh(node, "systemctl stop nginx.service")
    try:
        watcher.wait("the sorry server to be added", seen=lvslab.mon_report)
        print(f"\n{SORRY} added {time.monotonic() - stopped:.1f} s after every real server stopped")
        lvslab.answers_from_client([SORRY], 20)
    finally:
        watcher = lvslab.Watch("lb1", f"! ipvsadm -Sn | grep -q -- '-r {ADDRESSES[SORRY]}:80 '", 120)
        time.sleep(2)
        started = time.monotonic()
        for node in WEIGHTS:
            lvslab.ssh(node, "systemctl start nginx.service")
    watcher.wait("the sorry server to be taken out", seen=lvslab.mon_report)
    print(f"{SORRY} taken out {time.monotonic() - started:.1f} s after the real servers started")
    lvslab.wait_for("every real server to get its weight back", lambda: table("lb1") == {ADDRESSES[h]: w for h, w in WEIGHTS.items()},
                    timeout=60, seen=lvslab.mon_report)
    lvslab.answers_from_client(WEIGHTS, 40)


@pytest.mark.skipif(FWMARK is None, reason="the example declares no fwmark service")
def test_a_fwmark_service_keeps_a_client_on_one_real_server_across_its_ports():
    # The mark is set on the director's way in; without it nothing on the VIP answers 443.
    assert f"meta mark set 0x{FWMARK['fwmark']:08x}" in lvslab.ssh("lb1", "nft list table ip lvsha")
    assert f"-A -f {FWMARK['fwmark']} -s {FWMARK['scheduler']} -p {FWMARK['persistent']}" in lvslab.ssh("lb1", "ipvsadm -Sn")
    seen = {}
    for _round in range(2):
        for port in FWMARK["ports"]:
            samples = lvslab.requests_from_client(5, f"http://{FWMARK['vip']}:{port}/")
            assert all(s.ok for s in samples), (port, [s.what for s in samples])
            seen.setdefault(port, set()).update(s.what for s in samples)
    print(f"\nthe client was answered by {seen} on the ports of fwmark {FWMARK['fwmark']}")
    # With rr and two real servers, one answer per port alone would alternate: persistence keeps one.
    assert len(set().union(*seen.values())) == 1, seen


@pytest.mark.skipif(PING is None, reason="the example declares no ping check")
def test_a_real_server_that_stops_answering_ping_gives_one_alert_not_two():
    host = next(iter(WEIGHTS))

    def alerts() -> list:
        """mon's lvs.alert calls for the host, oldest first: [alert or upalert, group, service] of
        its history lines, "TYPE GROUP SERVICE TIME /PATH/OF/ALERT (ARGS) SUMMARY", which mon
        sends with blanks and quotes as \\xx."""
        history = lvslab.ssh("lb1", "moncmd -s 127.0.0.1 list alerthist")
        lines = [re.sub(r"\\([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), line).split() for line in history.splitlines()]
        return [words[:3] for words in lines if len(words) > 4 and words[1] == host and words[4].endswith("/lvs.alert")]
    before = len(alerts())
    watcher = lvslab.Watch("lb1", f"ipvsadm -Sn | grep -Eq -- '-r {ADDRESSES[host]}:80 {FLAG} -w 0( |$)'", 90)
    time.sleep(2)
    cut = time.monotonic()
    lvslab.labctl("link", host, SEGMENT, "down")
    try:
        watcher.wait(f"mon to drain {host}", seen=lvslab.mon_report)
        print(f"\n{host} drained {time.monotonic() - cut:.1f} s after its link was cut")
        # Long enough for the service check's own alert, had the ping not held it back.
        checks = SERVICE["check"]
        time.sleep(checks["alertafter"] * checks["interval"] + checks["timeout"] + 4)
        failures = alerts()[before:]
        print(f"mon's alerts for {host}: {failures}")
        assert failures == [["alert", host, "ping"]], failures
    finally:
        watcher = lvslab.Watch("lb1", f"ipvsadm -Sn | grep -Eq -- '-r {ADDRESSES[host]}:80 {FLAG} -w {WEIGHTS[host]}( |$)'", 90)
        time.sleep(2)
        lvslab.labctl("link", host, SEGMENT, "up")
    watcher.wait(f"{host} to get its weight back", seen=lvslab.mon_report)
    assert alerts()[before:] == [["alert", host, "ping"], ["upalert", host, "ping"]]
    # mon_extra_alerts: the same two, with the failure's and the return's own texts.
    logged = lvslab.ssh("lb1", f"grep -E '^(failure|up) {host} ' /var/log/mon/alerts.log").splitlines()
    assert [line.split()[0] + " " + line.split()[-1] for line in logged[-2:]] == ["failure went-down", "up came-back"], logged


def test_failover_to_the_backup_director_and_back():
    probe = lvslab.Probe()
    probe.start()
    time.sleep(2)
    probe.mark()  # 0: failover
    lvslab.labctl("kill", "lb1")
    try:
        # Under emulation: 14 s with lvsha-address, 25 to 52 s with IPaddr2; a margin for a loaded machine.
        took = lvslab.wait_for("lb2 to take every floating address", lambda: holds_all("lb2"), timeout=120,
                               seen=lvslab.directors_report)
        print(f"\nlb2 holds {', '.join(FLOATING)} {took:.1f} s after lb1 was powered off")
        lvslab.wait_for("the client to be served again", probe.answering, timeout=60)
        time.sleep(3)
        window = lvslab.after_mark(probe.samples(), 0)
        assert lvslab.span(window) >= took, "the probe stopped logging during the failover"
        gap, failed = lvslab.longest_gap(window)
        print(f"failover: longest gap the client saw {gap:.2f} s ({failed} failed requests)")
        assert table("lb2") == {ADDRESSES[h]: w for h, w in WEIGHTS.items()}
        assert_timeouts("lb2")
    finally:
        probe.mark()  # 1: lb1 boots and takes every address back
        lvslab.labctl("start", "lb1")
    booted = time.monotonic()
    lvslab.wait_for("lb1 to take every address back (auto_failback)",
                    lambda: holds_all("lb1") and not any(holds("lb2").values()), timeout=180, seen=lvslab.directors_report)
    print(f"failback done {time.monotonic() - booted:.1f} s after lb1 answered SSH")
    time.sleep(3)
    samples = probe.stop()
    gap, failed = lvslab.longest_gap(lvslab.after_mark(samples, 1))
    print(f"failback: longest gap the client saw {gap:.2f} s ({failed} failed requests)")
    served = [s for s in samples if s.what != "mark"]
    assert all(s.ok for s in served if s.at > served[-1].at - 2), "the client is not served after failback"
    assert_active("lb1", "lb2")
    assert_timeouts("lb1")  # the kernel forgot them in the power cut; set again at boot and takeover
