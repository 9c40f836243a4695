# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the cluster plan; the model lives in plugin_utils/_cluster_plan.py and the
check of the roles' own variables in plugin_utils/_role_variables.py."""
from __future__ import annotations

from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import ModelError, model_variables
from ansible_collections.lvsha.cluster.plugins.plugin_utils._role_variables import role_variable_errors


def cluster_model_errors(hostvars: Any, groups: Dict[str, List[str]]) -> List[str]:
    errors, found = check(model_variables(hostvars), groups)
    return errors + role_variable_errors(hostvars, found["roles"], found["pairs"])


def cluster_plan(hostvars: Any, groups: Dict[str, List[str]]) -> Dict[str, Any]:
    """The plan; refused with every error cluster_model_errors finds, so that a role applied on
    its own refuses what validate.yml refuses."""
    errors = cluster_model_errors(hostvars, groups)
    try:
        if errors:
            raise ModelError(errors)
        return build_plan(model_variables(hostvars), groups)
    except ModelError as exc:
        raise AnsibleFilterError("the cluster model is invalid:\n  " + "\n  ".join(exc.errors)) from None


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"cluster_plan": cluster_plan, "cluster_model_errors": cluster_model_errors}
