# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input catalogue (bad_input.yml) run through validate.yml's check: each case is
applied to the three example inventories together and must be reported with its message.
The filter is the one validate.yml calls; the roles plan with the same model code."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from ansible_collections.lvsha.cluster.plugins.filter.cluster import cluster_model_errors
from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import ROLE_ORDER
from model_inventory import combined

CASES: List[Dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "bad_input.yml").read_text())
EXAMPLES = ("example-lvs", "example-storage", "example-mirror")
STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def steps(path: str) -> List[Any]:
    return [name if name else int(index) for name, index in STEP.findall(path)]


def assign(variables: Dict[str, Any], path: str, value: Any) -> None:
    *parents, last = steps(path)
    node: Any = variables
    for step in parents:
        node = node[step]
    node[last] = copy.deepcopy(value)


def targets(groups: Dict[str, List[str]], hostvars: Dict[str, Dict[str, Any]], name: str, path: str) -> List[str]:
    """The hosts a fragment sets: a group's members that carry the variable (a nested path),
    or one host."""
    if name not in groups:
        return [name]
    root = steps(path)[0]
    return [host for host in groups[name] if len(steps(path)) == 1 or root in hostvars.get(host, {})]


def apply(case: Dict[str, Any]):
    hostvars, groups = combined(*EXAMPLES)
    for group, members in (case.get("groups") or {}).items():
        groups[group] = list(members)
        for host in members:
            hostvars.setdefault(host, {})
            if host not in groups["all"]:
                groups["all"].append(host)
    for name, variables in (case.get("set") or {}).items():
        for path, value in variables.items():
            chosen = targets(groups, hostvars, name, path)
            assert chosen, f"{case['id']}: {name} has no host with {path}"
            for host in chosen:
                assign(hostvars.setdefault(host, {}), path, value)
    for name, paths in (case.get("unset") or {}).items():
        for path in paths:
            for host in targets(groups, hostvars, name, path):
                hostvars[host].pop(path)
    return hostvars, groups


def test_the_catalogue_covers_every_role_and_its_ids_are_unique() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(CASES) >= 40
    roles = set(ROLE_ORDER)
    per_role = {role: sum(case["role"] == role for case in CASES) for role in roles}
    assert min(per_role.values()) >= 5, per_role
    assert {case["role"] for case in CASES} == roles


def test_the_examples_are_sound() -> None:
    assert cluster_model_errors(*combined(*EXAMPLES)) == []


@pytest.mark.parametrize("case", [pytest.param(case, id=case["id"]) for case in CASES])
def test_bad_input_is_reported(case: Dict[str, Any]) -> None:
    errors = cluster_model_errors(*apply(case))
    assert [error for error in errors if case["expect"] in error], f"{case['expect']!r} not in {errors}"
