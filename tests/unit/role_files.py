# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's file declaration (ROLE__files in roles/ROLE/vars/main.yml), as written."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
# What a declared file is written from: one of these fields.
SOURCES = {"template", "file", "content"}


def source(entry: Dict[str, Any]) -> str:
    """What a declared file is written from: its template or file, or "content" for a file
    written from a value (the rendering's list leaves the value out)."""
    return entry.get("template") or entry.get("file") or "content"


def declared_files(role: str) -> List[Dict[str, Any]]:
    """The entries of the role's file declaration (the fields:
    plugins/modules/render_files.py) as written; for files built once per instance
    (the DRBD resource files), the entry they are built from."""
    def walk(value: Any) -> Iterator[Dict[str, Any]]:
        if isinstance(value, dict):
            if SOURCES & value.keys():
                yield value
            else:
                for sub in value.values():
                    yield from walk(sub)
        elif isinstance(value, list):
            for sub in value:
                yield from walk(sub)
    path = ROLES / role / "vars/main.yml"
    return list(walk(yaml.safe_load(path.read_text()))) if path.is_file() else []
