# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole-inventory check of module_utils/_cluster_model.py: the three example inventories
together are one sound cluster; each rule across the parts is broken once."""
from __future__ import annotations

from typing import Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils._cluster_model import check_cluster_model
from model_inventory import assert_reported, combined

ALL = ("example-lvs", "example-storage", "example-mirror")


@pytest.mark.parametrize("names", [ALL, *((name,) for name in ALL)], ids=["all", "lvs", "storage", "mirror"])
def test_the_examples_are_sound(names: Tuple[str, ...]) -> None:
    assert check_cluster_model(*combined(*names)) == []


def test_every_part_is_checked_in_one_run() -> None:
    hostvars, groups = combined(*ALL)
    hostvars["lb1"]["lvsha_lvs_vips"][0]["prefix"] = 33
    hostvars["nas1"]["lvsha_storage_vip"]["prefix"] = 33
    hostvars["mr1"]["lvsha_mirror_interval"] = 1
    errors = check_cluster_model(hostvars, groups)
    assert_reported(errors, "lb1", "lvsha_lvs_vips[0].prefix", 33, "must be 1..32")
    assert_reported(errors, "nas1", "lvsha_storage_vip.prefix", 33, "must be 1..32")
    assert_reported(errors, "mr1", "lvsha_mirror_interval", 1, "must be 5..86400")


def test_a_floating_address_shared_by_two_pairs() -> None:
    hostvars, groups = combined(*ALL)
    for host in groups["mirrors"]:
        hostvars[host]["lvsha_mirror_vip"] = {"address": "192.0.2.60", "prefix": 24}
    errors = check_cluster_model(hostvars, groups)
    assert_reported(errors, "mr1", "lvsha_mirror_vip.address", "192.0.2.60",
                    "is already the floating address lvsha_storage_vip.address of nas1")


def test_a_floating_address_that_is_a_hosts_own() -> None:
    hostvars, groups = combined(*ALL)
    hostvars["web2"]["lvsha_public_address"] = "192.0.2.70"
    errors = check_cluster_model(hostvars, groups)
    assert_reported(errors, "web2", "lvsha_public_address", "192.0.2.70",
                    "is the floating address lvsha_mirror_vip.address of mr1")


def test_a_host_in_two_heartbeat_pairs() -> None:
    hostvars, groups = combined(*ALL)
    groups["mirrors"] = ["mr1", "nas2"]
    hostvars["nas2"].update(hostvars["mr2"] | {k: v for k, v in hostvars["nas2"].items() if k.endswith("_address")})
    errors = check_cluster_model(hostvars, groups)
    assert_reported(errors, "nas2", "groups", ["storage", "mirrors"], "a host runs one heartbeat pair")


def test_an_inventory_without_a_cluster() -> None:
    errors = check_cluster_model({"localhost": {}}, {"all": ["localhost"], "ungrouped": ["localhost"], "web": []})
    assert_reported(errors, "localhost", "groups", ["web"], "there is no cluster to check")
