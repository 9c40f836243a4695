# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep the two nodes of a mirror pair in step, and hand the service over without losing a file.

``lvsha mirror VERB`` on a node of a mirror pair (the lvsha.cluster.rsync_mirror role installs
the lvsha_host package, and its settings in /etc/lvsha/mirror.json).

    lvsha mirror pull [--force] [--wait SECONDS]
                                    pull every module from the peer if the peer holds newer data
                                    (the timer runs this on both nodes; it does nothing on the
                                    serving one). --force: pull even when both copies have writes
                                    of their own (after a split brain). --wait: wait that long for
                                    a running pull or backup (else skip this period)
    lvsha mirror init               record a new node's data as period 0, not served (the role runs
                                    this once; a node's state is never reset)
    lvsha mirror status [--max-lag SECONDS]
                                    JSON: role, data period, last pull and its lag; exit 2 when a
                                    standby's last good pull is older than SECONDS
    lvsha mirror resource sync|serve start|stop|status
                                    heartbeat's resources (see /etc/ha.d/resource.d/lvsha-mirror-*)

Which copy is newer: every node records the serving period ("epoch") its data belongs to and
whether it served that period itself. A node that starts serving opens period max+1; a pull
takes the peer's period. A node pulls only when the peer's period is later, or the same one
that the peer served and it did not. So a fresh, empty standby never overwrites the primary,
and a primary returning after an outage pulls what its peer wrote before it serves again.
A node that takes over from a live peer whose writes it could not pull serves anyway (the
service matters more), but marks its period "unreconciled": the peer then refuses to pull
over its own writes until an operator chooses a copy (``pull --force``).

A node that served pulls with ``--backup``: whatever the pull deletes or replaces (writes its
peer never pulled before this node died) is moved to /var/lib/lvsha-mirror/displaced/TIME/
and listed by ``status``, never lost.

Pulls and backups exclude each other through one lock (``flock LOCK backup-command``).
"""
from __future__ import annotations

# A command-line program: it prints (pylint's ansible-bad-function is for Ansible modules).
# pylint: disable=ansible-bad-function

import argparse
import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from . import _private

# Messages and notifications start with "lvsha-mirror: ", as they always have.
CONFIG = os.environ.get("LVSHA_MIRROR_CONFIG", "/etc/lvsha/mirror.json")
STATE_DIR = os.environ.get("LVSHA_MIRROR_STATE_DIR", "/var/lib/lvsha-mirror")
RUN_DIR = os.environ.get("LVSHA_MIRROR_RUN_DIR", "/run/lvsha-mirror")
RSYNC = os.environ.get("LVSHA_RSYNC", "rsync")
SYSTEMCTL = os.environ.get("LVSHA_SYSTEMCTL", "systemctl")
CL_STATUS = os.environ.get("LVSHA_CL_STATUS", "cl_status")

# The state a peer reads through the state module lives in its own directory.
PUBLIC_STATE = "public/state.json"
FILES_RE = re.compile(r"^Number of regular files transferred: ([\d,]+)", re.M)
CONNECT_TIMEOUT = 5


class MirrorError(Exception):
    pass


class LockBusy(MirrorError):
    pass


# ------------------------------------------------------------------------------ state

def read_json(path: str, default: Any) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default
    except ValueError as exc:
        raise MirrorError(f"{path} is not valid JSON: {exc}") from None


def write_json(path: str, data: Any) -> None:
    """Atomically, so a reader (a monitor, the peer's pull) never sees half a file, and durably:
    the state decides which way data flows after a power cut, so the file's data is on disk
    before the rename, and the rename is on disk (the directory synced) before this returns."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fchmod(handle.fileno(), 0o644)
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def own_state() -> Dict[str, Any]:
    return parse_state(read_json(os.path.join(STATE_DIR, "state.json"), {}))


def parse_state(state: Dict[str, Any]) -> Dict[str, Any]:
    return {"epoch": int(state.get("epoch", 0)), "served": bool(state.get("served", False)),
            "unreconciled": bool(state.get("unreconciled", False))}


def save_state(epoch: int, served: bool, unreconciled: bool = False) -> None:
    state = {"epoch": epoch, "served": served, "since": round(time.time(), 3), "unreconciled": unreconciled}
    write_json(os.path.join(STATE_DIR, "state.json"), state)
    write_json(os.path.join(STATE_DIR, PUBLIC_STATE), state)


def peer_is_newer(own: Dict[str, Any], peer: Dict[str, Any]) -> bool:
    """Whether the peer's copy holds writes this node lacks (see the module docstring)."""
    if peer["epoch"] != own["epoch"]:
        return peer["epoch"] > own["epoch"]
    return peer["served"] and not own["served"]


def diverged(own: Dict[str, Any], peer: Dict[str, Any]) -> bool:
    """Each copy may hold writes the other lacks: both nodes served the same period, or the
    peer took over from this node without pulling what it had written."""
    return own["served"] and (own["epoch"] == peer["epoch"] > 0 and peer["served"] or peer["unreconciled"])


def serving() -> bool:
    return os.path.exists(os.path.join(RUN_DIR, "serving"))


# ------------------------------------------------------------------------------ rsync

def rsync_base(config: Dict[str, Any]) -> List[str]:
    # The password travels in a 0600 file, never on a command line.
    return [RSYNC, f"--contimeout={CONNECT_TIMEOUT}", f"--timeout={config.get('timeout', 600)}",
            f"--password-file={config['password_file']}"]


def source_url(config: Dict[str, Any], module: str) -> str:
    return f"rsync://{config['user']}@{config['peer_address']}:{config['port']}/{module}/"


def pull_argv(config: Dict[str, Any], module: Dict[str, Any], keep_dir: Optional[str] = None) -> List[str]:
    """--delete keeps the standby an exact copy; excluded files are neither copied nor deleted.
    With ``keep_dir``, what the pull deletes or replaces is moved there instead."""
    keep = ["--backup", f"--backup-dir={keep_dir}"] if keep_dir else []
    return rsync_base(config) + ["-aH", "--numeric-ids", "--delete", "--stats", *keep,
                                 f"--exclude-from={module['exclude_file']}",
                                 source_url(config, module["name"]), module["path"].rstrip("/") + "/"]


def files_transferred(stats: str) -> int:
    match = FILES_RE.search(stats)
    return int(match.group(1).replace(",", "")) if match else 0


def peer_state(config: Dict[str, Any]) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lvsha-mirror-") as tmp:
        target = os.path.join(tmp, "state.json")
        proc = subprocess.run(rsync_base(config) + [source_url(config, config["state_module"]) + "state.json", target],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise MirrorError(f"cannot read the state of {config['peer']}: {proc.stderr.strip() or proc.returncode}")
        return parse_state(read_json(target, {}))


class Lock:
    """The pull/backup lock; ``wait`` seconds to get it (0: fail at once)."""

    def __init__(self, path: str, wait: float) -> None:
        self.path, self.wait, self.fd = path, wait, -1

    def __enter__(self) -> "Lock":
        self.fd = _private.open_lock(self.path)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise LockBusy(f"{self.path} is held (a pull or a backup is running)") from None
                time.sleep(0.2)

    def __exit__(self, *exc: Any) -> None:
        os.close(self.fd)


def record(result: str, started: float, **details: Any) -> Dict[str, Any]:
    entry = {"result": result, "started": round(started, 3), "finished": round(time.time(), 3)} | details
    write_json(os.path.join(STATE_DIR, "last-pull.json"), entry)
    if result == "ok":
        write_json(os.path.join(STATE_DIR, "last-good-pull.json"), entry)
    return entry


def pull(config: Dict[str, Any], force: bool = False, lock_wait: float = 0) -> Dict[str, Any]:
    """Pull every module if the peer is newer; record the outcome (a monitor reads it)."""
    started = time.time()
    if serving():
        return record("skipped", started, reason="this node is serving")
    try:
        with Lock(config["lock"], lock_wait):
            own = own_state()
            peer = peer_state(config)
            if diverged(own, peer) and not force:
                raise MirrorError(f"this node and {config['peer']} may each hold writes the other lacks (this node: "
                                  f"{own}, peer: {peer}); keep the good copy and run `lvsha mirror pull --force` "
                                  "on the other node")
            if not (peer_is_newer(own, peer) or force):
                return record("skipped", started, reason="the peer holds no newer data", own=own,
                              peer=config["peer"], peer_epoch=peer["epoch"])
            files = 0
            # A node that served holds writes of its own that its peer may never have pulled
            # (the mirror is asynchronous): keep whatever this pull deletes or replaces.
            keep_root = os.path.join(STATE_DIR, "displaced", time.strftime("%Y%m%dT%H%M%S")) if own["served"] else None
            for module in config["modules"]:
                keep_dir = os.path.join(keep_root, module["name"]) if keep_root else None
                proc = subprocess.run(pull_argv(config, module, keep_dir), capture_output=True, text=True, check=False)
                # 24: files vanished on the sender while it ran; the next pull takes what is there then.
                if proc.returncode not in (0, 24):
                    raise MirrorError(f"pull of module {module['name']} from {config['peer']} failed "
                                      f"({proc.returncode}): {proc.stderr.strip()}")
                files += files_transferred(proc.stdout)
            save_state(peer["epoch"], False)
            details = {"displaced": keep_root} if keep_root and os.path.isdir(keep_root) else {}
            return record("ok", started, peer=config["peer"], peer_epoch=peer["epoch"], files_transferred=files,
                          duration=round(time.time() - started, 3), **details)
    except LockBusy as exc:
        if lock_wait:
            record("failed", started, error=str(exc))
            raise
        # The timer's pull yields to a backup; the next period pulls.
        return record("skipped", started, reason=str(exc))
    except MirrorError as exc:
        record("failed", started, error=str(exc))
        raise


def status(max_lag: Optional[float]) -> Tuple[int, Dict[str, Any]]:
    good = read_json(os.path.join(STATE_DIR, "last-good-pull.json"), None)
    report = {"role": "serving" if serving() else "standby", "data": own_state(),
              "last_pull": read_json(os.path.join(STATE_DIR, "last-pull.json"), None), "last_good_pull": good,
              # The standby's copy is as old as the start of its last good pull.
              "lag": round(time.time() - good["started"], 1) if good else None,
              # Files pulls moved aside (see pull): an operator looks at them, then removes them.
              "displaced": sorted(os.listdir(os.path.join(STATE_DIR, "displaced")))
              if os.path.isdir(os.path.join(STATE_DIR, "displaced")) else []}
    late = report["role"] == "standby" and max_lag is not None and (report["lag"] is None or report["lag"] > max_lag)
    return (2 if late else 0), report


# ------------------------------------------------------------------------------ heartbeat resources

def systemctl(*args: str) -> None:
    proc = subprocess.run([SYSTEMCTL, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MirrorError(f"systemctl {' '.join(args)}: {proc.stderr.strip()}")


def peer_alive(config: Dict[str, Any]) -> bool:
    """heartbeat's own verdict; asking the peer over the network would wait for a dead one."""
    proc = subprocess.run([CL_STATUS, "nodestatus", config["peer"]], capture_output=True, text=True,
                          check=False, timeout=10)
    return proc.returncode == 0 and proc.stdout.strip() in ("active", "up")


def sync_start(config: Dict[str, Any]) -> None:
    peer_epoch, unreconciled = 0, False
    if peer_alive(config):
        # Give-back: the peer served until a moment ago; take what it wrote since the
        # catch-up at boot before serving (wait for a pull the timer started). Pulls the timer
        # starts after the flag below is set do nothing.
        try:
            peer_epoch = pull(config, lock_wait=float(config.get("timeout", 600))).get("peer_epoch", 0)
        except MirrorError as exc:
            unreconciled = True
            print(f"lvsha-mirror: serving without the writes of {config['peer']}: {exc}", file=sys.stderr)
            notify(config, "took over without the peer's latest writes (unreconciled)")
    epoch = max(own_state()["epoch"], peer_epoch)
    _private.private_dir(RUN_DIR)
    save_state(epoch + 1, True, unreconciled)
    open(os.path.join(RUN_DIR, "serving"), "w", encoding="utf-8").close()


def sync_stop(config: Dict[str, Any]) -> None:
    try:
        os.unlink(os.path.join(RUN_DIR, "serving"))
    except FileNotFoundError:
        pass


def notify(config: Dict[str, Any], event: str, program: str = "lvsha-mirror") -> None:
    """Tell the operators; a failing hook is logged, it never blocks the takeover. ``program``
    names who tells (lvsha-watch uses the pair's hook too)."""
    node = config["node"]
    text = f"{program}: {node} {event} {config['vip']['address']} at {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"
    print(text, file=sys.stderr)
    env = dict(os.environ, LVSHA_MIRROR_EVENT=event, LVSHA_MIRROR_NODE=node, LVSHA_MIRROR_VIP=config["vip"]["address"])
    hooks = []
    if config["notify"].get("command"):
        hooks.append((["/bin/sh", "-c", config["notify"]["command"]], None))
    sendmail = shutil.which("sendmail", path="/usr/sbin:/usr/lib")
    if config["notify"].get("mail") and sendmail:
        hooks.append(([sendmail, "-t"], f"To: {config['notify']['mail']}\nSubject: {text}\n\n{text}\n"))
    for argv, stdin in hooks:
        try:
            proc = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, timeout=15, check=False)
            if proc.returncode != 0:
                print(f"{program}: notification {shlex.join(argv[:1])} failed: {proc.stderr.strip()}", file=sys.stderr)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"{program}: notification {shlex.join(argv[:1])} failed: {exc}", file=sys.stderr)


def serve_start(config: Dict[str, Any]) -> None:
    # The floating address is up and announced before this runs (lvsha-address, then lvsha arp).
    for unit in config["services"]:
        systemctl("start", unit)
    open(os.path.join(RUN_DIR, "served"), "w", encoding="utf-8").close()
    notify(config, "took over")


def serve_stop(config: Dict[str, Any]) -> None:
    for unit in reversed(config["services"]):
        systemctl("stop", unit)
    try:
        os.unlink(os.path.join(RUN_DIR, "served"))
    except FileNotFoundError:
        pass
    notify(config, "released")


def resource(config: Dict[str, Any], name: str, action: str) -> int:
    flag = {"sync": "serving", "serve": "served"}[name]
    if action == "status":
        # heartbeat's LSB convention: the word "running" (or "stopped") on stdout.
        running = os.path.exists(os.path.join(RUN_DIR, flag))
        print("running" if running else "stopped")
        return 0 if running else 3
    {("sync", "start"): sync_start, ("sync", "stop"): sync_stop,
     ("serve", "start"): serve_start, ("serve", "stop"): serve_stop}[(name, action)](config)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="lvsha mirror", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init")
    p_pull = sub.add_parser("pull")
    p_pull.add_argument("--force", action="store_true")
    p_pull.add_argument("--wait", type=float, default=0)
    p_status = sub.add_parser("status")
    p_status.add_argument("--max-lag", type=float)
    p_res = sub.add_parser("resource")
    p_res.add_argument("name", choices=("sync", "serve"))
    p_res.add_argument("action", choices=("start", "stop", "status"))
    args = parser.parse_args(argv)
    try:
        if args.command == "init":
            if os.path.exists(os.path.join(STATE_DIR, "state.json")):
                print("present")
            else:
                save_state(0, False)
                print("created")
            return 0
        if args.command == "status":
            code, report = status(args.max_lag)
            print(json.dumps(report, indent=1, sort_keys=True))
            return code
        config = read_json(CONFIG, None)
        if config is None:
            raise MirrorError(f"{CONFIG} is missing (written by the lvsha.cluster.rsync_mirror role)")
        if args.command == "pull":
            print(json.dumps(pull(config, force=args.force, lock_wait=args.wait), sort_keys=True))
            return 0
        return resource(config, args.name, args.action)
    except MirrorError as exc:
        print(f"lvsha-mirror: {exc}", file=sys.stderr)
        return 1
