"""Make this checkout importable as ``ansible_collections.lvsha.cluster``.

Modules import their helpers by the collection path, as Ansible does on a host; pytest
runs from a plain checkout, so a throw-away ``ansible_collections/lvsha`` folder with a
``cluster`` symlink to the repository root is put on ``sys.path``.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _collection_root() -> str:
    try:  # already importable, e.g. under ansible-test units
        import ansible_collections.lvsha.cluster  # noqa: F401
        return ""
    except ImportError:
        pass
    top = Path(tempfile.mkdtemp(prefix="lvsha-units-"))
    # Removed when the run ends (the symlink is unlinked, never followed).
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    ns = top / "ansible_collections" / "lvsha"
    ns.mkdir(parents=True)
    os.symlink(REPO_ROOT, ns / "cluster")
    return str(top)


_root = _collection_root()
if _root:
    sys.path.insert(0, _root)
    for name in [m for m in sys.modules if m == "ansible_collections" or m.startswith("ansible_collections.")]:
        del sys.modules[name]

# Shared test helpers (model_inventory.py) live beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _children() -> list:
    """The processes whose parent is this test run, as "PID command"."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                stat = handle.read()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        # The state and the parent follow the command's name in parentheses.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == os.getpid() and state != "Z":
            found.append(f"{entry} {command}")
    return found


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ARG001 - pytest's hook signature
    """No test leaves a process of its own running (an rsync daemon, a fake tool)."""
    left = _children()
    if left:
        print("\nprocesses the tests left running:\n  " + "\n  ".join(left))
        session.exitstatus = 1


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A directory in /tmp that every user can traverse (0755; pytest's own are root's alone),
    for the tests where another local user must reach what lies inside."""
    base = Path(tempfile.mkdtemp(prefix="lvsha-units-open-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base)
