"""Check mode on the converged lab predicts no change on any host."""
from __future__ import annotations

import os
import re
import subprocess

import yaml


def scenario_converge(scenario: str) -> list:
    """The inventories and other arguments of the scenario's converge, and its playbook."""
    with open(os.path.join(scenario, "molecule.yml"), encoding="utf-8") as handle:
        provisioner = yaml.safe_load(handle)["provisioner"]
    playbook = os.path.join(scenario, provisioner.get("playbooks", {}).get("converge", "converge.yml"))
    return [os.path.expandvars(arg) for arg in provisioner.get("ansible_args", [])] + [playbook]


def test_converge_in_check_mode_reports_no_change():
    scenario = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
    proc = subprocess.run(
        ["ansible-playbook", "--check", "--diff", *scenario_converge(scenario)],
        capture_output=True, text=True, check=False, timeout=900,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"},
    )
    print(proc.stdout[-6000:], proc.stderr[-2000:])
    assert proc.returncode == 0
    recap = re.findall(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)", proc.stdout, re.MULTILINE)
    assert recap, "no PLAY RECAP in the output"
    assert {host: int(changed) for host, _ok, changed in recap} == {host: 0 for host, _ok, _c in recap}
