# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LVS filters (plugins/filter/lvs.py) on the example inventory (inventories/example-lvs/)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.lvsha.cluster.plugins.filter.lvs import (
    FilterModule,
    lvs_ipvs_services,
    lvs_model_errors,
    lvs_plan,
)
from ansible_collections.lvsha.cluster.plugins.module_utils._ipvs import desired_from_params
from ansible_collections.lvsha.cluster.plugins.module_utils._lvs_model import host_plan

EXAMPLE = Path(__file__).resolve().parents[4] / "inventories" / "example-lvs"


def example() -> Tuple[Dict[str, Dict[str, Any]], Dict[str, List[str]]]:
    """hostvars and groups of the example inventory (all.yml < group files < host variables)."""
    groups: Dict[str, List[str]] = {}
    own: Dict[str, Dict[str, Any]] = {}
    for group, node in yaml.safe_load((EXAMPLE / "hosts.yml").read_text())["all"]["children"].items():
        for host, variables in node["hosts"].items():
            groups.setdefault(group, []).append(host)
            own.setdefault(host, {}).update(variables or {})
    group_vars = {path.stem: yaml.safe_load(path.read_text()) or {} for path in (EXAMPLE / "group_vars").glob("*.yml")}
    hostvars = {}
    for host in own:
        merged = copy.deepcopy(group_vars["all"])
        for group in sorted(g for g, members in groups.items() if host in members):
            merged.update(copy.deepcopy(group_vars.get(group, {})))
        merged.update(own[host])
        hostvars[host] = merged
    groups["all"] = list(own)
    return hostvars, groups


class LazyHostVars:
    """Iterates host names and templates on access, like Ansible's HostVars (not a dict)."""

    def __init__(self, data: Dict[str, Dict[str, Any]]) -> None:
        self._data = data

    def __iter__(self) -> Any:
        return iter(self._data)

    def __getitem__(self, host: str) -> Dict[str, Any]:
        return self._data[host]


@pytest.fixture
def health() -> List[Dict[str, Any]]:
    hostvars, groups = example()
    return host_plan(hostvars, "lb1", groups)["health"]


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


# ------------------------------------------------------------------ lvs_plan, lvs_model_errors


def test_lvs_plan_takes_ansible_hostvars() -> None:
    hostvars, groups = example()
    assert lvs_plan(LazyHostVars(hostvars), "lb2", groups) == host_plan(hostvars, "lb2", groups)
    assert lvs_model_errors(LazyHostVars(hostvars), "lb1", groups) == []


def test_lvs_plan_error_lists_every_error() -> None:
    hostvars, groups = example()
    for variables in hostvars.values():
        variables["lvsha_lvs_services"][0]["port"] = 0
        variables["lvsha_lvs_services"][0]["scheduler"] = "fifo"
    hostvars["web2"]["lvsha_public_address"] = "192.0.3.22"
    errors = lvs_model_errors(LazyHostVars(hostvars), "lb1", groups)
    assert len(errors) == 3
    with pytest.raises(AnsibleFilterError) as caught:
        lvs_plan(LazyHostVars(hostvars), "lb1", groups)
    message = caught.value.message
    assert message == "the LVS cluster model is invalid:\n  " + "\n  ".join(errors)
    assert "host lb1: lvsha_lvs_services[0].port = 0: must be 1..65535" in message
    assert "host lb1: lvsha_lvs_services[0].scheduler = 'fifo': ipvsadm knows" in message
    assert "host lb1: lvsha_lvs_services[0].realservers[1].host = 'web2': direct routing needs" in message


def test_filters_are_registered() -> None:
    assert FilterModule().filters() == {"lvs_plan": lvs_plan, "lvs_model_errors": lvs_model_errors,
                                        "lvs_ipvs_services": lvs_ipvs_services}
