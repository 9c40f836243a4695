# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole-inventory model check; the logic lives in module_utils/_cluster_model.py."""
from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.lvsha.cluster.plugins.module_utils._cluster_model import check_cluster_model
from ansible_collections.lvsha.cluster.plugins.module_utils._lvs_model import model_variables


def cluster_model_errors(hostvars: Any, groups: Dict[str, List[str]]) -> List[str]:
    return check_cluster_model(model_variables(hostvars), groups)


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"cluster_model_errors": cluster_model_errors}
