# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The render_dir action (plugins/action/render_dir.py): on a shared machine, render.yml writes
only into a directory it made or a private one of its user, empties only an earlier rendering,
and follows no symlink that someone else planted. Run as root, as render.yml may be; uid 65534
plays the other user."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.lvsha.cluster.plugins.action import render_dir

OTHER_UID = 65534


@pytest.fixture
def shared(open_tmp: Path) -> Path:
    """A directory like /tmp: everyone may write to it, and it is sticky."""
    os.chmod(open_tmp, 0o1777)
    return open_tmp


def test_a_new_directory_is_made_private(shared: Path) -> None:
    assert render_dir._ready(str(shared / "out"), check=False) is True
    assert oct((shared / "out").stat().st_mode & 0o7777) == "0o700"


def test_an_earlier_rendering_is_emptied_in_place(shared: Path) -> None:
    out = shared / "out"
    out.mkdir(mode=0o700)
    (out / render_dir.MARKER).write_text("earlier\n")
    (out / "lb1" / "etc").mkdir(parents=True)
    (out / "lb1" / "etc" / "ha.cf").write_text("old\n")
    inode = out.stat().st_ino
    assert render_dir._ready(str(out), check=False) is True
    assert list(out.iterdir()) == [] and out.stat().st_ino == inode


@pytest.mark.parametrize("check", [False, True])
def test_a_directory_with_other_files_is_left_alone(shared: Path, check: bool) -> None:
    out = shared / "out"
    out.mkdir(mode=0o700)
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(AnsibleActionFail, match="holds files that render.yml did not write"):
        render_dir._ready(str(out), check=check)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_planted_symlink_is_not_followed(shared: Path) -> None:
    victim = shared / "victim"
    victim.mkdir()
    (victim / render_dir.MARKER).write_text("planted\n")
    (victim / "precious").write_text("keep\n")
    (shared / "out").symlink_to(victim)
    os.lchown(shared / "out", OTHER_UID, OTHER_UID)
    with pytest.raises(AnsibleActionFail, match="a symlink, or another user's"):
        render_dir._ready(str(shared / "out"), check=False)
    assert (victim / "precious").read_text() == "keep\n"


def test_a_directory_planted_by_another_user_or_open_to_others_is_refused(shared: Path) -> None:
    theirs = shared / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    open_to_group = shared / "group"
    open_to_group.mkdir()
    os.chmod(open_to_group, 0o770)
    for path in (theirs, open_to_group):
        with pytest.raises(AnsibleActionFail, match="only its owner can write to"):
            render_dir._ready(str(path), check=False)


def test_a_directory_above_that_others_can_swap_is_refused(shared: Path) -> None:
    open_dir = shared / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)  # writable by everyone, not sticky: anyone may rename what lies in it
    with pytest.raises(AnsibleActionFail, match="writable by everyone and not sticky"):
        render_dir._ready(str(open_dir / "out"), check=False)
    link = shared / "link"
    link.symlink_to(shared)
    os.lchown(link, OTHER_UID, OTHER_UID)
    with pytest.raises(AnsibleActionFail, match="is a symlink of uid 65534"):
        render_dir._ready(str(link / "out"), check=False)
    assert not (open_dir / "out").exists() and not (shared / "out").exists()


def test_check_mode_writes_nothing(shared: Path) -> None:
    assert render_dir._ready(str(shared / "out"), check=True) is True
    assert not (shared / "out").exists()
