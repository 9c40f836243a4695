# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input stops a run before any host changes: the deploy playbooks refuse it on the
controller, and each role, applied on its own, refuses it in its first step (the plan from the
model, or heartbeat's argument spec), before it connects to a host.

The example hosts do not resolve here (see playbook_run), so a role that tried to reach one
before its check would show the host unreachable instead of failed.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

from model_inventory import Inventory
from playbook_run import REPO, recap, run_playbook

LVS = Inventory("example-lvs").model
STORAGE = Inventory("example-storage").model
MIRROR = Inventory("example-mirror").model


def edited(model: Dict[str, Any], name: str, edit: Callable[[Any], None]) -> Dict[str, Any]:
    value = copy.deepcopy(model[name])
    edit(value)
    return {name: value}


SCHEDULER = edited(LVS, "lvsha_lvs_services", lambda s: s[0].update(scheduler="wrrr"))
INTERVAL = edited(LVS, "lvsha_lvs_services", lambda s: s[0]["check"].update(interval=0))
WEIGHT = edited(LVS, "lvsha_lvs_services", lambda s: s[0]["realservers"][1].update(weight=65536))
DRBD_PORT = edited(STORAGE, "lvsha_drbd_resources", lambda r: r[0].update(port=70000))
EXPORT = edited(STORAGE, "lvsha_nfs_exports", lambda e: e[0]["clients"][0].update(options=["rw", "no_subtree_chek"]))
MODULE = edited(MIRROR, "lvsha_mirror_modules", lambda m: m[0].update(path="/etc/ssh"))

ROLES = [
    ("realserver", "realservers", "lvs", WEIGHT,
     "lvsha_lvs_services[0].realservers[1].weight = 65536: must be 0..65535"),
    # The argument specs carry no lvsha_* option any more: the model alone reports the scheduler.
    ("director", "directors", "lvs", SCHEDULER, "lvsha_lvs_services[0].scheduler = 'wrrr': ipvsadm knows rr, wrr, lc, wlc, "
     "lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos"),
    ("mon", "directors", "lvs", INTERVAL, "lvsha_lvs_services[0].check.interval = 0: must be 1..86400"),
    ("heartbeat", "storage", "storage", {"heartbeat_auth_method": "crc"},
     "heartbeat_auth_method must be one of: sha1, md5, got: crc"),
    ("drbd", "storage", "storage", DRBD_PORT, "lvsha_drbd_resources[0].port = 70000: must be 1..65535"),
    ("nfs", "storage", "storage", EXPORT,
     "lvsha_nfs_exports[0].clients[0].options = 'no_subtree_chek': is not an exports(5) option"),
    ("rsync_mirror", "mirrors", "mirror", MODULE, "lvsha_mirror_modules[0].path = '/etc/ssh': lies in /etc/ssh/"),
]


def bad_vars(tmp_path: Path, variables: Dict[str, Any]) -> str:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(variables))
    return f"@{path}"


@pytest.mark.parametrize("role, group, inventory, variables, message", [pytest.param(*case, id=case[0]) for case in ROLES])
def test_a_role_refuses_bad_input_in_its_first_step(tmp_path: Path, role, group, inventory, variables, message) -> None:
    play = tmp_path / "play.yml"
    play.write_text(f"- hosts: {group}\n  gather_facts: false\n  roles:\n    - role: lvsha.cluster.{role}\n")
    proc = run_playbook(play, "-e", bad_vars(tmp_path, variables), inventories=(inventory,))
    assert proc.returncode != 0
    # The model names the host that declares the bad value.
    members = Inventory(f"example-{inventory}").groups[group]
    assert [host for host in Inventory(f"example-{inventory}").groups["all"] if f"host {host}: {message}" in proc.stdout] \
        or message in proc.stdout, proc.stdout[-3000:]
    counters = recap(proc.stdout)
    assert set(counters) == set(members)
    for host in members:
        assert (counters[host]["changed"], counters[host]["unreachable"]) == (0, 0), counters
        # Nothing ran but the argument spec's validation and the failed first step.
        assert counters[host]["ok"] <= 1, counters
    # The plan is built once for the whole play (run_once): the host that built it fails, and
    # Ansible ends the play for every host; an argument spec fails on each host.
    assert [host for host in members if counters[host]["failed"] == 1], counters


@pytest.mark.parametrize("playbook, inventory, variables, message", [
    ("lvs.yml", "lvs", SCHEDULER, "host lb1: lvsha_lvs_services[0].scheduler = 'wrrr': ipvsadm knows"),
    ("storage.yml", "storage", DRBD_PORT, "host nas1: lvsha_drbd_resources[0].port = 70000: must be 1..65535"),
    ("mirror.yml", "mirror", MODULE, "host mr1: lvsha_mirror_modules[0].path = '/etc/ssh': lies in /etc/ssh/"),
])
def test_a_deploy_playbook_refuses_bad_input_on_the_controller(tmp_path: Path, playbook, inventory, variables, message) -> None:
    proc = run_playbook(REPO / "playbooks" / playbook, "-e", bad_vars(tmp_path, variables), inventories=(inventory,))
    assert proc.returncode != 0
    assert message in proc.stdout
    # site.yml's first play runs on all hosts, its check once on the controller (run_once): the
    # run stops there, before the plan, the group_by and the plays that reach the hosts.
    counters = recap(proc.stdout)
    assert counters and set(counters) <= set(Inventory(f"example-{inventory}").groups["all"]), proc.stdout[-3000:]
    for host, count in counters.items():
        assert (count["changed"], count["unreachable"], count["ok"]) == (0, 0, 0), f"{host}: {count}"
    assert proc.stdout.count("PLAY [") == 1 and "TASK [Plan the cluster]" not in proc.stdout, proc.stdout[-3000:]
