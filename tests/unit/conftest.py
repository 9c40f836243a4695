"""Make this checkout importable as ``ansible_collections.lvsha.cluster``.

Modules import their helpers by the collection path, as Ansible does on a host; pytest
runs from a plain checkout, so a throw-away ``ansible_collections/lvsha`` folder with a
``cluster`` symlink to the repository root is put on ``sys.path``.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _collection_root() -> str:
    try:  # already importable, e.g. under ansible-test units
        import ansible_collections.lvsha.cluster  # noqa: F401
        return ""
    except ImportError:
        pass
    top = Path(tempfile.mkdtemp(prefix="lvsha-units-"))
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
