# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml's action_groups: module_defaults given for group/lvsha.cluster.ipvs and
group/lvsha.cluster.cluster reach the modules of the group. An option no module has shows it:
the module refuses it by name, and it could only have been given that option through the group."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from playbook_run import run_playbook, words


@pytest.mark.parametrize("group", ["ipvs", "cluster"])
def test_module_defaults_reach_the_modules_of_the_group(tmp_path: Path, group: str) -> None:
    playbook = tmp_path / "group.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": f"Defaults through group/lvsha.cluster.{group}", "hosts": "localhost", "connection": "local",
        "gather_facts": False, "module_defaults": {f"group/lvsha.cluster.{group}": {f"lvsha_through_{group}": 1}},
        "tasks": [{"name": "Read the IPVS table", "lvsha.cluster.ipvs_info": {}}]}]))
    proc = run_playbook(playbook, "-e", "ansible_python_interpreter={{ ansible_playbook_python }}")
    out = words(proc.stdout + proc.stderr)
    assert proc.returncode == 2, out
    assert f"Unsupported parameters for (lvsha.cluster.ipvs_info) module: lvsha_through_{group}" in out, out
