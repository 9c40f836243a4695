# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``lvsha mirror`` (plugins/module_utils/lvsha_host/mirror.py): its decisions as functions, and as a
program pulling from a real rsync.

The pure functions are imported from the package. The program runs as the standby node mr2
would run it (the lvsha launcher and the lvsha_host package as the host_package role installs
them, tests/unit/lvsha_command.py), against a real ``rsync --daemon`` playing the serving
peer mr1 on 127.0.0.1: the daemon serves the
state module (the peer's ``public/`` state) and one module ``www``, to the pull user only,
with a 0600 secrets file, as the role's rsyncd.conf does. Settings come in
LVSHA_MIRROR_CONFIG (the shape of /etc/lvsha/mirror.json that the role writes), state and
flags in LVSHA_MIRROR_STATE_DIR and LVSHA_MIRROR_RUN_DIR.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host import mirror
from lvsha_command import install

RSYNC = shutil.which("rsync")
USER = "lvsha-pull"
# Distinctive, so that a leak into any output or record is found by a plain substring test.
PASSWORD = "Pull-Pass-9c2e7f3a-never-printed"


@pytest.fixture(scope="module")
def program() -> ModuleType:
    return mirror


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(tmp_path_factory.mktemp("lvsha"))


def state(epoch: int, served: bool) -> Dict[str, Any]:
    """A node's data period as the program parses it (a period it took over cleanly)."""
    return {"epoch": epoch, "served": served, "unreconciled": False}


def period(data: Dict[str, Any]) -> Tuple[int, bool]:
    return data["epoch"], data["served"]


# ------------------------------------------------------------------ a state write survives a power cut

def test_state_is_written_whole_and_durably(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file's data reaches the disk before the rename that publishes it, and the rename
    before write_json returns: after a power cut the state is the old one or the new one."""
    events: List[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "directory" if os.path.isdir(os.readlink(f"/proc/self/fd/{fd}")) else "file"
        events.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        with open(src, encoding="utf-8") as handle:
            events.append(f"rename of {len(json.load(handle))} keys")
        real_replace(src, dst)

    monkeypatch.setattr(mirror.os, "fsync", fsync)
    monkeypatch.setattr(mirror.os, "replace", replace)
    target = tmp_path / "state" / "state.json"
    mirror.write_json(str(target), {"epoch": 3, "served": True})
    assert events == ["fsync file", "rename of 2 keys", "fsync directory"]
    assert json.loads(target.read_text()) == {"epoch": 3, "served": True}
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]  # no temporary file left


# ------------------------------------------------------------------ which copy is newer

# (own, peer, peer_is_newer, diverged)
TRUTH = [
    ("fresh-pair", state(0, False), state(0, False), False, False),
    ("standby-behind-the-serving-node", state(1, False), state(1, True), True, False),
    ("serving-node-never-pulls-from-its-standby", state(1, True), state(1, False), False, False),
    ("both-standby-same-period", state(1, False), state(1, False), False, False),
    ("fresh-standby-behind-a-served-period", state(0, False), state(1, True), True, False),
    ("later-period-wins-even-unserved", state(2, True), state(3, False), True, False),
    ("earlier-period-never-wins", state(3, False), state(2, True), False, False),
    ("returning-primary-behind", state(1, True), state(2, True), True, False),
    ("split-brain", state(2, True), state(2, True), False, True),
    ("period-0-served-twice-is-not-a-split-brain", state(0, True), state(0, True), False, False),
]


@pytest.mark.parametrize("own, peer, newer, split", [case[1:] for case in TRUTH], ids=[case[0] for case in TRUTH])
def test_which_copy_is_newer(program: ModuleType, own: Dict[str, Any], peer: Dict[str, Any], newer: bool,
                             split: bool) -> None:
    assert program.peer_is_newer(own, peer) is newer
    assert program.diverged(own, peer) is split
    assert program.diverged(peer, own) is split  # symmetric


def test_an_unreconciled_takeover_is_never_pulled_over_the_peers_own_writes(program: ModuleType) -> None:
    # The peer took over from this node (which had served) without pulling its last writes.
    took_over = {"epoch": 3, "served": True, "unreconciled": True}
    assert program.diverged(state(2, True), took_over)
    # A node that never served has no writes of its own to lose: it follows the server.
    assert not program.diverged(state(2, False), took_over)
    assert program.peer_is_newer(state(2, False), took_over)


def test_never_both_pull_from_each_other(program: ModuleType) -> None:
    states = [state(epoch, served) for epoch in range(3) for served in (False, True)]
    for own in states:
        for peer in states:
            assert not (program.peer_is_newer(own, peer) and program.peer_is_newer(peer, own)), (own, peer)


# ------------------------------------------------------------------ rsync's output and command line

STATS = """
Number of files: 1,241 (reg: 1,234, dir: 7)
Number of created files: 1,234 (reg: 1,234)
Number of deleted files: 3 (reg: 3)
Number of regular files transferred: 1,234
Total file size: 12,345,678 bytes
Total transferred file size: 12,345,678 bytes
Literal data: 12,345,678 bytes
Matched data: 0 bytes
File list size: 45,678
File list generation time: 0.001 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 24,730
Total bytes received: 12,402,117

sent 24,730 bytes  received 12,402,117 bytes  8,284,564.67 bytes/sec
total size is 12,345,678  speedup is 0.99
"""


def test_files_transferred(program: ModuleType) -> None:
    assert program.files_transferred(STATS) == 1234
    assert program.files_transferred(STATS.replace("transferred: 1,234", "transferred: 0")) == 0
    assert program.files_transferred("Number of regular files transferred: 7\n") == 7


def test_files_transferred_without_stats(program: ModuleType) -> None:
    assert program.files_transferred("") == 0
    # "Number of files" and "Number of created files" are not the transferred count.
    assert program.files_transferred("Number of files: 12 (reg: 10, dir: 2)\nNumber of created files: 4\n") == 0


CONFIG = {"peer": "mr1", "peer_address": "198.51.100.41", "port": 873, "user": USER,
          "password_file": "/etc/lvsha/mirror/rsync.password", "state_module": "lvsha-state"}
MODULE = {"name": "www", "path": "/var/www/html", "exclude_file": "/etc/lvsha/mirror/www.exclude"}


def test_pull_argv(program: ModuleType) -> None:
    argv = program.pull_argv(CONFIG, MODULE)
    assert argv[0] == program.RSYNC
    assert "--delete" in argv
    assert "-aH" in argv and "--numeric-ids" in argv and "--stats" in argv
    assert "--exclude-from=/etc/lvsha/mirror/www.exclude" in argv
    assert "--password-file=/etc/lvsha/mirror/rsync.password" in argv
    assert argv[-2:] == ["rsync://lvsha-pull@198.51.100.41:873/www/", "/var/www/html/"]
    # The password travels in the file only; no option carries one.
    assert not any(arg.startswith("--password=") or PASSWORD in arg for arg in argv)
    assert program.pull_argv(CONFIG, dict(MODULE, path="/var/www/html/"))[-1] == "/var/www/html/"


def test_pull_argv_holds_no_password_even_when_the_config_has_one(program: ModuleType) -> None:
    argv = program.pull_argv(dict(CONFIG, password=PASSWORD), MODULE)
    assert not any(PASSWORD in arg for arg in argv)


# ------------------------------------------------------------------ the program against a real rsync daemon

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write(path: Path, text: str, mode: Optional[int] = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def write_state(directory: Path, epoch: int, served: bool) -> None:
    """As lvsha mirror's save_state writes it: state.json and public/state.json."""
    text = json.dumps({"epoch": epoch, "served": served, "since": round(time.time(), 3)}, indent=1, sort_keys=True)
    write(directory / "state.json", text + "\n")
    write(directory / "public" / "state.json", text + "\n")


def tree(root: Path) -> Dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


class Peer:
    """mr1: a real rsync daemon on 127.0.0.1, configured as the role's rsyncd.conf configures it.

    One daemon serves the whole module (starting and stopping one takes longer than the
    tests themselves); ``reset`` empties what it serves before each test.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.www = root / "www"
        self.out = root / "rsyncd.out"
        self.daemon: Optional[subprocess.Popen] = None
        self.port = 0

    def start(self) -> None:
        secrets = write(self.root / "rsyncd.secrets", f"{USER}:{PASSWORD}\n", 0o600)
        # Running as root, the daemon would read the modules as nobody, who cannot enter tmp_path.
        owner = f"uid = {os.getuid()}\ngid = {os.getgid()}\n" if os.geteuid() == 0 else ""
        module = (f"\tread only = yes\n\tlist = no\n\tauth users = {USER}\n\tsecrets file = {secrets}\n"
                  "\tstrict modes = yes\n\thosts allow = 127.0.0.1\n\thosts deny = *\n")
        conf = write(self.root / "rsyncd.conf",
                     f"pid file = {self.root / 'rsyncd.pid'}\nlog file = {self.root / 'rsyncd.log'}\n"
                     f"use chroot = no\nreverse lookup = no\n{owner}\n"
                     f"[lvsha-state]\n\tpath = {self.state / 'public'}\n{module}\n"
                     f"[www]\n\tpath = {self.www}\n{module}")
        for _attempt in range(5):
            self.port = free_port()
            with open(self.out, "ab") as out:
                # Runs until stop(), not within a with block.
                self.daemon = subprocess.Popen(  # pylint: disable=consider-using-with
                    [str(RSYNC), "--daemon", "--no-detach", f"--config={conf}", f"--port={self.port}",
                     "--address=127.0.0.1"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.daemon.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return
                except OSError:
                    time.sleep(0.02)
            self.stop()  # the port was taken meanwhile, or the daemon is slow: another port
        pytest.fail(f"rsync --daemon did not start: {self.out.read_text()}")

    def stop(self) -> None:
        """By the daemon's own PID (the connections' children end with their connections)."""
        daemon, self.daemon = self.daemon, None
        if daemon is None or daemon.poll() is not None:
            return
        os.kill(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=5)

    def reset(self) -> None:
        assert self.daemon is not None and self.daemon.poll() is None, self.out.read_text()
        for directory in (self.www, self.state):
            shutil.rmtree(directory, ignore_errors=True)
        self.www.mkdir()
        (self.state / "public").mkdir(parents=True)


class Pair:
    """mr2 (this node: the program, its state, its copy of www) pulling from mr1 (``Peer``)."""

    def __init__(self, root: Path, peer: Peer, launcher: Path) -> None:
        self.peer = peer
        self.launcher = launcher
        self.peer_state = peer.state
        self.peer_www = peer.www
        self.state_dir = root / "state"
        self.run_dir = root / "run"
        self.www = root / "www"
        self.lock = root / "lock" / "lvsha-mirror.lock"
        self.password_file = write(root / "rsync.password", PASSWORD + "\n", 0o600)
        self.exclude_file = write(root / "www.exclude", "/node.txt\n*.swp\n")
        self.config = root / "mirror.json"
        self.outputs: List[subprocess.CompletedProcess] = []
        self.write_config()

    def write_config(self, **change: Any) -> None:
        config = {
            "node": "mr2", "peer": "mr1", "peer_address": "127.0.0.1", "port": self.peer.port, "user": USER,
            "password_file": str(self.password_file), "state_module": "lvsha-state",
            "modules": [{"name": "www", "path": str(self.www), "exclude_file": str(self.exclude_file)}],
            "lock": str(self.lock),
            "vip": {"address": "192.0.2.70", "interface": "eth1"}, "services": [],
            "notify": {"command": "", "mail": ""},
        }
        config.update(change)
        write(self.config, json.dumps(config, indent=1, sort_keys=True) + "\n")

    def cli(self, *args: str, rc: Optional[int] = 0) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LVSHA_")}
        env.update(LVSHA_MIRROR_CONFIG=str(self.config), LVSHA_MIRROR_STATE_DIR=str(self.state_dir),
                   LVSHA_MIRROR_RUN_DIR=str(self.run_dir), LVSHA_RSYNC=str(RSYNC))
        proc = subprocess.run([str(self.launcher), "mirror", *args], env=env, capture_output=True, text=True,
                              check=False, timeout=30)
        self.outputs.append(proc)
        assert PASSWORD not in proc.stdout + proc.stderr, "the password was printed"
        if rc is not None:
            assert proc.returncode == rc, proc.stderr
        return proc

    def pull(self, *args: str, rc: Optional[int] = 0) -> Dict[str, Any]:
        """The outcome: the JSON on stdout when the pull ran, else last-pull.json."""
        proc = self.cli("pull", *args, rc=rc)
        return json.loads(proc.stdout) if proc.returncode == 0 else self.record("last-pull")

    def record(self, name: str) -> Dict[str, Any]:
        return json.loads((self.state_dir / f"{name}.json").read_text())

    def own_state(self) -> Tuple[int, bool]:
        return period(json.loads((self.state_dir / "state.json").read_text()))

    def fill(self) -> None:
        """mr1 serves a web root; mr2 holds an older copy with a file mr1 deleted since, and its own files."""
        write(self.peer_www / "index.html", "index of period 1\n")
        write(self.peer_www / "sub" / "page.html", "a page\n")
        write(self.peer_www / "node.txt", "mr1\n")
        write(self.peer_www / "peer-editor.swp", "mr1's editor\n")
        write(self.www / "index.html", "old\n")
        write(self.www / "deleted-on-peer.txt", "gone on mr1\n")
        write(self.www / "node.txt", "mr2\n")
        write(self.www / "draft.swp", "mr2's editor\n")


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Peer:
    if RSYNC is None:
        pytest.skip("rsync is not installed")
    peer = Peer(tmp_path_factory.mktemp("mr1"))
    request.addfinalizer(peer.stop)
    peer.start()
    return peer


@pytest.fixture
def pair(tmp_path: Path, peer: Peer, launcher: Path) -> Pair:
    peer.reset()
    pair = Pair(tmp_path, peer, launcher)
    pair.fill()
    return pair


PULLED = {"index.html": "index of period 1\n", "sub/page.html": "a page\n", "node.txt": "mr2\n",
          "draft.swp": "mr2's editor\n"}
UNTOUCHED = {"index.html": "old\n", "deleted-on-peer.txt": "gone on mr1\n", "node.txt": "mr2\n",
             "draft.swp": "mr2's editor\n"}


def test_a_fresh_pair_never_pulls(pair: Pair) -> None:
    write_state(pair.peer_state, 0, False)
    write_state(pair.state_dir, 0, False)
    result = pair.pull()
    assert result["result"] == "skipped"
    assert result["reason"] == "the peer holds no newer data"
    assert (period(result["own"]), result["peer_epoch"]) == ((0, False), 0)
    assert tree(pair.www) == UNTOUCHED
    assert pair.record("last-pull")["result"] == "skipped"
    assert not (pair.state_dir / "last-good-pull.json").exists()


def test_the_standby_pulls_from_the_serving_peer(pair: Pair) -> None:
    write_state(pair.peer_state, 1, True)  # this node (no state yet) is period 0
    result = pair.pull()
    assert result["result"] == "ok"
    assert (result["peer"], result["peer_epoch"]) == ("mr1", 1)
    assert result["files_transferred"] == 2  # index.html and sub/page.html
    # A copy of the peer but for the excluded files: neither copied nor deleted.
    assert tree(pair.www) == PULLED
    assert pair.record("last-pull") == result
    assert pair.record("last-good-pull") == result
    assert pair.own_state() == (1, False)
    assert json.loads((pair.state_dir / "public" / "state.json").read_text())["epoch"] == 1

    again = pair.pull()  # the standby keeps pulling while the peer serves
    assert (again["result"], again["files_transferred"]) == ("ok", 0)
    assert tree(pair.www) == PULLED

    write(pair.peer_www / "new.html", "written on mr1\n")
    assert pair.pull()["files_transferred"] == 1
    assert (pair.www / "new.html").read_text() == "written on mr1\n"


def test_a_standby_that_never_served_keeps_nothing_aside(pair: Pair) -> None:
    write_state(pair.peer_state, 1, True)
    write_state(pair.state_dir, 1, False)
    assert "displaced" not in pair.pull()
    assert not (pair.state_dir / "displaced").exists()


def test_a_node_that_served_keeps_what_its_catch_up_deletes_or_replaces(pair: Pair) -> None:
    # This node served period 1 and died before its peer pulled its last writes; the peer
    # served period 2 since. The catch-up makes this node a copy of the peer's, but moves
    # the files it deletes or replaces aside instead of losing them.
    write_state(pair.peer_state, 2, True)
    write_state(pair.state_dir, 1, True)
    result = pair.pull()
    assert (result["result"], result["peer_epoch"]) == ("ok", 2)
    assert tree(pair.www) == PULLED
    kept = Path(result["displaced"])
    assert kept.parent == pair.state_dir / "displaced"
    assert tree(kept / "www") == {"index.html": "old\n", "deleted-on-peer.txt": "gone on mr1\n"}
    report = json.loads(pair.cli("status").stdout)
    assert report["displaced"] == [kept.name]


def test_a_split_brain_stops_the_pulls_until_forced(pair: Pair) -> None:
    write_state(pair.peer_state, 2, True)
    write_state(pair.state_dir, 2, True)
    proc = pair.cli("pull", rc=1)
    assert proc.stdout == ""
    assert proc.stderr.startswith("lvsha-mirror: ")
    assert "lvsha mirror pull --force" in proc.stderr
    assert tree(pair.www) == UNTOUCHED
    failed = pair.record("last-pull")
    assert failed["result"] == "failed"
    assert "pull --force" in failed["error"]
    assert not (pair.state_dir / "last-good-pull.json").exists()

    result = pair.pull("--force")
    assert (result["result"], result["peer_epoch"]) == ("ok", 2)
    assert tree(pair.www) == PULLED
    assert pair.own_state() == (2, False)  # this copy now follows the peer's
    assert pair.pull()["result"] == "ok"  # no longer diverged


def test_a_held_lock_skips_the_pull(pair: Pair) -> None:
    write_state(pair.peer_state, 1, True)
    pair.lock.parent.mkdir(parents=True)
    with open(pair.lock, "w", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a backup running under `flock LOCK ...`
        result = pair.pull()
    assert (result["result"], result["reason"]) == ("skipped", f"{pair.lock} is held (a pull or a backup is running)")
    assert tree(pair.www) == UNTOUCHED
    assert pair.record("last-pull")["result"] == "skipped"
    assert not (pair.state_dir / "state.json").exists()
    assert pair.pull()["result"] == "ok"  # released: the next pull runs


def test_the_serving_node_never_pulls(pair: Pair) -> None:
    write_state(pair.peer_state, 1, True)
    pair.run_dir.mkdir(parents=True)
    (pair.run_dir / "serving").touch()
    result = pair.pull()
    assert (result["result"], result["reason"]) == ("skipped", "this node is serving")
    assert tree(pair.www) == UNTOUCHED
    result = pair.pull("--force")
    assert result["result"] == "skipped"
    assert tree(pair.www) == UNTOUCHED


def test_status_reports_the_lag(pair: Pair) -> None:
    pair.cli("status", "--max-lag", "5", rc=2)  # a standby that never pulled lags
    write_state(pair.peer_state, 1, True)
    pair.pull()
    report = json.loads(pair.cli("status", "--max-lag", "5").stdout)
    assert report["role"] == "standby"
    assert period(report["data"]) == (1, False)
    assert report["last_pull"]["result"] == "ok"
    assert report["last_good_pull"] == report["last_pull"]
    assert 0 <= report["lag"] < 5

    good = pair.record("last-good-pull")
    good["started"] -= 3600
    write(pair.state_dir / "last-good-pull.json", json.dumps(good))
    report = json.loads(pair.cli("status", "--max-lag", "5", rc=2).stdout)
    assert report["role"] == "standby"
    assert report["lag"] >= 3600
    assert pair.cli("status").returncode == 0  # no limit, no verdict

    pair.run_dir.mkdir(parents=True)
    (pair.run_dir / "serving").touch()
    report = json.loads(pair.cli("status", "--max-lag", "5").stdout)  # the serving node does not lag
    assert report["role"] == "serving"


def test_the_password_is_never_printed_nor_recorded(pair: Pair) -> None:
    write_state(pair.peer_state, 1, True)
    pair.pull()
    pair.cli("status", "--max-lag", "5")
    # A wrong password: the daemon refuses; the error names the peer, not the password.
    pair.password_file.write_text("Wrong-Pass-1b4d\n")
    proc = pair.cli("pull", rc=1)
    assert proc.stderr.startswith("lvsha-mirror: cannot read the state of mr1: ")
    assert "auth failed" in proc.stderr
    assert "Wrong-Pass-1b4d" not in proc.stderr + proc.stdout
    for record in pair.state_dir.rglob("*.json"):
        assert PASSWORD not in record.read_text() and "Wrong-Pass-1b4d" not in record.read_text()
    assert len(pair.outputs) == 3
    assert all(PASSWORD not in p.stdout + p.stderr for p in pair.outputs)


@pytest.mark.parametrize("name, flag", [("sync", "serving"), ("serve", "served")])
def test_resource_status(pair: Pair, name: str, flag: str) -> None:
    assert pair.cli("resource", name, "status", rc=3).stdout == "stopped\n"
    pair.run_dir.mkdir(parents=True)
    (pair.run_dir / flag).touch()
    assert pair.cli("resource", name, "status", rc=0).stdout == "running\n"


def test_a_missing_config_is_named(pair: Pair) -> None:
    pair.config.unlink()
    proc = pair.cli("pull", rc=1)
    assert proc.stderr == f"lvsha-mirror: {pair.config} is missing (written by the lvsha.cluster.rsync_mirror role)\n"
