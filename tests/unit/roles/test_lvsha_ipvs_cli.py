# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``lvsha ipvs`` (plugins/module_utils/lvsha_host/ipvs.py), run as a program against a fake ipvsadm.

The program runs as on a director: the lvsha launcher and the lvsha_host package as the
host_package role installs them (tests/unit/lvsha_command.py, under the test module's
directory), the declared table in LVSHA_IPVS_DESIRED (here written from lb1's
``lvs.health`` in the cluster plan of the example inventory, as the director role writes
/etc/lvsha/ipvs.json), its state in LVSHA_RUN_DIR. LVSHA_IPVSADM is FAKE_IPVSADM below;
LVSHA_PROC_IPVS stands for /proc/net/ip_vs (IPVS loaded), which ``sync --check`` looks at.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import model_variables
from ansible_collections.lvsha.cluster.tests.unit.model_inventory import Inventory
from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.recordings import recorded_out, recording
from lvsha_command import install

FAKE_IPVSADM = r'''
"""A test double of ipvsadm 1.31, NOT ipvsadm: just enough for lvsha ipvs.

It keeps its table in ipvs-table.json next to itself and logs every call to ipvsadm.log.
It answers ``-Sn`` and ``-Ln --thresholds`` in the formats of the real ipvsadm output
recorded in the lab (tests/unit/plugins/modules/fixtures/recorded/ipvsadm/save_mixed.txt and
list_mixed_thresholds.txt; test_lvsha_ipvs_cli.py checks the two stay identical), and
``-R``: rule lines on stdin (-A -E -D -a -e -d, TCP/UDP/fwmark services, no thresholds, of the
tunnel options only --tun-type ipip, as ipvsadm -S prints it), with the error messages and the exit status (that of the last line) of
the real one; and ``-Ln --timeout`` (timeout.txt) and ``--set``. Anything else is refused with
exit status 99, so that a test fails loudly.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "ipvs-table.json")
LOG = os.path.join(HERE, "ipvsadm.log")
TIMEOUTS = os.path.join(HERE, "ipvs-timeouts.json")
PROTO = {"-t": "TCP", "-u": "UDP", "-f": "FWM"}
FORWARD = {"-g": "g", "-m": "m", "-i": "i"}


def load():
    try:
        with open(TABLE) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return []


def unsupported(what):
    sys.stderr.write(f"fake ipvsadm: unsupported {what}\n")
    sys.exit(99)


def save(table):
    for svc in table:
        selector = f"{svc['flag']} {svc['address']}"
        line = f"-A {selector} -s {svc['scheduler']}"
        if svc["persistent"] is not None:
            line += f" -p {svc['persistent']}"
        print(line)
        for rs in svc["realservers"]:
            line = f"-a {selector} -r {rs['address']} -{rs['forward']} -w {rs['weight']}"
            print(line + (" --tun-type ipip" if rs["forward"] == "i" else ""))


def thresholds(table):
    print("IP Virtual Server version 1.2.1 (size=4096)")
    print("Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ")
    print("  -> RemoteAddress:Port")
    for svc in table:
        line = "%-4s %s %s" % (PROTO[svc["flag"]], svc["address"], svc["scheduler"])
        if svc["persistent"] is not None:
            line += f" persistent {svc['persistent']}"
        print(line)
        for rs in svc["realservers"]:
            print("  -> %-28s %-10u %-10u %-10u %-10u" % (rs["address"], 0, 0, 0, 0))


def rule(table, tokens):
    """Apply one rule line; returns an error message or None."""
    command, opts, i = tokens[0], {}, 1
    while i < len(tokens):
        token = tokens[i]
        if token in PROTO:
            opts["flag"], opts["address"] = token, tokens[i + 1]
            i += 2
        elif token in ("-s", "-p", "-r", "-w"):
            opts[token], i = tokens[i + 1], i + 2
        elif token in FORWARD:
            opts["forward"], i = FORWARD[token], i + 1
        elif tokens[i:i + 2] == ["--tun-type", "ipip"]:
            i += 2
        else:
            unsupported(f"option {token!r} in {' '.join(tokens)!r}")
    if "flag" not in opts:
        unsupported(f"line {' '.join(tokens)!r}")
    svc = next((s for s in table if (s["flag"], s["address"]) == (opts["flag"], opts["address"])), None)
    if command == "-A":
        if svc is not None:
            return "Service already exists"
        table.append({"flag": opts["flag"], "address": opts["address"], "scheduler": opts.get("-s", "wlc"),
                      "persistent": opts.get("-p"), "realservers": []})
        return None
    if svc is None:
        return "Service not defined"
    if command == "-E":
        svc["scheduler"], svc["persistent"] = opts.get("-s", "wlc"), opts.get("-p")
        return None
    if command == "-D":
        table.remove(svc)
        return None
    if command not in ("-a", "-e", "-d") or "-r" not in opts:
        unsupported(f"line {' '.join(tokens)!r}")
    rs = next((r for r in svc["realservers"] if r["address"] == opts["-r"]), None)
    if command == "-a":
        if rs is not None:
            return "Destination already exists"
        svc["realservers"].append({"address": opts["-r"], "forward": opts.get("forward", "g"),
                                   "weight": int(opts.get("-w", 1))})
        return None
    if rs is None:
        return "No such destination"
    if command == "-d":
        svc["realservers"].remove(rs)
    else:
        rs["forward"], rs["weight"] = opts.get("forward", "g"), int(opts.get("-w", 1))
    return None


def restore(table):
    status = 0
    for line in sys.stdin.read().splitlines():
        if not line.strip():
            continue
        error = rule(table, line.split())
        if error:
            sys.stderr.write(error + "\n")
        status = 255 if error else 0
    with open(TABLE, "w") as handle:
        json.dump(table, handle)
    return status


def timeouts():
    try:
        with open(TIMEOUTS) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return [900, 120, 300]


def main(argv):
    with open(LOG, "a") as log:
        log.write(json.dumps(argv) + "\n")
    table = load()
    if argv == ["-Ln", "--timeout"]:
        print("Timeout (tcp tcpfin udp): %d %d %d" % tuple(timeouts()))
        return 0
    if argv[:1] == ["--set"] and len(argv) == 4:
        values = [int(new) or old for new, old in zip(argv[1:], timeouts())]  # 0 leaves one as it is
        with open(TIMEOUTS, "w") as handle:
            json.dump(values, handle)
        return 0
    if argv == ["-Sn"]:
        save(table)
        return 0
    if argv == ["-Ln", "--thresholds"]:
        thresholds(table)
        return 0
    if argv == ["-R"]:
        return restore(table)
    unsupported(f"arguments {argv}")


sys.exit(main(sys.argv[1:]))
'''

WWW_LINES = [
    "-A -t 192.0.2.50:80 -s wrr",
    "-a -t 192.0.2.50:80 -r 192.0.2.21:80 -g -w 1",
    "-a -t 192.0.2.50:80 -r 192.0.2.22:80 -g -w 3",
    "-a -t 192.0.2.50:80 -r 192.0.2.12:80 -g -w 1",
]


def head(text: str, lines: int) -> str:
    return "".join(text.splitlines(keepends=True)[:lines])


def example_ipvs(example: str = "example-lvs") -> Dict[str, Any]:
    """lb1's ``lvs.ipvs`` in the cluster plan of an example inventory: what the role writes."""
    inventory = Inventory(example)
    return build_plan(model_variables(inventory.hostvars()), inventory.groups)["hosts"]["lb1"]["lvs"]["ipvs"]


def example_health() -> List[Dict[str, Any]]:
    """The example's service www alone, as an older role wrote the file (a bare list): most tests
    here follow one service."""
    return [entry for entry in example_ipvs()["services"] if entry["name"] == "www"]


class Director:
    """One director's files in tmp_path, the lvsha command and the fake ipvsadm."""

    def __init__(self, root: Path, launcher: Path) -> None:
        self.root = root
        self.launcher = launcher
        self.run_dir = root / "run"
        self.desired = root / "ipvs.json"
        self.ipvsadm = root / "ipvsadm"
        self.ipvsadm.write_text(f"#!{sys.executable}\n{FAKE_IPVSADM.lstrip()}")
        self.ipvsadm.chmod(0o755)
        self.write_desired(example_health())
        self.proc_ipvs = root / "proc-net-ip_vs"
        self.proc_ipvs.touch()
        self.env = dict(os.environ, LVSHA_RUN_DIR=str(self.run_dir),
                        LVSHA_IPVS_DESIRED=str(self.desired), LVSHA_IPVSADM=str(self.ipvsadm),
                        LVSHA_PROC_IPVS=str(self.proc_ipvs))

    def write_desired(self, desired: Any) -> None:
        self.desired.write_text(json.dumps(desired, indent=2) + "\n")

    def argv(self, *args: str) -> List[str]:
        return [str(self.launcher), "ipvs", *args]

    def cli(self, *args: str, rc: Optional[int] = 0, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.argv(*args), env=self.env, input=stdin, capture_output=True, text=True,
                              check=False, timeout=60)
        if rc is not None:
            assert proc.returncode == rc, proc.stderr
        return proc

    def sync(self, *args: str, rc: Optional[int] = 0, stdin: Optional[str] = None) -> Dict[str, Any]:
        """``sync --json`` as the director role runs it; returns the parsed output."""
        return json.loads(self.cli("sync", "--json", *args, rc=rc, stdin=stdin).stdout)

    def fake(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([str(self.ipvsadm), *args], input=stdin, capture_output=True, text=True,
                              check=False, timeout=60)

    def table(self) -> Dict[str, Dict[str, Any]]:
        """The fake's stored table: {service address: {real server address: weight}}."""
        path = self.root / "ipvs-table.json"
        stored = json.loads(path.read_text()) if path.exists() else []
        return {svc["address"]: {rs["address"]: rs["weight"] for rs in svc["realservers"]} for svc in stored}

    def calls(self) -> List[List[str]]:
        log = self.root / "ipvsadm.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def down(self) -> Dict[str, List[str]]:
        return json.loads((self.run_dir / "down.json").read_text())


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(tmp_path_factory.mktemp("lvsha"))


@pytest.fixture
def director(tmp_path: Path, launcher: Path) -> Director:
    return Director(tmp_path, launcher)


# ------------------------------------------------------------------ the fake ipvsadm itself


def test_fake_ipvsadm_answers_in_the_recorded_formats(director: Director) -> None:
    assert director.fake("-Sn").stdout == recorded_out("ipvsadm", "save_empty")
    web = head(recorded_out("ipvsadm", "save_mixed"), 3)
    assert director.fake("-R", stdin=web).returncode == 0
    assert director.fake("-Sn").stdout == web
    assert director.fake("-Ln", "--thresholds").stdout == head(recorded_out("ipvsadm", "list_mixed_thresholds"), 6)
    # A fwmark service's real server as the recording has it (its service's -b flags aside).
    mark = recorded_out("ipvsadm", "save_mixed").splitlines(keepends=True)[13]
    assert mark == "-a -f 7 -r 192.0.2.21:0 -g -w 1\n"
    assert director.fake("-R", stdin="-A -f 7 -s sh\n" + mark).returncode == 0
    assert director.fake("-Sn").stdout == web + "-A -f 7 -s sh\n" + mark
    assert director.fake("-Ln", "--timeout").stdout == recorded_out("ipvsadm", "timeout")


def test_fake_ipvsadm_fails_like_the_recorded_one(director: Director) -> None:
    line = "-A -t 192.0.2.100:80 -s wrr\n"
    director.fake("-R", stdin=line)
    exists = recording("ipvsadm", "err_service_exists")
    proc = director.fake("-R", stdin=line)
    assert (proc.stderr, proc.returncode) == (exists.err, exists.rc)
    undefined = recording("ipvsadm", "err_restore_bad_line")
    proc = director.fake("-R", stdin="-a -t 192.0.2.99:80 -r 192.0.2.21:80 -g -w 1\n")
    assert (proc.stderr, proc.returncode) == (undefined.err, undefined.rc)
    assert director.fake("-Ln").returncode == 99


# ------------------------------------------------------------------ lvsha ipvs


def test_state(director: Director) -> None:
    assert json.loads(director.cli("state").stdout) == {"active": False, "down": {}}
    assert not director.run_dir.exists(), "state must write nothing (the role runs it in check mode)"
    director.run_dir.mkdir()
    (director.run_dir / "director-active").touch()
    (director.run_dir / "down.json").write_text('{"www": ["web2"]}')
    assert json.loads(director.cli("state").stdout) == {"active": True, "down": {"www": ["web2"]}}
    assert director.calls() == []


def test_apply_into_an_empty_table_then_again(director: Director) -> None:
    proc = director.cli("apply")
    assert proc.stdout.splitlines() == WWW_LINES
    assert director.table() == {"192.0.2.50:80": {"192.0.2.21:80": 1, "192.0.2.22:80": 3, "192.0.2.12:80": 1}}
    assert director.calls().count(["-R"]) == 1
    proc = director.cli("apply")
    assert proc.stdout == ""
    assert director.calls().count(["-R"]) == 1  # nothing to change, nothing restored


def test_apply_a_fwmark_service_and_the_timeouts(director: Director) -> None:
    # inventories/example-tun: www (tunnelled, lb2 its sorry server) and sticky, marked 1.
    director.write_desired(example_ipvs("example-tun"))
    proc = director.cli("apply")
    assert proc.stdout.splitlines() == [
        "-A -t 192.0.2.50:80 -s wrr",
        "-a -t 192.0.2.50:80 -r 192.0.2.21:80 -i -w 1 --tun-type ipip",
        "-a -t 192.0.2.50:80 -r 192.0.2.22:80 -i -w 3 --tun-type ipip",
        "-A -f 1 -s rr -p 300",
        "-a -f 1 -r 192.0.2.21:0 -i -w 1 --tun-type ipip",
        "-a -f 1 -r 192.0.2.22:0 -i -w 1 --tun-type ipip",
        "--set 600 60 0",
    ]
    assert director.table()["1"] == {"192.0.2.21:0": 1, "192.0.2.22:0": 1}
    assert director.fake("-Ln", "--timeout").stdout == "Timeout (tcp tcpfin udp): 600 60 300\n"
    calls = len(director.calls())
    assert director.cli("apply").stdout == ""
    # Read the table, its thresholds and the timeouts; nothing set.
    assert director.calls()[calls:] == [["-Sn"], ["-Ln", "--thresholds"], ["-Ln", "--timeout"]]
    # The kernel forgets the timeouts at boot: the next apply sets them again.
    (director.root / "ipvs-timeouts.json").unlink()
    assert director.cli("apply").stdout.splitlines() == ["--set 600 60 0"]


def test_sync_check_reports_the_timeouts_and_sets_nothing(director: Director) -> None:
    director.write_desired(dict(example_ipvs("example-tun"), services=example_health()))
    director.cli("apply")
    (director.root / "ipvs-timeouts.json").unlink()
    assert director.sync("--check") == {"changed": True, "commands": ["--set 600 60 0"]}
    assert director.fake("-Ln", "--timeout").stdout == recorded_out("ipvsadm", "timeout")


def test_the_ping_check_takes_a_host_out_of_every_service_it_gates(director: Director) -> None:
    # www and a second service on port 443 of the same real servers, both gated by the ping.
    www = dict(example_health()[0], checks=["www", "ping"])
    tls = json.loads(json.dumps(www).replace(":80", ":443"))
    tls.update(name="tls", checks=["tls", "ping"])
    tls["service"]["port"] = 443
    for rs in tls["service"]["realservers"]:
        rs["port"] = 443
    director.write_desired({"services": [www, tls], "timeouts": {}})
    director.cli("apply")
    assert director.cli("health", "ping", "web1", "down").stdout.splitlines() == [
        "-e -t 192.0.2.50:80 -r 192.0.2.21:80 -g -w 0", "-e -t 192.0.2.50:443 -r 192.0.2.21:443 -g -w 0"]
    assert director.down() == {"ping": ["web1"]}
    # www's own check failed too (its alert held back, then sent once the ping answered):
    # the ping's return leaves web1 out of www, back in tls.
    director.cli("health", "www", "web1", "down")
    assert director.cli("health", "ping", "web1", "up").stdout.splitlines() == [
        "-e -t 192.0.2.50:443 -r 192.0.2.21:443 -g -w 1"]
    assert director.table()["192.0.2.50:80"]["192.0.2.21:80"] == 0
    director.cli("health", "www", "web1", "up")
    assert director.table()["192.0.2.50:80"]["192.0.2.21:80"] == 1
    # A check that gates no service of the host is refused, as an unknown one is.
    director.write_desired([example_health()[0]])
    proc = director.cli("health", "ping", "web1", "down", rc=2)
    assert proc.stderr == "lvsha-ipvs: no real server web1 checked by ping\n"


def test_health_down_drains_and_up_restores(director: Director) -> None:
    director.cli("apply")
    proc = director.cli("health", "www", "web1", "down")
    assert proc.stdout.splitlines() == ["-e -t 192.0.2.50:80 -r 192.0.2.21:80 -g -w 0"]
    assert director.table()["192.0.2.50:80"] == {"192.0.2.21:80": 0, "192.0.2.22:80": 3, "192.0.2.12:80": 1}
    assert director.down() == {"www": ["web1"]}
    assert director.cli("apply").stdout == ""  # apply keeps the verdict
    assert director.cli("health", "www", "web1", "down").stdout == ""  # a repeated alert changes nothing

    proc = director.cli("health", "www", "web1", "up")
    assert proc.stdout.splitlines() == ["-e -t 192.0.2.50:80 -r 192.0.2.21:80 -g -w 1"]
    assert director.table()["192.0.2.50:80"] == {"192.0.2.21:80": 1, "192.0.2.22:80": 3, "192.0.2.12:80": 1}
    assert director.down() == {"www": []}


def test_apply_reset_forgets_the_verdicts(director: Director) -> None:
    # The director resource runs this when mon starts afresh on a takeover.
    director.cli("apply")
    director.cli("health", "www", "web1", "down")
    proc = director.cli("apply", "--reset")
    assert proc.stdout.splitlines() == ["-e -t 192.0.2.50:80 -r 192.0.2.21:80 -g -w 1"]
    assert director.down() == {}
    assert director.cli("apply", "--reset").stdout == ""


def test_reset_applies_only_on_the_active_director(director: Director) -> None:
    director.cli("apply")
    director.cli("health", "www", "web1", "down")
    assert director.cli("reset").stdout == ""  # standby: verdicts forgotten, table untouched
    assert director.down() == {}
    assert director.table()["192.0.2.50:80"]["192.0.2.21:80"] == 0
    (director.run_dir / "director-active").touch()
    director.cli("health", "www", "web1", "down")
    assert director.cli("reset").stdout.splitlines() == ["-e -t 192.0.2.50:80 -r 192.0.2.21:80 -g -w 1"]


def test_health_with_on_failure_remove(director: Director) -> None:
    health = example_health()
    health[0]["on_failure"] = "remove"
    director.write_desired(health)
    director.cli("apply")
    assert director.cli("health", "www", "web2", "down").stdout.splitlines() == ["-d -t 192.0.2.50:80 -r 192.0.2.22:80"]
    assert director.table()["192.0.2.50:80"] == {"192.0.2.21:80": 1, "192.0.2.12:80": 1}
    assert director.cli("health", "www", "web2", "up").stdout.splitlines() == [
        "-a -t 192.0.2.50:80 -r 192.0.2.22:80 -g -w 3"]
    assert director.table()["192.0.2.50:80"]["192.0.2.22:80"] == 3


@pytest.mark.parametrize("on_failure", ["drain", "remove"])
def test_the_sorry_server_stands_in_while_no_real_server_has_weight(director: Director, on_failure: str) -> None:
    health = example_health()
    health[0]["on_failure"] = on_failure
    health[0]["sorry"] = {"address": "192.0.2.30", "port": 80, "forwarding": "dr", "weight": 1}
    director.write_desired(health)
    director.cli("apply")
    assert "192.0.2.30:80" not in director.table()["192.0.2.50:80"]
    director.cli("health", "www", "web1", "down")
    director.cli("health", "www", "web2", "down")
    assert "192.0.2.30:80" not in director.table()["192.0.2.50:80"], "lb2 still answers"
    added = director.cli("health", "www", "lb2", "down").stdout.splitlines()
    assert "-a -t 192.0.2.50:80 -r 192.0.2.30:80 -g -w 1" in added
    assert director.table()["192.0.2.50:80"]["192.0.2.30:80"] == 1
    assert director.cli("apply").stdout == ""  # apply keeps it while every real server is down
    removed = director.cli("health", "www", "web2", "up").stdout.splitlines()
    assert "-d -t 192.0.2.50:80 -r 192.0.2.30:80" in removed
    assert director.table()["192.0.2.50:80"]["192.0.2.22:80"] == 3
    assert "192.0.2.30:80" not in director.table()["192.0.2.50:80"]


def test_health_on_a_standby_director_is_recorded_for_the_next_apply(director: Director) -> None:
    proc = director.cli("health", "www", "lb2", "down")
    assert proc.stdout == ""
    assert director.down() == {"www": ["lb2"]}
    assert ["-R"] not in director.calls()
    assert director.table() == {}
    assert "-a -t 192.0.2.50:80 -r 192.0.2.12:80 -g -w 0" in director.cli("apply").stdout.splitlines()
    assert director.table()["192.0.2.50:80"]["192.0.2.12:80"] == 0


@pytest.mark.parametrize("name, host", [("www", "web9"), ("api", "web1")])
def test_health_of_an_unknown_real_server(director: Director, name: str, host: str) -> None:
    director.cli("apply")
    proc = director.cli("health", name, host, "down", rc=2)
    assert proc.stderr == f"lvsha-ipvs: no real server {host} checked by {name}\n"
    assert proc.stdout == ""
    assert not (director.run_dir / "down.json").exists()
    assert director.table()["192.0.2.50:80"]["192.0.2.21:80"] == 1


def test_health_status_must_be_up_or_down(director: Director) -> None:
    proc = director.cli("health", "www", "web1", "sick", rc=2)
    assert "invalid choice: 'sick'" in proc.stderr


def test_remove_leaves_other_services(director: Director) -> None:
    other = head(recorded_out("ipvsadm", "save_mixed"), 3)
    assert director.fake("-R", stdin=other).returncode == 0
    director.cli("apply")
    assert set(director.table()) == {"192.0.2.100:80", "192.0.2.50:80"}
    assert director.cli("remove").stdout.splitlines() == ["-D -t 192.0.2.50:80"]
    assert director.table() == {"192.0.2.100:80": {"192.0.2.21:80": 1, "192.0.2.22:80": 3}}
    assert director.cli("remove").stdout == ""


def test_ipvsadm_missing(director: Director) -> None:
    director.env["LVSHA_IPVSADM"] = str(director.root / "no-ipvsadm")
    proc = director.cli("apply", rc=1)
    assert proc.stderr.startswith("lvsha-ipvs: ")
    assert "no-ipvsadm" in proc.stderr


def test_ipvsadm_failing(director: Director) -> None:
    director.ipvsadm.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write('Permission denied\\n')\nsys.exit(2)\n")
    proc = director.cli("apply", rc=1)
    assert proc.stderr.startswith("lvsha-ipvs: ")
    assert "Permission denied" in proc.stderr


# ------------------------------------------------------------------ sync: the director role's run
# roles/director/tasks/main.yml runs "sync --json --desired - [--standby-absent] [--check]"
# with the declared table on stdin.


def test_sync_applies_the_declared_table_then_changes_nothing(director: Director) -> None:
    table = director.desired.read_text()
    director.desired.unlink()  # read from stdin: in check mode the role has not written it
    assert director.sync("--desired", "-", stdin=table) == {"changed": True, "commands": WWW_LINES}
    assert director.table() == {"192.0.2.50:80": {"192.0.2.21:80": 1, "192.0.2.22:80": 3, "192.0.2.12:80": 1}}
    assert director.calls().count(["-R"]) == 1
    assert director.sync("--desired", "-", stdin=table) == {"changed": False, "commands": []}
    assert director.calls().count(["-R"]) == 1  # nothing to change, nothing restored
    assert not director.desired.exists()


def test_sync_purges_real_servers_the_model_no_longer_lists(director: Director) -> None:
    director.sync()
    health = example_health()
    del health[0]["service"]["realservers"][1]  # web2 leaves the model
    health[0]["hosts"] = {"web1": 0, "lb2": 1}
    director.write_desired(health)
    assert director.sync() == {"changed": True, "commands": ["-d -t 192.0.2.50:80 -r 192.0.2.22:80"]}
    assert director.table() == {"192.0.2.50:80": {"192.0.2.21:80": 1, "192.0.2.12:80": 1}}


def test_sync_check_changes_nothing_and_reports_the_commands(director: Director) -> None:
    assert director.sync("--check") == {"changed": True, "commands": WWW_LINES}
    assert ["-R"] not in director.calls()
    assert director.table() == {}
    assert not director.run_dir.exists(), "check mode writes nothing, not even the lock file"
    director.sync()
    director.cli("health", "www", "web2", "down")
    health = example_health()
    health[0]["service"]["realservers"][0]["weight"] = 5
    restores = director.calls().count(["-R"])
    assert director.sync("--check", "--desired", "-", stdin=json.dumps(health)) == {
        "changed": True, "commands": ["-e -t 192.0.2.50:80 -r 192.0.2.21:80 -g -w 5"]}  # web2 stays drained
    assert director.sync("--check") == {"changed": False, "commands": []}
    assert director.calls().count(["-R"]) == restores
    assert director.table()["192.0.2.50:80"] == {"192.0.2.21:80": 1, "192.0.2.22:80": 0, "192.0.2.12:80": 1}


def test_sync_check_without_ipvs_loaded_asks_no_ipvsadm(director: Director) -> None:
    # ipvsadm would load the ip_vs kernel module: check mode assumes an empty table instead.
    director.proc_ipvs.unlink()
    proc = director.cli("sync", "--check", "--json")
    assert json.loads(proc.stdout) == {"changed": True, "commands": WWW_LINES}
    assert "ip_vs kernel module is not loaded" in proc.stderr
    assert director.calls() == []


def test_sync_check_where_ipvsadm_cannot_reach_ipvs(director: Director) -> None:
    director.ipvsadm.write_text(f"#!{sys.executable}\nimport sys\n"
                                "sys.stderr.write(\"Can't initialize ipvs: Protocol not available\\n\")\nsys.exit(2)\n")
    assert director.sync("--check") == {"changed": True, "commands": WWW_LINES}
    assert "Protocol not available" in director.cli("sync", rc=1).stderr


def test_sync_check_prints_the_lines_without_json(director: Director) -> None:
    assert director.cli("sync", "--check").stdout.splitlines() == WWW_LINES
    assert director.table() == {}


@pytest.mark.parametrize("on_failure, kept", [
    ("drain", {"192.0.2.21:80": 1, "192.0.2.22:80": 0, "192.0.2.12:80": 1}),
    ("remove", {"192.0.2.21:80": 1, "192.0.2.12:80": 1}),
])
def test_a_drain_by_mon_survives_sync(director: Director, on_failure: str, kept: Dict[str, int]) -> None:
    health = example_health()
    health[0]["on_failure"] = on_failure
    director.write_desired(health)
    director.sync()
    director.cli("health", "www", "web2", "down")  # what mon's lvs.alert runs through sudo
    assert director.table()["192.0.2.50:80"] == kept
    assert director.sync("--desired", "-", stdin=json.dumps(health)) == {"changed": False, "commands": []}
    assert director.table()["192.0.2.50:80"] == kept
    director.cli("health", "www", "web2", "up")
    assert director.table()["192.0.2.50:80"]["192.0.2.22:80"] == 3


def test_sync_waits_for_the_lock_that_mon_takes(director: Director) -> None:
    director.run_dir.mkdir()
    with open(director.run_dir / "ipvs.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as "lvsha ipvs health" holds it while it drains
        proc = subprocess.Popen(director.argv("sync", "--json"), env=director.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            assert proc.poll() is None, "sync ran without the lock: " + proc.communicate()[1]
            assert director.calls() == [], "sync read the table before it held the lock"
            # The drain mon makes meanwhile (down.json written, as health does under the lock):
            (director.run_dir / "down.json").write_text('{"www": ["web1"]}')
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["changed"] is True
    assert director.table()["192.0.2.50:80"] == {"192.0.2.21:80": 0, "192.0.2.22:80": 3, "192.0.2.12:80": 1}


def test_sync_standby_absent_removes_the_declared_services_only(director: Director) -> None:
    other = head(recorded_out("ipvsadm", "save_mixed"), 3)
    assert director.fake("-R", stdin=other).returncode == 0
    director.sync()  # not active, not a real server too: the standby keeps its table loaded
    assert set(director.table()) == {"192.0.2.100:80", "192.0.2.50:80"}
    assert director.sync("--standby-absent") == {"changed": True, "commands": ["-D -t 192.0.2.50:80"]}
    assert director.table() == {"192.0.2.100:80": {"192.0.2.21:80": 1, "192.0.2.22:80": 3}}
    assert director.sync("--standby-absent") == {"changed": False, "commands": []}
    # The active director that is also a real server keeps the declared services.
    director.run_dir.mkdir(exist_ok=True)
    (director.run_dir / "director-active").touch()
    assert director.sync("--standby-absent") == {"changed": True, "commands": WWW_LINES}
    assert set(director.table()) == {"192.0.2.100:80", "192.0.2.50:80"}


@pytest.mark.parametrize("table", ["[", "{}", '[{"name": "www"}]'])
def test_sync_of_a_bad_table(director: Director, table: str) -> None:
    proc = director.cli("sync", "--json", "--desired", "-", stdin=table, rc=1)
    assert proc.stderr.startswith("lvsha-ipvs: ")
    assert proc.stdout == ""
    assert director.calls() == []
