# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The director's IPVS services with mon's health verdicts applied."""
from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import with_health


def lvs_ipvs_services(health: List[Dict[str, Any]], down: Dict[str, List[str]], present: bool = True) -> List[Dict[str, Any]]:
    return [with_health(entry, down or {}, "present" if present else "absent") for entry in health]


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"lvs_ipvs_services": lvs_ipvs_services}
