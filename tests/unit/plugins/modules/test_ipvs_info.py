# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML cases for lvsha.cluster.ipvs_info (see test_ipvs_info.yaml)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict
from unittest import mock

import pytest

from ansible_collections.lvsha.cluster.plugins.modules import ipvs_info
from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.module_cases import load_cases, run_case
from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.recordings import resolve_case

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("case", load_cases(HERE / "test_ipvs_info.yaml"))
def test_ipvs_info(case: Dict[str, Any]) -> None:
    case = resolve_case(case, "ipvsadm")
    with mock.patch.object(ipvs_info, "ipvs_loaded", return_value=case.get("ipvs_loaded", True)):
        result = run_case(ipvs_info.main, case)
    if "services_count" in case:
        assert len(result["services"]) == case["services_count"]
    for key, expected in case.items():
        if key.startswith("service_"):
            assert result["services"][int(key.split("_")[1])] == expected
