# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's file declaration (ROLE__files in roles/ROLE/vars/main.yml), as written."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"


def declared_files(role: str) -> List[Dict[str, Any]]:
    """The entries of the role's file declaration (the fields:
    roles/render_files/meta/argument_specs.yml) as written; for files built once per instance
    (the DRBD resource files), the entry they are built from."""
    def walk(value: Any) -> Iterator[Dict[str, Any]]:
        if isinstance(value, dict):
            if "template" in value or "file" in value:
                yield value
            else:
                for sub in value.values():
                    yield from walk(sub)
        elif isinstance(value, list):
            for sub in value:
                yield from walk(sub)
    path = ROLES / role / "vars/main.yml"
    return list(walk(yaml.safe_load(path.read_text()))) if path.is_file() else []
