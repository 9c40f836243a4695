# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-playbook run on the controller against the example inventories, and its recap.

The example inventories name hosts that do not resolve here: a run that tried to reach one
reports it unreachable, so a recap tells whether a run stayed on the controller.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Sequence

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("lvs", "storage", "mirror")


def inventory_args(*names: str) -> list:
    """``-i`` for each example inventory named (``lvs`` is inventories/example-lvs), or each path given."""
    return [arg for name in (names or EXAMPLES)
            for arg in ("-i", name if os.path.isabs(name) else str(REPO / "inventories" / f"example-{name}" / "hosts.yml"))]


def run_playbook(playbook: Path, *extra: str, inventories: Sequence[str] = EXAMPLES) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(["ansible-playbook", *inventory_args(*inventories), *extra, str(playbook)],
                          capture_output=True, text=True, check=False, timeout=600, cwd=REPO, env=env)


def words(out: str) -> str:
    """The output with its line folding undone: the yaml callback folds long messages (and
    ansible-core before 2.19 wraps them), so a message is looked for with every run of
    whitespace as one space."""
    return " ".join(out.split())


def recap(out: str) -> Dict[str, Dict[str, int]]:
    """Host -> its PLAY RECAP counters (ok, changed, unreachable, failed, ...)."""
    return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in re.finditer(r"^(\S+)\s+: (ok=.*)$", out, re.M)}
