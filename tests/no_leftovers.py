# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command and fail if it leaves a process or a temporary file behind.

    python3 tests/no_leftovers.py COMMAND [ARG...]

The command runs with this program as its child subreaper, so a process that any of its
descendants started and left running (a daemon that detached, a fake tool that outlived its
test) is re-parented here instead of to init, where it could not be told from the machine's
own. Once the command has ended, each such process is named and stopped, and each entry that
the run left in /tmp is named; either fails the run.

As root (CI, make test), the command has a /tmp of its own: a mount namespace in which an empty
directory is bound over /tmp, so that what is left there is the run's, whatever else the
machine runs meanwhile, and is removed afterwards. Otherwise the entries that appeared in /tmp
during the run are counted, of the names that Python's tempfile, mktemp, Ansible, ansible-test
and this project give (TEMP_PREFIXES) and that no process still running names in its command
line, has open or works in (another program's on a shared machine). pytest's own base
directory (pytest-of-USER) is not counted: pytest keeps its last runs there on purpose.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
TEMP_PREFIXES = ("tmp", "lvsha", "ansible", "python-", "pytest-")


def descendants(root: int) -> dict[int, str]:
    """Every live process below ROOT, as PID -> command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(encoding="utf-8")
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        # The state and the parent follow the command's name, which may hold spaces and parentheses.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            parents[int(entry)] = int(parent)
            commands[int(entry)] = command
    found: dict[int, str] = {}
    for pid in parents:
        ancestor = parents[pid]
        while ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor, 0)
        if ancestor == root:
            found[pid] = commands[pid]
    return found


def in_use(paths: list[Path]) -> set[Path]:
    """The paths that a live process names in its command line, has open or works in."""
    used: set[Path] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            places = [os.readlink(f"/proc/{entry}/cwd")]
            places += [os.readlink(f"/proc/{entry}/fd/{fd}") for fd in os.listdir(f"/proc/{entry}/fd")]
        except OSError:
            continue
        for path in paths:
            if str(path) in command or any(place == str(path) or place.startswith(f"{path}/") for place in places):
                used.add(path)
    return used


def stop(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and descendants(os.getpid()):
            reap()
            time.sleep(0.1)
        if not descendants(os.getpid()):
            return


def reap() -> None:
    """Collect the exit status of every re-parented process that has ended."""
    while True:
        try:
            pid = os.waitpid(-1, os.WNOHANG)[0]
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"no_leftovers: prctl: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 2
    tmp = Path("/tmp")
    before = set(os.listdir(tmp))
    private: Path | None = None
    if os.geteuid() == 0 and shutil.which("unshare"):
        private = Path(tempfile.mkdtemp(prefix="lvsha-run-tmp-", dir=tmp))
        os.chmod(private, 0o1777)
        # unshare execs in place: the command stays a descendant of this subreaper.
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /tmp && exec "$@"',
                str(private), *argv]
    rc = subprocess.run(argv, check=False).returncode
    # A process that exits while the run ends is still on its way out: give it a moment.
    time.sleep(0.5)
    reap()
    failed = False
    left = descendants(os.getpid())
    if left:
        failed = True
        print("no_leftovers: processes the run left running (now stopped):", file=sys.stderr)
        for pid, command in sorted(left.items()):
            print(f"  {pid} {command}", file=sys.stderr)
        stop(sorted(left))
    if private is not None:
        new = sorted(tmp / name for name in os.listdir(private) if not name.startswith("pytest-of-"))
        shutil.rmtree(private, ignore_errors=True)
    else:
        new = sorted(tmp / name for name in set(os.listdir(tmp)) - before
                     if name.startswith(TEMP_PREFIXES) and not name.startswith("pytest-of-"))
        new = [path for path in new if path not in in_use(new)]
    if new:
        failed = True
        print(f"no_leftovers: entries the run left in {tmp}:", file=sys.stderr)
        for path in new:
            print(f"  {path}", file=sys.stderr)
    if rc:
        return rc
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
