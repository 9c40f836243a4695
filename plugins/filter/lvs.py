# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the LVS cluster model; the logic lives in module_utils/_lvs_model.py."""
from __future__ import annotations

from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.lvsha.cluster.plugins.module_utils._ipvs import with_health
from ansible_collections.lvsha.cluster.plugins.module_utils._lvs_model import ModelError, check_model, host_plan, model_variables


def lvs_plan(hostvars: Any, host: str, groups: Dict[str, List[str]]) -> Dict[str, Any]:
    try:
        return host_plan(model_variables(hostvars), host, groups)
    except ModelError as exc:
        raise AnsibleFilterError("the LVS cluster model is invalid:\n  " + "\n  ".join(exc.errors)) from None


def lvs_model_errors(hostvars: Any, host: str, groups: Dict[str, List[str]]) -> List[str]:
    return check_model(model_variables(hostvars), groups, host)


def lvs_ipvs_services(health: List[Dict[str, Any]], down: Dict[str, List[str]], present: bool = True) -> List[Dict[str, Any]]:
    return [with_health(entry, down or {}, "present" if present else "absent") for entry in health]


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"lvs_plan": lvs_plan, "lvs_model_errors": lvs_model_errors, "lvs_ipvs_services": lvs_ipvs_services}
