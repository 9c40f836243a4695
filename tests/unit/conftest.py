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
from typing import Iterator, Optional

import pytest
from _pytest.runner import runtestprotocol

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
# Plain pytest puts each test file's directory on sys.path, and a test imports a helper beside
# it by its bare name (test_schema_fuzz.py: test_bad_input). ansible-test units imports a test
# as a package of the collection instead, which puts no directory there: every directory of the
# suite goes on the path, after the others.
for _directory in sorted({str(path.parent) for path in Path(__file__).resolve().parent.rglob("*.py")}):
    if _directory not in sys.path:
        sys.path.append(_directory)


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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Optional[bool]:
    """Under `ansible-test units`, each test runs in the worker, as under plain pytest, not in a
    fork of it (ansible-test's ansible_forked plugin, whose hook this one, registered later,
    precedes). In a fork, a module-scoped fixture is set up again for every test and torn down
    only in the module's last one: the rendering of test_render_playbook.py ran once per test
    instead of once, and test_lvsha_mirror.py's rsync daemons outlived their tests."""
    if not item.config.pluginmanager.has_plugin("ansible_forked"):
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    runtestprotocol(item, nextitem=nextitem)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


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
