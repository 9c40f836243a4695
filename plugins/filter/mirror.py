# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the mirror pair model; the logic lives in module_utils/_mirror_model.py."""
from __future__ import annotations

from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.lvsha.cluster.plugins.module_utils._lvs_model import ModelError, model_variables
from ansible_collections.lvsha.cluster.plugins.module_utils._mirror_model import check_mirror_model, mirror_plan


def mirror_plan_filter(hostvars: Any, host: str, groups: Dict[str, List[str]]) -> Dict[str, Any]:
    try:
        return mirror_plan(model_variables(hostvars), host, groups)
    except ModelError as exc:
        raise AnsibleFilterError("the mirror pair model is invalid:\n  " + "\n  ".join(exc.errors)) from None


def mirror_model_errors(hostvars: Any, host: str, groups: Dict[str, List[str]]) -> List[str]:
    return check_mirror_model(model_variables(hostvars), groups, host)


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"mirror_plan": mirror_plan_filter, "mirror_model_errors": mirror_model_errors}
