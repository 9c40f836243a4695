# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""heartbeat's resource lvsha-address (roles/heartbeat/templates/lvsha-address.j2) and the
``lvsha arp`` it starts, with the real ip and a raw socket, in a network namespace of the
test's own: a veth pair, the resource on one end, a listener for ARP on the other. The lvsha
command is the installed one (tests/unit/lvsha_command.py), bound over /usr/local/sbin in a
mount namespace of the test's own; only systemd-cat (the journal) is a stand-in that runs
its command."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

import lvsha_command

TEMPLATE = Path(__file__).resolve().parents[3] / "roles" / "heartbeat" / "templates" / "lvsha-address.j2"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                                reason="needs root, unshare and ip: a network namespace of the test's own")

# Runs inside the namespaces: sets up the veth pair, runs the resource's verbs in turn and
# reports each one's exit status, output and the addresses they left, as JSON.
INSIDE = r'''
import json, socket, subprocess, sys, time
resource, sbin, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def sh(*args):
    subprocess.run(args, check=True)
sh("mount", "--bind", sbin, "/usr/local/sbin")
sh("mount", "-t", "sysfs", "sysfs", "/sys")  # this namespace's interfaces (lvsha arp reads the MAC there)
sh("ip", "link", "set", "lo", "up")
sh("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
sh("ip", "link", "set", "veth0", "up")
sh("ip", "link", "set", "veth1", "up")
sh("ip", "addr", "add", "198.51.100.11/24", "dev", "veth0")
listener = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
listener.bind(("veth1", 0))
listener.settimeout(0.5)
report = []
for step in steps:
    if step[0] == "ip":
        sh(*step)
        continue
    proc = subprocess.run(["sh", resource, *step], capture_output=True, text=True)
    # Gratuitous ARP for the address (its sender address, bytes 28 to 32 of the frame) within 5 s.
    announced, deadline = [], time.monotonic() + (5 if step[-1] == "start" else 1)
    while time.monotonic() < deadline and len(announced) < 5:
        try:
            frame = listener.recv(128)
        except socket.timeout:
            continue
        announced.append(socket.inet_ntoa(frame[28:32]))
    held = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout.split("\n")
    report.append({"step": step, "rc": proc.returncode, "out": proc.stdout, "err": proc.stderr,
                   "announced": announced,
                   "held": sorted(f"{line.split()[1]} {line.split()[3]}" for line in held if " inet " in line)})
print(json.dumps(report))
'''


def run(tmp_path: Path, steps: list) -> list:
    template = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    template.filters["comment"] = lambda text: f"# {text}"
    resource = tmp_path / "lvsha-address"
    resource.write_text(template.from_string(TEMPLATE.read_text()).render(ansible_managed="managed"))
    sbin = lvsha_command.install(tmp_path / "local").parent
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    (stand_ins / "systemd-cat").write_text('#!/bin/sh\n# systemd-cat -t TAG COMMAND...\nshift 2\nexec "$@"\n')
    (stand_ins / "systemd-cat").chmod(0o755)
    env = {**os.environ, "PATH": f"{stand_ins}:{os.environ['PATH']}"}
    proc = subprocess.run(["unshare", "--net", "--mount", "--", sys.executable, "-c", INSIDE, str(resource), str(sbin),
                           json.dumps(steps)], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


OWN = "veth0 198.51.100.11/24"
LO = "lo 127.0.0.1/8"


def test_start_adds_and_announces_status_reads_stop_removes(tmp_path: Path) -> None:
    vip = ["192.0.2.50/24", "veth0"]
    report = run(tmp_path, [[*vip, "status"], [*vip, "start"], [*vip, "status"], [*vip, "start"],
                            [*vip, "stop"], [*vip, "status"], [*vip, "stop"]])
    before, start, running, again, stop, stopped, stop_again = report
    assert (before["rc"], before["out"], before["held"]) == (0, "stopped\n", [LO, OWN])
    assert (start["rc"], start["err"]) == (0, "")
    assert start["held"] == [LO, "veth0 192.0.2.50/24", OWN]
    # Five gratuitous ARP requests from lvsha arp, for the address and nothing else.
    assert start["announced"] == ["192.0.2.50"] * 5, start
    assert (running["out"], running["held"], running["announced"]) == ("running\n", start["held"], [])
    # Start on an address already held: no second address, announced again.
    assert (again["rc"], again["held"], again["announced"]) == (0, start["held"], ["192.0.2.50"] * 5)
    assert (stop["rc"], stop["held"]) == (0, [LO, OWN])
    assert (stopped["out"], stop_again["rc"], stop_again["held"]) == ("stopped\n", 0, [LO, OWN])


def test_stop_removes_the_address_from_its_interface_alone_whatever_its_prefix(tmp_path: Path) -> None:
    # A backup director that doubles as a real server carries the VIP on lo as well; and a
    # pair that ran IPaddr2 before, or a changed prefix, leaves the address with another prefix.
    report = run(tmp_path, [["ip", "addr", "add", "192.0.2.50/32", "dev", "lo"],
                            ["ip", "addr", "add", "192.0.2.50/25", "dev", "veth0"],
                            ["192.0.2.50/24", "veth0", "status"], ["192.0.2.50/24", "veth0", "stop"]])
    status, stop = report
    assert status["out"] == "running\n"
    assert (stop["rc"], stop["held"]) == (0, ["lo 127.0.0.1/8", "lo 192.0.2.50/32", OWN])


def test_a_failed_add_fails_the_start_and_wrong_arguments_are_refused(tmp_path: Path) -> None:
    report = run(tmp_path, [["192.0.2.50/24", "eth9", "start"], ["192.0.2.50/24", "veth0"],
                            ["192.0.2.50/24", "veth0", "restart"]])
    missing, short, unknown = report
    assert missing["rc"] == 1 and "eth9" in missing["err"] and missing["announced"] == []
    assert (short["rc"], unknown["rc"]) == (2, 2)
    assert "usage:" in short["err"] and "usage:" in unknown["err"]
    assert unknown["held"] == [LO, OWN]


def test_lvsha_arp_refuses_what_is_no_interface_or_address(tmp_path: Path) -> None:
    launcher = lvsha_command.install(tmp_path)
    for args, rc, said in [(["192.0.2.50", "../../etc"], 2, "is not an interface name"),
                           (["192.0.2.50", "eth0 up"], 2, "is not an interface name"),
                           (["192.0.2.50", "lvsha-none0"], 1, "cannot read the MAC address of lvsha-none0"),
                           (["not-an-address", "lo"], 1, "is not an IPv4 or IPv6 address"),
                           (["192.0.2.50", "lo", "--count", "0"], 2, "0 is not between 1 and 100")]:
        proc = subprocess.run([str(launcher), "arp", *args], capture_output=True, text=True, check=False)
        assert (proc.returncode, said in proc.stderr) == (rc, True), (args, proc.stderr)
