# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input stops a run before any host changes. The catalogue (tests/unit/catalogue/) runs
each role alone and each deploy playbook on its cases' bad input; what it cannot express is a
role's own option that its argument spec refuses: the spec is checked on each host before the
plan, so the message is Ansible's, not the model's.

The example hosts do not resolve here (see playbook_run), so a role that tried to reach one
before its check would show the host unreachable instead of failed.
"""
from __future__ import annotations

import json
from pathlib import Path

from model_inventory import Inventory
from playbook_run import recap, run_playbook


def test_a_role_refuses_its_own_option_in_its_argument_spec_before_the_plan(tmp_path: Path) -> None:
    play = tmp_path / "play.yml"
    play.write_text("- hosts: storage\n  gather_facts: false\n  roles:\n    - role: lvsha.cluster.heartbeat\n")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"heartbeat_auth_method": "crc"}))
    proc = run_playbook(play, "-e", f"@{bad}", inventories=("storage",))
    assert proc.returncode != 0
    assert "heartbeat_auth_method must be one of: sha1, md5, got: crc" in proc.stdout, proc.stdout[-3000:]
    counters = recap(proc.stdout)
    members = Inventory("example-storage").groups["storage"]
    assert set(counters) == set(members), proc.stdout[-3000:]
    # Each node fails its own validation; nothing else ran, the plan included.
    for host in members:
        assert (counters[host]["ok"], counters[host]["changed"], counters[host]["unreachable"], counters[host]["failed"]) \
            == (0, 0, 0, 1), counters
    assert "Plan the cluster" not in proc.stdout, proc.stdout[-3000:]
