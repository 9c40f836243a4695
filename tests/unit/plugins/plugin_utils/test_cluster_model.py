# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole-inventory check of plugin_utils/_cluster_plan.py: the three example inventories
together are one sound cluster plan; each rule across the parts is broken once."""
from __future__ import annotations

from typing import Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from model_inventory import assert_reported, combined

ALL = ("example-lvs", "example-storage", "example-mirror")


@pytest.mark.parametrize("names", [ALL, *((name,) for name in ALL)], ids=["all", "lvs", "storage", "mirror"])
def test_the_examples_are_sound(names: Tuple[str, ...]) -> None:
    assert check(*combined(*names))[0] == []


def test_the_examples_together_plan_three_clusters() -> None:
    plan = build_plan(*combined(*ALL))
    assert plan["clusters"] == {
        "web": {"kind": "lvs", "nodes": ["lb1", "lb2"], "preferred": "lb1"},
        "nas": {"kind": "storage", "nodes": ["nas1", "nas2"], "preferred": "nas1"},
        "mirror": {"kind": "mirror", "nodes": ["mr1", "mr2"], "preferred": "mr1"},
    }


def test_every_part_is_checked_in_one_run() -> None:
    hostvars, groups = combined(*ALL)
    hostvars["lb1"]["lvsha_lvs_vips"][0]["prefix"] = 33
    hostvars["nas1"]["lvsha_storage_vip"]["prefix"] = 33
    hostvars["mr1"]["lvsha_mirror_interval"] = 1
    errors = check(hostvars, groups)[0]
    assert_reported(errors, "lb1", "lvsha_lvs_vips[0].prefix", 33, "must be 1..32")
    assert_reported(errors, "nas1", "lvsha_storage_vip.prefix", 33, "must be 1..32")
    assert_reported(errors, "mr1", "lvsha_mirror_interval", 1, "must be 5..86400")


def test_a_floating_address_shared_by_two_pairs() -> None:
    hostvars, groups = combined(*ALL)
    for host in groups["mirrors"]:
        hostvars[host]["lvsha_mirror_vip"] = {"address": "192.0.2.60", "prefix": 24}
    errors = check(hostvars, groups)[0]
    assert_reported(errors, "mr1", "lvsha_mirror_vip.address", "192.0.2.60",
                    "is already the floating address lvsha_storage_vip.address of nas1 (cluster nas)")


def test_a_floating_address_that_is_a_hosts_own() -> None:
    hostvars, groups = combined(*ALL)
    hostvars["web2"]["lvsha_public_address"] = "192.0.2.70"
    errors = check(hostvars, groups)[0]
    assert_reported(errors, "web2", "lvsha_public_address", "192.0.2.70",
                    "is the floating address lvsha_mirror_vip.address of mr1 (cluster mirror)")


def test_a_host_in_two_heartbeat_pairs() -> None:
    # nas2 in the groups of both pairs: it carries one lvsha_cluster (Ansible merges the groups'
    # variables into one value), the mirror's here, so pair nas is left with one node.
    hostvars, groups = combined(*ALL)
    groups["mirrors"] = ["mr1", "nas2"]
    del hostvars["mr2"]["lvsha_cluster"]
    hostvars["nas2"].update(hostvars["mr1"] | {k: v for k, v in hostvars["nas2"].items() if k.endswith("_address")})
    errors = check(hostvars, groups)[0]
    assert_reported(errors, "nas1", "lvsha_cluster.name", "nas",
                    "is declared on 1 host(s) (nas1); a cluster is one heartbeat pair")


def test_an_inventory_without_a_cluster() -> None:
    errors = check({"localhost": {}}, {"all": ["localhost"], "ungrouped": ["localhost"], "web": []})[0]
    assert_reported(errors, "localhost", "lvsha_cluster", None, "is set on no host")
    assert errors[0].endswith("there is no cluster to check")
