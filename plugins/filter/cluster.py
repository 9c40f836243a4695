# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the cluster plan; the model lives in plugin_utils/_cluster_plan.py and the
check of the roles' own variables in plugin_utils/_role_variables.py."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Tuple

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import ROLE_ORDER, check, plan_of
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import model_variables
from ansible_collections.lvsha.cluster.plugins.plugin_utils._role_variables import IMPORTED_ROLES, role_variable_errors


def _assess(hostvars: Any, groups: Any, planned: bool = True) -> Tuple[List[str], List[str], Optional[Dict[str, Any]]]:
    """Every error of the model and of the roles' variables, the clusters' names, and the plan
    when there is no error and ``planned``. Each host's variables are read once and each group
    listed once: Ansible's lazy hostvars and groups cost a rebuild or a templating pass on
    every lookup."""
    started = time.monotonic()
    groups = {name: list(members) for name, members in groups.items()}
    variables = model_variables(hostvars, ROLE_ORDER + IMPORTED_ROLES, groups.get("all"))
    errors, found = check(variables, groups)
    errors += role_variable_errors(variables, found["roles"], found["pairs"])
    # The plan is built even when not kept, so that validate.yml proves it can be.
    plan = None if errors else plan_of(found["state"])
    Display().vv(f"lvsha.cluster: cluster model of {len(variables)} hosts checked"
                 f"{'' if errors else ' and planned'} in {time.monotonic() - started:.2f} s")
    return errors, list(found["state"]["clusters"]), plan if planned else None


def cluster_model(hostvars: Any, groups: Any, plan: bool = True) -> Dict[str, Any]:
    """``errors`` (every one), ``clusters`` (their names) and ``plan`` (None when there are
    errors, or when not asked for: a large plan costs more to keep as a fact than to build)."""
    errors, clusters, built = _assess(hostvars, groups, plan)
    return {"errors": errors, "clusters": clusters, "plan": built}


def cluster_model_errors(hostvars: Any, groups: Any) -> List[str]:
    return _assess(hostvars, groups, planned=False)[0]


def cluster_plan(hostvars: Any, groups: Any) -> Dict[str, Any]:
    """The plan; refused with every error cluster_model_errors finds, so that a role applied on
    its own refuses what validate.yml refuses."""
    errors, _clusters, plan = _assess(hostvars, groups)
    if plan is None:
        raise AnsibleFilterError("the cluster model is invalid:\n  " + "\n  ".join(errors))
    return plan


def role_hosts(plan: Dict[str, Any], kinds: List[str]) -> Dict[str, List[str]]:
    """Each collection role -> the hosts that run it for clusters of ``kinds``, in inventory
    order (the hosts of site.yml's role plays)."""
    hosts: Dict[str, List[str]] = {role: [] for role in ROLE_ORDER}
    for host, section in plan["hosts"].items():
        for role in dict.fromkeys(r for kind in kinds for r in section["roles_by_kind"].get(kind, [])):
            hosts[role].append(host)
    return hosts


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"cluster_model": cluster_model, "cluster_plan": cluster_plan, "cluster_model_errors": cluster_model_errors,
                "cluster_role_hosts": role_hosts}
