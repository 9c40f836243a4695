# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsha_host._private: the run directories and locks of lvsha ipvs and lvsha mirror are
root's alone. Run as root (as the tests are): another user, played by a child process that
drops to uid 65534, can neither take a lock nor plant one."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host import _private

OTHER_UID = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to play another user")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def as_other_user(action) -> str:
    """What ``action()`` did in a child process running as uid 65534: "ok" or the error's name."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            action()
            outcome = "ok"
        except Exception as error:  # noqa: BLE001 - the outcome is reported, whatever it is
            outcome = type(error).__name__
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        outcome = pipe.read()
    os.waitpid(pid, 0)
    return outcome


def test_a_lock_is_made_0600_in_a_0700_directory_and_another_user_cannot_open_it(open_tmp: Path) -> None:
    lock = open_tmp / "run" / "ipvs.lock"
    os.close(_private.open_lock(str(lock)))
    assert (mode(lock.parent), mode(lock)) == (0o700, 0o600)
    assert as_other_user(lambda: os.close(os.open(lock, os.O_RDONLY))) == "PermissionError"
    # The same lock in a directory open to others (as /run/lock is) can be held by anyone.
    os.chmod(lock.parent, 0o755)
    os.chmod(lock, 0o644)
    assert as_other_user(lambda: os.close(os.open(lock, os.O_RDONLY))) == "ok"


def test_a_directory_left_open_by_an_older_version_is_closed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    os.chmod(run, 0o1777)
    _private.private_dir(str(run))
    assert mode(run) == 0o700


def test_a_directory_someone_else_owns_or_a_symlink_is_refused(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    planted.mkdir()
    os.chown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(_private.UnsafePath, match="another user's"):
        _private.private_dir(str(planted))
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(_private.UnsafePath):
        _private.private_dir(str(link))


def test_a_planted_lock_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    run = Path(_private.private_dir(str(tmp_path / "run")))
    target = tmp_path / "target"
    target.write_text("keep")
    (run / "link.lock").symlink_to(target)
    with pytest.raises(OSError):
        _private.open_lock(str(run / "link.lock"))
    theirs = run / "theirs.lock"
    theirs.write_text("")
    os.chown(theirs, OTHER_UID, OTHER_UID)
    with pytest.raises(_private.UnsafePath, match="not a file of uid 0"):
        _private.open_lock(str(theirs))
    assert target.read_text() == "keep"


def test_check_mode_opens_an_existing_lock_only_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _private.open_lock(str(tmp_path / "run" / "ipvs.lock"), create=False)
    assert not (tmp_path / "run").exists()
