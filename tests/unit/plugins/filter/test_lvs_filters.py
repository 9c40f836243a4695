# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LVS filter (plugins/filter/lvs.py) on the example inventory (inventories/example-lvs/):
lvs_ipvs_services over the director's ``lvs.health`` in the cluster plan."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.filter.lvs import FilterModule, lvs_ipvs_services
from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import desired_from_params
from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan
from model_inventory import Inventory


@pytest.fixture
def health() -> List[Dict[str, Any]]:
    inv = Inventory("example-lvs")
    return build_plan(inv.hostvars(), inv.groups)["hosts"]["lb1"]["lvs"]["health"]


def weights(service: Dict[str, Any]) -> List[Tuple[str, Any, Any]]:
    return [(rs["address"], rs["weight"], rs.get("state")) for rs in service["realservers"]]


# ------------------------------------------------------------------ lvs_ipvs_services


def test_nobody_down(health: List[Dict[str, Any]]) -> None:
    for down in ({}, None, {"www": []}):
        services = lvs_ipvs_services(health, down)
        assert services == [dict(health[0]["service"], state="present")]
        assert weights(services[0]) == [("192.0.2.21", 1, None), ("192.0.2.22", 3, None), ("192.0.2.12", 1, None)]


def test_down_host_is_drained(health: List[Dict[str, Any]]) -> None:
    before = copy.deepcopy(health)
    services = lvs_ipvs_services(health, {"www": ["web1"]})
    assert services[0]["state"] == "present"
    assert weights(services[0]) == [("192.0.2.21", 1, "drained"), ("192.0.2.22", 3, None), ("192.0.2.12", 1, None)]
    assert health == before  # the plan is not changed in place


def test_down_hosts_are_removed_when_on_failure_says_remove(health: List[Dict[str, Any]]) -> None:
    health[0]["on_failure"] = "remove"
    services = lvs_ipvs_services(health, {"www": ["web1", "lb2"]})
    assert weights(services[0]) == [("192.0.2.21", 1, "absent"), ("192.0.2.22", 3, None), ("192.0.2.12", 1, "absent")]


def test_verdicts_for_other_services_and_unknown_hosts_change_nothing(health: List[Dict[str, Any]]) -> None:
    services = lvs_ipvs_services(health, {"api": ["web1"], "www": ["web9"]})
    assert weights(services[0]) == [("192.0.2.21", 1, None), ("192.0.2.22", 3, None), ("192.0.2.12", 1, None)]


def test_not_present_makes_every_service_absent(health: List[Dict[str, Any]]) -> None:
    services = lvs_ipvs_services(health, {"www": ["web2"]}, False)
    assert services[0]["state"] == "absent"
    assert weights(services[0])[1] == ("192.0.2.22", 3, "drained")


def test_services_are_valid_ipvs_module_input(health: List[Dict[str, Any]]) -> None:
    table = desired_from_params(lvs_ipvs_services(health, {"www": ["web1"]}))
    (service,) = table.services.values()
    assert {rs.address: rs.weight for rs in service.realservers.values()} == {
        "192.0.2.21": 0, "192.0.2.22": 3, "192.0.2.12": 1}


def test_filters_are_registered() -> None:
    assert FilterModule().filters() == {"lvs_ipvs_services": lvs_ipvs_services}
