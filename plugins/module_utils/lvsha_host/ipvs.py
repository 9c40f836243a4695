# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep this director's IPVS table equal to the cluster model and to mon's health verdicts.

``lvsha ipvs VERB`` on a director (the lvsha.cluster.director role installs the lvsha_host
package), so the heartbeat resource and mon's ``lvs.alert`` reconcile the table with the
same code as the ``lvsha.cluster.ipvs`` module (``_ipvs.py`` of this package): read once,
apply only the difference in one ``ipvsadm -R``, re-read and verify, never flush.

    lvsha ipvs apply [--reset]        declared services present (down real servers drained/removed;
                                      --reset forgets the health verdicts first)
    lvsha ipvs remove                 declared services absent (other services untouched)
    lvsha ipvs reset                  forget the health verdicts; apply if this is the active director
    lvsha ipvs health NAME HOST up|down   record mon's verdict of check NAME (a service's, or the ping
                                      of every service of HOST); apply it where loaded
    lvsha ipvs state                  JSON: {"active": ..., "down": {...}}
    lvsha ipvs sync [--desired PATH|-] [--standby-absent] [--check] [--json]
                                      the director role's run: the table of PATH (default
                                      /etc/lvsha/ipvs.json; "-" reads it from stdin) present, with
                                      the health verdicts, or absent with --standby-absent on a
                                      director that is not active; --check changes nothing and
                                      prints what it would run; --json prints
                                      {"changed": ..., "commands": [...]}

One writer: every verb but ``state`` holds one lock (ipvs.lock in the run directory) from
reading the verdicts, the director flag, /etc/lvsha/ipvs.json and the live table until the
table is verified, so that none undoes a change made by another in between (a drain by mon
during a playbook run). ``sync --check`` writes nothing: it waits for a writer (shared lock)
where the lock file exists and, where IPVS is not loaded, assumes an empty table without
asking ipvsadm (which would load it), as the ipvs module does in check mode.
"""
from __future__ import annotations

# A command-line program: it prints (pylint's ansible-bad-function is for Ansible modules).
# pylint: disable=ansible-bad-function

import argparse
import contextlib
import fcntl
import json
import os
import sys
import tempfile
from typing import Any, Dict, Iterator, List

from . import _ipvs, _private

# Messages start with "lvsha-ipvs: ", as heartbeat's and mon's logs have always shown them.
DESIRED = os.environ.get("LVSHA_IPVS_DESIRED", "/etc/lvsha/ipvs.json")
RUN_DIR = os.environ.get("LVSHA_RUN_DIR", "/run/lvsha")
IPVSADM = os.environ.get("LVSHA_IPVSADM", "/usr/sbin/ipvsadm")
PROC_IPVS = os.environ.get("LVSHA_PROC_IPVS", _ipvs.PROC_IPVS)


def load_desired(path: str = DESIRED) -> Dict[str, Any]:
    """The declared table as the role writes it, ``host_plan(...)["ipvs"]``: ``{"services": [...],
    "timeouts": {...}}`` (an older file's bare list is the services alone); ``-`` is stdin."""
    if path == "-":
        desired = json.load(sys.stdin)
    else:
        with open(path, encoding="utf-8") as handle:
            desired = json.load(handle)
    if isinstance(desired, list):
        desired = {"services": desired}
    services = desired.get("services") if isinstance(desired, dict) else None
    if not isinstance(services, list) or not all(
            isinstance(entry, dict) and {"name", "service", "hosts"} <= set(entry) for entry in services) \
            or not isinstance(desired.get("timeouts", {}), dict):
        raise ValueError(f"{'stdin' if path == '-' else path}: not a mapping of services (each with name, service "
                         "and hosts) and timeouts")
    return {"services": services, "timeouts": desired.get("timeouts") or {}}


def load_down() -> Dict[str, List[str]]:
    try:
        with open(os.path.join(RUN_DIR, "down.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


def save_down(down: Dict[str, List[str]]) -> None:
    fd, tmp = tempfile.mkstemp(dir=RUN_DIR, prefix=".down.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(down, handle, sort_keys=True)
    os.replace(tmp, os.path.join(RUN_DIR, "down.json"))


@contextlib.contextmanager
def locked(check: bool = False) -> Iterator[None]:
    """Hold the writers' lock (root's alone: _private); ``check``: a shared one, and none where
    no writer ever ran."""
    path = os.path.join(RUN_DIR, "ipvs.lock")
    try:
        fd = _private.open_lock(path, create=not check)  # check mode writes nothing, not even the lock
    except FileNotFoundError:
        if not check:
            raise
        yield
        return
    with os.fdopen(fd) as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if check else fcntl.LOCK_EX)
        yield


def read_live(runner: _ipvs.IpvsadmRunner, check: bool = False) -> _ipvs.Table:
    """The live table; in check mode an empty one where IPVS is not loaded (as the ipvs module does).

    ipvsadm loads the ip_vs kernel module by itself: check mode does not even ask it then.
    """
    not_loaded = "lvsha-ipvs: the ip_vs kernel module is not loaded; check mode assumes an empty IPVS table"
    if check and not os.path.exists(PROC_IPVS):
        print(not_loaded, file=sys.stderr)
        return _ipvs.Table()
    try:
        return runner.read_table()
    except _ipvs.IpvsNotLoaded:
        if not check:
            raise
        print(not_loaded, file=sys.stderr)
        return _ipvs.Table()


def reconcile(runner: _ipvs.IpvsadmRunner, live: _ipvs.Table, services: List[Dict[str, Any]],
              check: bool = False) -> List[str]:
    """Apply ``services`` (ipvs module items) to the kernel; returns the ipvsadm lines run.

    ``check``: only returns the lines that would run.
    """
    desired = _ipvs.desired_from_params(services)
    lines = _ipvs.plan(live, desired, purge_realservers=True)
    if lines and not check:
        runner.restore(lines)
        problems = _ipvs.verify(runner.read_table(), desired, purge_realservers=True)
        if problems:
            raise _ipvs.IpvsError("the table differs after ipvsadm -R: " + "; ".join(problems))
    return lines


def set_timeouts(runner: _ipvs.IpvsadmRunner, timeouts: Dict[str, int], check: bool = False) -> List[str]:
    """The declared connection timeouts (the kernel forgets them at boot: every apply sets them
    again); returns the ipvsadm command run, or that would run, where one differs."""
    if not timeouts:
        return []
    live = {} if check and not os.path.exists(PROC_IPVS) else runner.timeouts()
    if not _ipvs.timeouts_differ(live, timeouts):
        return []
    if not check:
        runner.set_timeouts(timeouts)
    return ["--set " + " ".join(_ipvs.set_timeouts_args(timeouts))]


def loaded(entry: Dict[str, Any], live: _ipvs.Table) -> bool:
    return any(key in live.services for key in _ipvs.desired_from_params([entry["service"]]).services)


def main(argv: List[str]) -> int:
    """``lvsha ipvs ARGV``; the exit status (1 with a message where ipvsadm or a file fails)."""
    try:
        return run(argv)
    except (_ipvs.IpvsError, OSError, ValueError) as exc:
        print(f"lvsha-ipvs: {exc}", file=sys.stderr)
        return 1


def run(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="lvsha ipvs", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    apply = sub.add_parser("apply")
    apply.add_argument("--reset", action="store_true", help="forget mon's verdicts first (mon starts afresh)")
    sub.add_parser("remove")
    sub.add_parser("reset")
    sub.add_parser("state")
    health = sub.add_parser("health")
    health.add_argument("name")
    health.add_argument("host")
    health.add_argument("status", choices=("up", "down"))
    sync = sub.add_parser("sync", help="the director role's run: the declared table with the health verdicts")
    sync.add_argument("--desired", default=DESIRED, metavar="PATH",
                      help=f"the declared table (default {DESIRED}; - reads it from stdin)")
    sync.add_argument("--standby-absent", action="store_true",
                      help="this director is also a real server: while not active, the declared services absent")
    sync.add_argument("--check", action="store_true", help="change nothing, print what would run")
    sync.add_argument("--json", action="store_true", help='print {"changed": ..., "commands": [...]}')
    args = parser.parse_args(argv)

    active_flag = os.path.join(RUN_DIR, "director-active")
    if args.command == "state":  # read only: the role runs it in check mode too
        print(json.dumps({"active": os.path.exists(active_flag), "down": load_down()}, sort_keys=True))
        return 0
    check = args.command == "sync" and args.check
    # The table to declare is read before the lock: stdin is the role's, and the lock is short.
    sync_desired = load_desired(args.desired) if args.command == "sync" else None

    # One writer at a time: mon may raise several alerts while heartbeat starts the resource, and
    # the director role runs sync. What the verbs decide on is read under the lock too.
    with locked(check):
        desired = load_desired() if sync_desired is None else sync_desired
        services = desired["services"]
        active = os.path.exists(active_flag)
        down = load_down()
        # Read once: on a busy director every ipvsadm run delays the drain.
        runner = _ipvs.IpvsadmRunner(IPVSADM, _ipvs.run_subprocess)
        live = read_live(runner, check)
        if args.command == "reset" or (args.command == "apply" and args.reset):
            down = {}
            save_down(down)
        if args.command == "health":
            # The check's services: the LVS service of that name, or every one the check (the
            # ping) gates.
            entries = [e for e in services if args.name in e.get("checks", [e["name"]]) and args.host in e["hosts"]]
            if not entries:
                print(f"lvsha-ipvs: no real server {args.host} checked by {args.name}", file=sys.stderr)
                return 2
            hosts = set(down.get(args.name, []))
            hosts.discard(args.host)
            if args.status == "down":
                hosts.add(args.host)
            down[args.name] = sorted(hosts)
            save_down(down)
            todo = [_ipvs.with_health(entry, down) for entry in entries if loaded(entry, live)]
        elif args.command == "sync":
            # A standby that is also a real server keeps no declared service: it would balance
            # again the traffic that the active director sends it.
            state = "present" if active or not args.standby_absent else "absent"
            todo = [_ipvs.with_health(entry, down, state) for entry in services]
        elif args.command == "apply" or (args.command == "reset" and active):
            todo = [_ipvs.with_health(entry, down) for entry in services]
        elif args.command == "reset":  # a standby keeps its table as it is
            todo = []
        else:  # remove
            todo = [_ipvs.with_health(entry, down, "absent") for entry in services]
        lines = reconcile(runner, live, todo, check)
        # The timeouts go with the table, wherever a run brings it up (not with one verdict).
        if any(service.get("state", "present") == "present" for service in todo) and args.command != "health":
            lines += set_timeouts(runner, desired["timeouts"], check)
    if args.command == "sync" and args.json:
        print(json.dumps({"changed": bool(lines), "commands": lines}))
    else:
        for line in lines:
            print(line)
    return 0
