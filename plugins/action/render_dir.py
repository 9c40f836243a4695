# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of lvsha.cluster.render_dir: the directory of playbooks/render.yml made ready
on the controller (documentation: plugins/modules/render_dir.py)."""
from __future__ import annotations

import os
import shutil
import stat
from typing import Any, Dict

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

MARKER = ".lvsha-render"
MARKER_TEXT = b"Written by lvsha.cluster playbooks/render.yml; it empties this directory on each run.\n"


def _check_ancestors(path: str) -> None:
    """Nobody but root or this user can have swapped a directory above ``path``."""
    uid = os.geteuid()
    current = "/"
    for part in [p for p in os.path.dirname(path).split("/") if p]:
        current = os.path.join(current, part)
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            raise AnsibleActionFail(f"render_dir: {current} does not exist; create the directory above render_dir first") from None
        if stat.S_ISLNK(info.st_mode):
            if info.st_uid not in (0, uid):
                raise AnsibleActionFail(f"render_dir: {current} is a symlink of uid {info.st_uid}; refused")
            current = os.path.realpath(current)
            info = os.stat(current)
        if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
            raise AnsibleActionFail(f"render_dir: {current} is writable by everyone and not sticky; refused")


def _ready(path: str, check: bool) -> bool:
    """Make ``path`` an empty private directory of this user; True when it changed something."""
    _check_ancestors(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not check:
            os.mkdir(path, 0o700)
        return True
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise AnsibleActionFail(f"render_dir {path}: not a directory of uid {os.geteuid()} that only its owner can "
                                "write to (a symlink, or another user's); name a new or private directory")
    entries = os.listdir(path)
    if not entries:
        return False
    marker = os.path.join(path, MARKER)
    if MARKER not in entries or not stat.S_ISREG(os.lstat(marker).st_mode):
        raise AnsibleActionFail(f"render_dir {path} holds files that render.yml did not write; name a new or empty directory")
    if not check:
        for name in entries:
            child = os.path.join(path, name)
            if stat.S_ISDIR(os.lstat(child).st_mode):
                shutil.rmtree(child)  # symlink-safe where the platform allows (shutil.rmtree.avoids_symlink_attacks)
            else:
                os.unlink(child)
    return True


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path",))

    def run(self, tmp: Any = None, task_vars: Any = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        path = self._task.args.get("path")
        if not isinstance(path, str) or not path:
            raise AnsibleActionFail("render_dir is required: -e render_dir=DIR (the files land in DIR/HOST/PATH)")
        path = os.path.normpath(os.path.abspath(os.path.expanduser(path)))
        check = bool(self._task.check_mode)
        changed = _ready(path, check) or not check
        if not check:
            descriptor = os.open(os.path.join(path, MARKER), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(MARKER_TEXT)
        # The directories above may be root's symlinks (/var/run): the path as the kernel sees it.
        result.update(changed=changed, path=os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path)))
        return result
