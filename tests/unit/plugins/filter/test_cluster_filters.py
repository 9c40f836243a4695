# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster filters (plugins/filter/cluster.py) on the example inventories, given hostvars
the way Ansible gives them."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Dict, Iterator

import pytest
from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable

from ansible_collections.lvsha.cluster.plugins.filter.cluster import (
    FilterModule, cluster_model, cluster_model_errors, cluster_plan, role_hosts)
from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import model_variables
from ansible_collections.lvsha.cluster.plugins.plugin_utils._role_variables import role_options
from model_inventory import Inventory, combined


class LazyVars(Mapping):
    """One host's variables, templated on access (a Mapping, like Ansible's HostVarsVars):
    reading one in ``undefined`` fails."""

    def __init__(self, data: Dict[str, Any], undefined: Dict[str, str]) -> None:
        self._data, self._undefined = data, undefined

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data) + list(self._undefined))

    def __len__(self) -> int:
        return len(self._data) + len(self._undefined)

    def __contains__(self, key: object) -> bool:
        return key in self._data or key in self._undefined

    def __getitem__(self, key: str) -> Any:
        if key in self._undefined:
            raise AnsibleUndefinedVariable(f"{self._undefined[key]!r} is undefined")
        return self._data[key]


class LazyHostVars:
    """Iterates host names and templates on access, like Ansible's HostVars (not a dict);
    ``undefined`` maps a host to the variables whose templates fail there."""

    def __init__(self, data: Dict[str, Dict[str, Any]], undefined: Dict[str, Dict[str, str]] | None = None) -> None:
        self._data, self._undefined = data, undefined or {}

    def __iter__(self) -> Any:
        return iter(self._data)

    def __getitem__(self, host: str) -> LazyVars:
        return LazyVars(self._data[host], self._undefined.get(host, {}))


@pytest.fixture
def inv() -> Inventory:
    return Inventory("example-lvs")


def test_cluster_plan_takes_ansible_hostvars(inv: Inventory) -> None:
    hostvars, groups = inv.hostvars(), inv.groups
    plan = cluster_plan(LazyHostVars(hostvars), groups)
    assert plan == build_plan(model_variables(hostvars), groups)
    assert plan == build_plan(hostvars, groups)
    assert plan["hosts"]["lb2"]["lvs"]["doubles_as_realserver"] is True
    assert cluster_model_errors(LazyHostVars(hostvars), groups) == []


def test_an_undefined_variable_unrelated_to_the_model_breaks_nothing(inv: Inventory) -> None:
    hostvars, groups = inv.hostvars(), inv.groups
    undefined = {"web1": {"app_secret": "vault_app_secret"}, "lb1": {"motd_text": "motd"}}
    lazy = LazyHostVars(hostvars, undefined)
    with pytest.raises(AnsibleUndefinedVariable):
        lazy["lb1"]["motd_text"]
    assert cluster_plan(lazy, groups) == build_plan(hostvars, groups)
    assert cluster_model_errors(lazy, groups) == []


def test_the_examples_together_take_ansible_hostvars() -> None:
    hostvars, groups = combined("example-lvs", "example-storage", "example-mirror")
    assert sorted(cluster_plan(LazyHostVars(hostvars), groups)["clusters"]) == ["mirror", "nas", "web"]
    assert cluster_model_errors(LazyHostVars(hostvars), groups) == []


def test_cluster_plan_error_lists_every_error(inv: Inventory) -> None:
    inv.services[0]["port"] = 0
    inv.services[0]["scheduler"] = "fifo"
    inv.host_vars["web2"]["lvsha_public_address"] = "192.0.2.300"
    hostvars, groups = inv.hostvars(), inv.groups
    errors = cluster_model_errors(LazyHostVars(hostvars), groups)
    assert len(errors) == 3
    assert errors == check(hostvars, groups)[0]
    with pytest.raises(AnsibleFilterError) as caught:
        cluster_plan(LazyHostVars(hostvars), groups)
    message = caught.value.message
    assert message == "the cluster model is invalid:\n  " + "\n  ".join(errors)
    assert "host lb1: lvsha_lvs_services[0].port = 0: must be 1..65535" in message
    assert "host lb1: lvsha_lvs_services[0].scheduler = 'fifo': ipvsadm knows" in message
    assert "host web2: lvsha_public_address = '192.0.2.300': must be an IPv4 address" in message


def test_cluster_model_errors_adds_the_roles_own_variables(inv: Inventory) -> None:
    # A variable of a role that the plan gives the host, against the role's argument spec: the
    # model's own check passes, the filters refuse it (so a role applied alone refuses it too).
    inv.group_vars["directors"]["heartbeat_auto_failback"] = "sometimes"
    hostvars, groups = inv.hostvars(), inv.groups
    assert check(hostvars, groups)[0] == []
    assert cluster_model_errors(LazyHostVars(hostvars), groups) == [
        "host lb1: heartbeat_auto_failback = 'sometimes': must be a bool (role heartbeat)",
        "host lb2: heartbeat_auto_failback = 'sometimes': must be a bool (role heartbeat)",
    ]
    with pytest.raises(AnsibleFilterError, match="heartbeat_auto_failback = 'sometimes': must be a bool"):
        cluster_plan(LazyHostVars(hostvars), groups)


def test_filters_are_registered() -> None:
    assert FilterModule().filters() == {"cluster_model": cluster_model, "cluster_plan": cluster_plan,
                                        "cluster_model_errors": cluster_model_errors, "cluster_role_hosts": role_hosts}


def test_the_hosts_of_each_role_for_the_kinds_asked() -> None:
    # site.yml's role plays: every role listed, in inventory order, only for the kinds selected.
    plan = cluster_plan(*combined("example-lvs", "example-storage", "example-mirror"))
    assert role_hosts(plan, ["lvs", "storage", "mirror"]) == {
        "realserver": ["lb2", "web1", "web2"], "director": ["lb1", "lb2"], "mon": ["lb1", "lb2"],
        "drbd": ["nas1", "nas2"], "nfs": ["nas1", "nas2"], "rsync_mirror": ["mr1", "mr2"],
        "heartbeat": ["lb1", "lb2", "nas1", "nas2", "mr1", "mr2"]}
    only_lvs = role_hosts(plan, ["lvs"])
    assert only_lvs["heartbeat"] == ["lb1", "lb2"] and only_lvs["drbd"] == [] and only_lvs["realserver"] == ["lb2", "web1", "web2"]
    assert all(hosts == [] for hosts in role_hosts(plan, []).values())


class CountingHostVars(LazyHostVars):
    """Counts the lookups of each host: Ansible rebuilds a host's variables on every one."""

    def __init__(self, data: Dict[str, Dict[str, Any]]) -> None:
        super().__init__(data)
        self.lookups: Counter = Counter()

    def __getitem__(self, host: str) -> LazyVars:
        self.lookups[host] += 1
        return super().__getitem__(host)


class RawHostVars(CountingHostVars):
    """Ansible's hostvars with ``raw_get`` (the variables before templating); counts each
    value templated through ``hostvars[host][key]``."""

    def __init__(self, data: Dict[str, Dict[str, Any]]) -> None:
        super().__init__(data)
        self.templated: Counter = Counter()

    def raw_get(self, host: str) -> Dict[str, Any]:
        return self._data[host]

    def __getitem__(self, host: str) -> LazyVars:
        outer = self

        class Templating(LazyVars):
            def __getitem__(self, key: str) -> Any:
                outer.templated[host, key] += 1
                return super().__getitem__(key)

        self.lookups[host] += 1
        return Templating(self._data[host], {})


def test_only_values_that_hold_a_template_are_templated(inv: Inventory) -> None:
    # A cluster-wide list set once in group_vars is the same value on every host: templating it
    # for each host made the check quadratic in the number of real servers.
    inv.host_vars["web1"]["lvsha_private_address"] = "{{ '198.51.100.21' }}"
    hostvars, groups = inv.hostvars(), inv.groups
    raw = RawHostVars(hostvars)
    model = cluster_model(raw, groups)
    assert model["errors"] == [] and model["plan"] is not None
    assert raw.templated == Counter({("web1", "lvsha_private_address"): 1})
    assert raw.lookups == Counter({"web1": 1})


def test_cluster_model_reads_each_host_once_for_the_errors_and_the_plan(inv: Inventory) -> None:
    hostvars, groups = inv.hostvars(), inv.groups
    lazy = CountingHostVars(hostvars)
    assert cluster_model(lazy, groups) == {"errors": [], "clusters": ["web"], "plan": build_plan(hostvars, groups)}
    assert lazy.lookups == Counter(dict.fromkeys(hostvars, 1))
    assert cluster_model(hostvars, groups, plan=False) == {"errors": [], "clusters": ["web"], "plan": None}
    inv.services[0]["port"] = 0
    hostvars = inv.hostvars()
    lazy = CountingHostVars(hostvars)
    model = cluster_model(lazy, groups)
    assert model == {"errors": cluster_model_errors(LazyHostVars(hostvars), groups), "clusters": ["web"], "plan": None}
    assert model["errors"] == ["host lb1: lvsha_lvs_services[0].port = 0: must be 1..65535"]
    assert lazy.lookups == Counter(dict.fromkeys(hostvars, 1))


def test_the_roles_internal_facts_are_not_taken_for_options(inv: Inventory) -> None:
    # A role sets its own facts (ROLE__NAME) on the hosts of its play; the next role's plan
    # step must not report it (ROLE_NAME is the role's option space, ROLE__NAME its own facts).
    hostvars, groups = inv.hostvars(), inv.groups
    hostvars["lb2"]["realserver__cluster"] = {"hosts": {}}
    hostvars["lb1"]["heartbeat__node"] = {"stdout": "lb1"}
    assert cluster_model_errors(LazyHostVars(hostvars), groups) == []
    hostvars["lb1"]["heartbeat_node"] = "lb1"
    assert cluster_model_errors(LazyHostVars(hostvars), groups) == [
        "host lb1: heartbeat_node = (not shown): is not an option of role heartbeat (options: "
        f"{', '.join(sorted(role_options('heartbeat')))})"]
