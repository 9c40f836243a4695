# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' "Choose the shared ..." tasks, as the roles write them, run by ansible-playbook on
the controller for a pair of which one node was not read (unreachable, or left out with
--limit): the secret in use on the node that was read is kept, never replaced by a new one
(which would lock the other node out when it comes back)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from playbook_run import REPO

# role: (its task, the plan it reads, the reading of node "a", the fact it sets, the secret in use)
CASES = {
    "heartbeat": ("Choose the shared authentication key", {"heartbeat__plan": {"nodes": [{"host": "b"}, {"host": "a"}]}},
                  {"heartbeat__node": {"stdout_lines": ["a", "auth 1", "1 sha1 in-use-heartbeat-key"]}},
                  "heartbeat__key", "in-use-heartbeat-key"),
    "drbd": ("Choose the shared secret", {"drbd__plan": {"nodes": ["b", "a"]}},
             {"drbd__node": {"stdout_lines": ["node a", "secret in-use-drbd-secret"]}}, "drbd__secret", "in-use-drbd-secret"),
    "rsync_mirror": ("Choose the shared pull password", {"rsync_mirror__plan": {"nodes": ["b", "a"]}},
                     {"rsync_mirror__in_use": {"stdout": "in-use-pull-password"}}, "rsync_mirror__password",
                     "in-use-pull-password"),
}


def role_task(role: str, name: str) -> dict:
    tasks = yaml.safe_load((REPO / "roles" / role / "tasks" / "main.yml").read_text())
    return next(task for task in tasks if task.get("name") == name)


def test_the_secret_in_use_is_kept_when_the_peer_was_not_read(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"a": {"ansible_connection": "local"},
                                                           "b": {"ansible_connection": "local"}}}}))
    tasks = []
    for role, (name, plan, reading, fact, _in_use) in CASES.items():
        chosen = dict(role_task(role, name), vars=plan)
        chosen.pop("no_log", None)
        tasks += [{"name": f"{role}: node a's reading", "ansible.builtin.set_fact": reading}, chosen,
                  {"name": f"{role}: show", "ansible.builtin.debug": {"msg": f"{role}={{{{ {fact} }}}}"}}]
    playbook = tmp_path / "choose.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "a", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(playbook)], capture_output=True, text=True,
                          check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for role, (*_rest, in_use) in CASES.items():
        assert f"msg: {role}={in_use}\n" in proc.stdout, proc.stdout
