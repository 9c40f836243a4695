# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run directories and locks that only their owner (root, on a node) can take.

A lock that another local user can create or hold blocks takeovers and alerts, or turns pulls
into silent skips; so every lock of lvsha lives in a directory that is the caller's alone
(0700), and is opened without following a symlink and refused unless the caller owns it.
"""
from __future__ import annotations

import os
import stat


class UnsafePath(Exception):
    """A run directory or lock that someone else could have planted."""


def private_dir(path: str) -> str:
    """``path`` as a directory that only the caller can enter: made 0700 when missing; an
    existing one must be a real directory (not a symlink) that the caller owns, and loses any
    access for others."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise UnsafePath(f"{path}: not a directory of uid {os.geteuid()} (a symlink, a file or another user's); refused")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def open_lock(path: str, create: bool = True) -> int:
    """A descriptor of the lock file ``path`` (0600, in a private directory), for flock; with
    ``create`` false, of an existing one only (FileNotFoundError otherwise), read-only and
    without touching its directory (check mode writes nothing)."""
    if create:
        private_dir(os.path.dirname(path))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    else:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise UnsafePath(f"{path}: not a file of uid {os.geteuid()}; refused")
    return fd
