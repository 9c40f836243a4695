# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``lvsha watch`` (plugins/module_utils/lvsha_host/watch.py): its decisions, its probes against
real listeners, and the program as heartbeat and an operator run it.

systemctl, cl_status and hb_standby are small scripts that answer as the real ones do on a
node (``systemctl is-active`` prints one state per unit, ``cl_status nodestatus`` one word)
and record how they were called; the TCP and HTTP probes meet real sockets on 127.0.0.1.
"""
from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host import mirror, watch
from lvsha_command import install

NODE, PEER = "nas1", "nas2"


class Node:
    """A node's systemctl, cl_status and hb_standby, and the program's directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls = root / "calls"
        self.states = root / "states"  # what `systemctl is-active` prints
        self.peer = root / "peer"  # what `cl_status nodestatus PEER` prints
        self.states.write_text("active\n")
        self.peer.write_text("active\n")
        for name, body in {
            "systemctl": f'echo "systemctl $*" >> {self.calls}\n'
                         f'case "$1" in is-active) cat {self.states}; grep -qvx active {self.states} && exit 3; exit 0;; '
                         f'restart) exit "${{RESTART_RC:-0}}";; esac',
            "cl_status": f'echo "cl_status $*" >> {self.calls}; cat {self.peer}',
            "hb_standby": f'echo "hb_standby $*" >> {self.calls}',
        }.items():
            script = root / name
            script.write_text(f"#!/bin/sh\n{body}\n")
            script.chmod(0o755)

    def env(self) -> Dict[str, str]:
        return {"LVSHA_SYSTEMCTL": str(self.root / "systemctl"), "LVSHA_CL_STATUS": str(self.root / "cl_status"),
                "LVSHA_HB_STANDBY": str(self.root / "hb_standby"),
                "LVSHA_WATCH_STATE_DIR": str(self.root / "state"), "LVSHA_WATCH_RUN_DIR": str(self.root / "run"),
                "LVSHA_WATCH_CONFIG": str(self.root / "watch.json")}

    def called(self) -> List[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


def settings(port: int, path: Any = None, **more: Any) -> Dict[str, Any]:
    """/etc/lvsha/watch.json as the heartbeat role writes it."""
    return {"node": NODE, "peer": PEER, "vip": {"address": "192.0.2.60"}, "units": ["nfs-server.service"],
            "probe": {"address": "127.0.0.1", "port": port, "path": path}, "interval": 5, "restarts": 2,
            "notify": {"command": "", "mail": ""}, **more}


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Node:
    here = Node(tmp_path)
    for variable, value in here.env().items():
        monkeypatch.setenv(variable, value)
        attribute = {"LVSHA_SYSTEMCTL": "SYSTEMCTL", "LVSHA_HB_STANDBY": "HB_STANDBY", "LVSHA_WATCH_STATE_DIR": "STATE_DIR",
                     "LVSHA_WATCH_RUN_DIR": "RUN_DIR", "LVSHA_WATCH_CONFIG": "CONFIG"}.get(variable)
        if attribute:
            monkeypatch.setattr(watch, attribute, value)
    monkeypatch.setattr(mirror, "CL_STATUS", here.env()["LVSHA_CL_STATUS"])
    return here


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path == "/ok" else 500)
        self.end_headers()
        self.wfile.write(b"x")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


# ------------------------------------------------------------------ decisions

def test_restarts_then_hands_over_and_a_healthy_check_starts_the_count_again() -> None:
    decide = watch.Watch({"restarts": 2})
    assert [decide.step("down") for _check in range(3)] == ["restart", "restart", "hand over"]
    assert [decide.step("down"), decide.step(None), decide.step("down"), decide.step("down")] == \
        ["restart", "ok", "restart", "restart"]
    assert watch.Watch({"restarts": 0}).step("down") == "hand over"


# ------------------------------------------------------------------ probes against real sockets

def test_tcp_probe_passes_on_a_listener_and_names_what_failed_otherwise(listener: int, closed_port: int) -> None:
    assert watch.probe({"address": "127.0.0.1", "port": listener, "path": None}) is None
    failed = watch.probe({"address": "127.0.0.1", "port": closed_port, "path": None})
    assert failed == f"TCP 127.0.0.1:{closed_port}: Connection refused"


def test_http_probe_wants_an_answer_without_an_error_status(web: int, closed_port: int) -> None:
    assert watch.probe({"address": "127.0.0.1", "port": web, "path": "/ok"}) is None
    assert watch.probe({"address": "127.0.0.1", "port": web, "path": "/broken"}) == \
        f"GET http://127.0.0.1:{web}/broken: HTTP 500"
    assert "Connection refused" in watch.probe({"address": "127.0.0.1", "port": closed_port, "path": "/ok"})


def test_a_unit_that_is_not_active_is_the_problem_before_any_probe(node: Node, closed_port: int) -> None:
    node.states.write_text("failed\n")
    assert watch.problem(settings(closed_port)) == "nfs-server.service is failed"
    node.states.write_text("active\n")
    assert watch.problem(settings(closed_port)).startswith("TCP ")


def test_one_lost_probe_is_not_a_failure(node: Node, listener: int, closed_port: int) -> None:
    """The failure must still be there one second later (confirmed_problem's sleep)."""
    config = settings(closed_port)

    def recovered(_seconds: float) -> None:
        config["probe"]["port"] = listener

    assert watch.confirmed_problem(config, sleep=recovered) is None
    assert watch.confirmed_problem(settings(closed_port), sleep=lambda _s: None).startswith("TCP ")


# ------------------------------------------------------------------ the watch, check by check

def run_checks(node: Node, config: Dict[str, Any], checks: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``lvsha watch run`` for ``checks`` checks (its sleeps return at once)."""
    slept: List[float] = []

    def sleep(seconds: float) -> None:
        if seconds == config["interval"] and len([s for s in slept if s == config["interval"]]) == checks:
            raise StopIteration
        slept.append(seconds)

    monkeypatch.setattr(watch.time, "sleep", sleep)
    with pytest.raises(StopIteration):
        watch.run(config)


def test_a_node_without_the_group_checks_nothing(node: Node, closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    run_checks(node, settings(closed_port), 3, monkeypatch)
    assert node.called() == []


def test_a_dead_service_is_restarted_twice_then_the_pair_is_handed_over(
        node: Node, closed_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    events = node.root / "events"
    assert watch.resource("start") == 0
    config = settings(closed_port, notify={"command": f'echo "$LVSHA_MIRROR_NODE $LVSHA_MIRROR_EVENT" >> {events}',
                                           "mail": ""})
    run_checks(node, config, 3, monkeypatch)
    restarts = [c for c in node.called() if c.startswith("systemctl restart")]
    assert restarts == ["systemctl restart nfs-server.service"] * 2
    assert node.called()[-2:] == [f"cl_status nodestatus {PEER}", "hb_standby all"]
    record = json.loads((node.root / "state" / "failed.json").read_text())
    assert record["node"] == NODE and record["problem"] == f"TCP 127.0.0.1:{closed_port}: Connection refused"
    assert events.read_text() == f"{NODE} gave the group up: TCP 127.0.0.1:{closed_port}: Connection refused\n"
    err = capsys.readouterr().err
    assert "(2 of 2)" in err and f"lvsha-watch: {NODE} gave the group up" in err


def test_without_a_live_peer_the_node_keeps_the_group_and_goes_on_restarting(
        node: Node, closed_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    node.peer.write_text("dead\n")
    assert watch.resource("start") == 0
    run_checks(node, settings(closed_port), 4, monkeypatch)
    assert [c for c in node.called() if c.startswith(("systemctl restart", "hb_standby"))] == \
        ["systemctl restart nfs-server.service"] * 3
    assert not (node.root / "state" / "failed.json").exists()
    assert f"{PEER} is not up to take the group, so it stays here" in capsys.readouterr().err


def test_a_healthy_service_is_left_alone(node: Node, listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert watch.resource("start") == 0
    run_checks(node, settings(listener), 3, monkeypatch)
    assert node.called() == ["systemctl is-active nfs-server.service"] * 3


# ------------------------------------------------------------------ after a refusal, the peer takes the group

def refused_here(node: Node, seconds_ago: float, **more: Any) -> None:
    (node.root / "run").mkdir(exist_ok=True)
    (node.root / "run" / "refused.json").write_text(json.dumps({"time": time.time() - seconds_ago, **more}))


def test_the_peer_is_asked_once_heartbeat_has_released_the_group_and_until_it_serves(
        node: Node, closed_port: int, listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    config = settings(closed_port)
    refused_here(node, 1)
    watch.hand_back(config)  # just refused: heartbeat is still releasing
    busy = node.root / "proc" / "4242"
    busy.mkdir(parents=True)
    # ResourceManager as heartbeat runs it: a shell script, its path the second word.
    (busy / "cmdline").write_bytes(b"/bin/sh\0/usr/share/heartbeat/ResourceManager\0releasegroup\0nas1\0")
    monkeypatch.setattr(watch, "PROC", str(node.root / "proc"))
    refused_here(node, 60)
    watch.hand_back(config)  # a group is being stopped here
    assert node.called() == []
    (busy / "cmdline").write_bytes(b"/usr/sbin/sshd\0-D\0")
    watch.hand_back(config)
    assert node.called() == [f"cl_status nodestatus {PEER}", "hb_standby all"]
    watch.hand_back(config)  # asked a moment ago: not again yet
    assert node.called().count("hb_standby all") == 1
    config["probe"]["port"] = listener  # the service answers on the floating address, from the peer
    watch.hand_back(config)
    assert not (node.root / "run" / "refused.json").exists()
    assert node.called().count("hb_standby all") == 1


def test_a_dead_peer_is_not_asked(node: Node, closed_port: int) -> None:
    node.peer.write_text("dead\n")
    refused_here(node, 60)
    watch.hand_back(settings(closed_port))
    assert "hb_standby all" not in node.called()
    assert (node.root / "run" / "refused.json").exists()


def test_the_address_still_here_means_the_release_is_not_done(node: Node, closed_port: int) -> None:
    refused_here(node, 60)
    watch.hand_back(dict(settings(closed_port), vip={"address": "127.0.0.1"}))
    assert node.called() == []


# ------------------------------------------------------------------ the program as heartbeat and an operator run it

def lvsha(launcher: Path, node: Node, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(launcher), "watch", *args], capture_output=True, text=True, check=False,
                          env=dict(os.environ, **node.env()), timeout=30)


def test_the_resource_refuses_the_group_until_the_failure_is_cleared(node: Node, tmp_path_factory: pytest.TempPathFactory,
                                                                     closed_port: int) -> None:
    launcher = install(tmp_path_factory.mktemp("lvsha"))
    (node.root / "watch.json").write_text(json.dumps(settings(closed_port)))
    assert (lvsha(launcher, node, "resource", "status").returncode, lvsha(launcher, node, "resource", "status").stdout) == \
        (3, "stopped\n")
    assert lvsha(launcher, node, "resource", "start").returncode == 0
    assert lvsha(launcher, node, "resource", "status").stdout == "running\n"
    assert oct((node.root / "run").stat().st_mode & 0o777) == "0o700"
    assert lvsha(launcher, node, "resource", "stop").returncode == 0
    assert lvsha(launcher, node, "resource", "stop").returncode == 0  # stopping twice is no error

    (node.root / "state").mkdir()
    (node.root / "state" / "failed.json").write_text(json.dumps({"node": NODE, "problem": "nfsd gone", "time": 0}))
    refused = lvsha(launcher, node, "resource", "start")
    assert refused.returncode == 1 and "refusing the group" in refused.stderr and "(nfsd gone)" in refused.stderr
    assert "lvsha watch clear" in refused.stderr
    assert (node.root / "run" / "refused.json").exists()  # lvsha watch run has the peer take the group
    assert lvsha(launcher, node, "resource", "status").stdout == "stopped\n"
    assert json.loads(lvsha(launcher, node, "status").stdout)["failure"]["problem"] == "nfsd gone"

    node.states.write_text("failed\n")
    kept = lvsha(launcher, node, "clear")
    assert kept.returncode == 1 and "nfs-server.service still failed here" in kept.stderr
    assert (node.root / "state" / "failed.json").exists()
    node.states.write_text("inactive\n")  # stopped by heartbeat's release, not failed
    assert lvsha(launcher, node, "clear").stdout == "cleared: nfsd gone\n"
    assert lvsha(launcher, node, "resource", "start").returncode == 0
    assert lvsha(launcher, node, "clear").stdout == "no failure recorded\n"


def test_clear_force_forgets_a_failure_while_the_unit_is_failed(
        node: Node, tmp_path_factory: pytest.TempPathFactory, closed_port: int) -> None:
    launcher = install(tmp_path_factory.mktemp("lvsha"))
    (node.root / "watch.json").write_text(json.dumps(settings(closed_port)))
    (node.root / "state").mkdir()
    (node.root / "state" / "failed.json").write_text(json.dumps({"node": NODE, "problem": "x", "time": 0}))
    node.states.write_text("failed\n")
    assert lvsha(launcher, node, "clear", "--force").returncode == 0
    assert not (node.root / "state" / "failed.json").exists()
