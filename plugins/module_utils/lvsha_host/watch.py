# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watch the service a heartbeat pair serves: restart it in place, hand the pair over when it stays down.

``lvsha watch VERB`` on a node of a storage or mirror pair (the lvsha.cluster.heartbeat role
installs it, its settings in /etc/lvsha/watch.json and the unit lvsha-watch.service).

    lvsha watch run                 the watch (lvsha-watch.service): every `interval` seconds on the
                                    node that holds the group, each unit must be active and the
                                    probe (TCP, or HTTP with a path) must answer on the floating
                                    address. A failure seen twice in a row restarts the units, up
                                    to `restarts` times in a row; then, if heartbeat sees the peer
                                    alive, the node records the failure, notifies and hands the
                                    group over (hb_standby).
    lvsha watch resource start|stop|status
                                    heartbeat's resource lvsha-watch, the last of the group: its
                                    start refuses the group while a failure is recorded here, so a
                                    node that gave the group up for a failed service never takes
                                    it back (failback, or its peer's death) until it is repaired;
                                    after a refusal, `run` has the peer take the group
    lvsha watch clear [--force]     after the repair: forget the failure (refused while a watched
                                    unit is in systemd's failed state, unless --force)
    lvsha watch status              JSON: whether this node holds the group, and the failure record

heartbeat in haresources mode watches nodes, not resources: without this, a dead nfsd or web
server on a live node keeps the address and serves nothing.
"""
from __future__ import annotations

# A command-line program: it prints (pylint's ansible-bad-function is for Ansible modules).
# pylint: disable=ansible-bad-function

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import syslog
import time
from typing import Any, Callable, Dict, List, Optional

from . import _private
from .mirror import SYSTEMCTL, MirrorError, notify, peer_alive, read_json, write_json

CONFIG = os.environ.get("LVSHA_WATCH_CONFIG", "/etc/lvsha/watch.json")
STATE_DIR = os.environ.get("LVSHA_WATCH_STATE_DIR", "/var/lib/lvsha-watch")
RUN_DIR = os.environ.get("LVSHA_WATCH_RUN_DIR", "/run/lvsha-watch")
HB_STANDBY = os.environ.get("LVSHA_HB_STANDBY", "/usr/share/heartbeat/hb_standby")
PROC = "/proc"
# A shell script: its command line is the shell, then this path.
RESOURCE_MANAGER = b"/usr/share/heartbeat/ResourceManager"

# A failure must be seen again this much later before anything is restarted: one lost probe on
# a loaded host is no reason to restart an NFS server (its clients wait out a grace period).
CONFIRM_AFTER = 1.0
PROBE_TIMEOUT = 3.0
COMMAND_TIMEOUT = 120
# After a refusal, heartbeat's release of the group takes seconds; the peer is asked only then,
# and again every four times as long until it serves.
HAND_BACK_AFTER = 5.0


def log(text: str) -> None:
    print(f"lvsha-watch: {text}", file=sys.stderr, flush=True)


def failure_path() -> str:
    # Under /var/lib: the refusal outlives a reboot, as the failed service may.
    return os.path.join(STATE_DIR, "failed.json")


def refused_path() -> str:
    return os.path.join(RUN_DIR, "refused.json")


def holds_group() -> bool:
    return os.path.exists(os.path.join(RUN_DIR, "serving"))


# ------------------------------------------------------------------------------ checks

def unit_states(units: List[str]) -> Dict[str, str]:
    """systemctl is-active of each unit: active, inactive, failed, activating, ..."""
    proc = subprocess.run([SYSTEMCTL, "is-active", *units], capture_output=True, text=True, check=False,
                          timeout=COMMAND_TIMEOUT)
    states = proc.stdout.split()
    return dict(zip(units, states + ["unknown"] * (len(units) - len(states))))


def probe(spec: Optional[Dict[str, Any]]) -> Optional[str]:
    """None when the service answers on the floating address, else what went wrong."""
    if not spec:
        return None
    address, port, path = spec["address"], spec["port"], spec.get("path")
    if path:
        url = f"http://{address}:{port}{path}"
        connection = http.client.HTTPConnection(address, port, timeout=PROBE_TIMEOUT)
        try:
            connection.request("GET", path)
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return f"GET {url}: {getattr(exc, 'strerror', None) or exc}"
        finally:
            connection.close()
        return None if status < 400 else f"GET {url}: HTTP {status}"
    try:
        socket.create_connection((address, port), timeout=PROBE_TIMEOUT).close()
        return None
    except OSError as exc:
        return f"TCP {address}:{port}: {exc.strerror or exc}"


def problem(config: Dict[str, Any]) -> Optional[str]:
    """What is wrong with the service here, or None."""
    down = [f"{unit} is {state}" for unit, state in unit_states(config["units"]).items() if state != "active"]
    if down:
        return "; ".join(down)
    return probe(config.get("probe"))


def confirmed_problem(config: Dict[str, Any], sleep: Callable[[float], None] = time.sleep) -> Optional[str]:
    found = problem(config)
    if found is None:
        return None
    sleep(CONFIRM_AFTER)
    return problem(config)


# ------------------------------------------------------------------------------ decisions

class Watch:
    """The state of ``lvsha watch run`` between two checks; ``step`` is one check."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.restarts = 0

    def step(self, found: Optional[str]) -> str:
        """What to do about ``found`` (None: healthy): 'ok', 'restart' or 'hand over'."""
        if found is None:
            self.restarts = 0
            return "ok"
        if self.restarts < self.config["restarts"]:
            self.restarts += 1
            return "restart"
        self.restarts = 0
        return "hand over"


def restart(config: Dict[str, Any], found: str, count: int) -> None:
    log(f"{config['node']}: {found}: restarting {' '.join(config['units'])} ({count} of {config['restarts']})")
    for unit in config["units"]:
        proc = subprocess.run([SYSTEMCTL, "restart", unit], capture_output=True, text=True, check=False,
                              timeout=COMMAND_TIMEOUT)
        if proc.returncode != 0:
            log(f"systemctl restart {unit}: {proc.stderr.strip()}")


def hand_over(config: Dict[str, Any], found: str) -> bool:
    """Record the failure, notify, and ask heartbeat to move the group to the peer. False when
    the peer is not there to take it (the node keeps the group and goes on restarting)."""
    if not peer_alive(config):
        log(f"{config['node']}: {found}, still after {config['restarts']} restarts; {config['peer']} is not up to "
            "take the group, so it stays here")
        return False
    write_json(failure_path(), {"node": config["node"], "problem": found, "time": round(time.time(), 3)})
    notify(config, f"gave the group up: {found}", program="lvsha-watch")
    standby()
    return True


def standby() -> None:
    """Ask heartbeat to move every resource this node holds, or owns, to the peer."""
    proc = subprocess.run([HB_STANDBY, "all"], capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT)
    if proc.returncode != 0:
        log(f"{HB_STANDBY} all: exit {proc.returncode}: {proc.stderr.strip()}")


def run(config: Dict[str, Any]) -> None:
    watch = Watch(config)
    log(f"{config['node']}: watching {' '.join(config['units']) or 'no unit'}"
        f"{' and ' + describe_probe(config['probe']) if config.get('probe') else ''} every {config['interval']} s")
    while True:
        time.sleep(config["interval"])
        try:
            if not holds_group():
                watch.restarts = 0
                if os.path.exists(refused_path()):
                    hand_back(config)
                continue
            found = confirmed_problem(config)
            action = watch.step(found)
            if action == "restart":
                restart(config, found or "", watch.restarts)
            elif action == "hand over" and hand_over(config, found or ""):
                # heartbeat stops the group here, lvsha-watch first: nothing more to watch.
                time.sleep(config["interval"])
        # A check that could not run (systemctl or cl_status hanging) is no verdict: try again.
        except (MirrorError, OSError, subprocess.SubprocessError) as exc:
            log(f"{config['node']}: check failed: {exc}")


def address_is_here(address: str) -> bool:
    """The floating address is on one of this node's interfaces (binding to it succeeds)."""
    with socket.socket() as probe_socket:
        try:
            probe_socket.bind((address, 0))
            return True
        except OSError:
            return False


def resource_manager_busy() -> bool:
    """heartbeat's ResourceManager runs: a group is being started or stopped on this node."""
    for pid in filter(str.isdigit, os.listdir(PROC)):
        try:
            with open(os.path.join(PROC, pid, "cmdline"), "rb") as handle:
                if RESOURCE_MANAGER in handle.read().split(b"\0")[:2]:
                    return True
        except OSError:
            continue  # gone meanwhile
    return False


def hand_back(config: Dict[str, Any]) -> None:
    """After lvsha-watch refused the group here, see that the peer takes it. heartbeat gives a
    group up that failed to start with `hb_standby foreign` from this node, which hands the
    peer nothing: the group's owner is this node. So, once the group is released here, ask
    with `hb_standby all` until the service answers on the floating address from the peer
    (without a probe, once)."""
    refused = read_json(refused_path(), {})
    if (time.time() - refused.get("time", 0) < HAND_BACK_AFTER or resource_manager_busy()
            or address_is_here(config["vip"]["address"])):
        return  # heartbeat is still releasing the group here
    if config.get("probe") and probe(config["probe"]) is None:
        log(f"{config['node']}: {config['peer']} serves the group this node refused")
        os.unlink(refused_path())
        return
    if not peer_alive(config):
        return  # nobody to hand it to: the group stays down until one node can serve it
    if time.time() - refused.get("asked", 0) < HAND_BACK_AFTER * 4:
        return
    log(f"{config['node']}: refused the group; asking {config['peer']} to take it (hb_standby all)")
    standby()
    if config.get("probe"):
        write_json(refused_path(), dict(refused, asked=time.time()))
    else:
        os.unlink(refused_path())


def describe_probe(spec: Dict[str, Any]) -> str:
    if spec.get("path"):
        return f"http://{spec['address']}:{spec['port']}{spec['path']}"
    return f"tcp {spec['address']}:{spec['port']}"


# ------------------------------------------------------------------------------ heartbeat's resource

def resource(action: str) -> int:
    flag = os.path.join(RUN_DIR, "serving")
    if action == "status":
        # heartbeat's LSB convention: the word "running" (or "stopped") on stdout.
        print("running" if holds_group() else "stopped")
        return 0 if holds_group() else 3
    if action == "stop":
        try:
            os.unlink(flag)
        except FileNotFoundError:
            pass
        return 0
    failure = read_json(failure_path(), None)
    _private.private_dir(RUN_DIR)
    if failure:
        refusal = (f"refusing the group: this node gave it up at "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(failure['time']))} ({failure['problem']}); "
                   "after the repair run `lvsha watch clear`")
        log(refusal)
        # heartbeat logs a resource's exit status, not what it printed: the reason goes to syslog.
        syslog.openlog("lvsha-watch")
        syslog.syslog(syslog.LOG_ERR, refusal)
        # lvsha watch run sees that the peer takes the group (hand_back).
        write_json(refused_path(), {"time": round(time.time(), 3)})
        return 1
    open(flag, "w", encoding="utf-8").close()
    return 0


def clear(config: Dict[str, Any], force: bool) -> int:
    failure = read_json(failure_path(), None)
    if not failure:
        print("no failure recorded")
        return 0
    failed = [unit for unit, state in unit_states(config["units"]).items() if state == "failed"]
    if failed and not force:
        log(f"{' '.join(failed)} still failed here (systemctl status); repair it, or clear with --force")
        return 1
    os.unlink(failure_path())
    print(f"cleared: {failure['problem']}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="lvsha watch", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run")
    sub.add_parser("status")
    p_clear = sub.add_parser("clear")
    p_clear.add_argument("--force", action="store_true")
    p_res = sub.add_parser("resource")
    p_res.add_argument("action", choices=("start", "stop", "status"))
    args = parser.parse_args(argv)
    try:
        if args.command == "resource":
            return resource(args.action)
        if args.command == "status":
            print(json.dumps({"holds_group": holds_group(), "failure": read_json(failure_path(), None)},
                             indent=1, sort_keys=True))
            return 0
        config = read_json(CONFIG, None)
        if config is None:
            raise MirrorError(f"{CONFIG} is missing (written by the lvsha.cluster.heartbeat role)")
        if args.command == "clear":
            return clear(config, args.force)
        run(config)
        return 0
    except MirrorError as exc:
        log(str(exc))
        return 1
