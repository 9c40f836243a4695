# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model's schema (plugins/plugin_utils/model_schema.yml): consistent with itself, with
the code that shares its lists, and with docs/model.md, which is generated from it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import SCHEDULERS
from ansible_collections.lvsha.cluster.plugins.plugin_utils import _cluster_plan, _schema

REPO = Path(__file__).resolve().parents[4]
TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict}


def walk(path: str, spec: Mapping[str, Any]) -> Iterator[Tuple[str, Mapping[str, Any]]]:
    yield path, spec
    for name, sub in (spec.get("options") or {}).items():
        yield from walk(f"{path}.{name}", sub)


FIELDS = [item for name, spec in _schema.schema().items() for item in walk(name, spec)]


def test_docs_model_md_is_generated_from_the_schema() -> None:
    assert (REPO / "docs" / "model.md").read_text() == _schema.markdown() + "\n", "run `make docs`"


@pytest.mark.parametrize("path, spec", FIELDS, ids=[path for path, _spec in FIELDS])
def test_every_field_is_described_and_its_default_is_valid(path: str, spec: Mapping[str, Any]) -> None:
    assert spec.get("description"), f"{path} has no description"
    assert spec.get("type") in TYPES or spec.get("type") == "raw", f"{path}: type {spec.get('type')!r}"
    if "default" not in spec:
        return
    value = spec["default"]
    if spec["type"] != "raw":
        assert isinstance(value, TYPES[spec["type"]]), f"{path}: default {value!r} is not a {spec['type']}"
    if "range" in spec:
        low, high = spec["range"]
        assert low <= value <= high, path
    if "choices" in spec:
        assert value in spec["choices"], path


def test_top_level_fields_have_a_scope_and_cluster_fields_a_part() -> None:
    for name, spec in _schema.schema().items():
        assert spec["scope"] in _schema.SCOPES, name
        assert (spec["scope"] == "cluster") == ("part" in spec), name


def test_the_lists_the_code_shares_agree_with_the_schema() -> None:
    assert _schema.choices("lvsha_lvs_services.scheduler") == SCHEDULERS
    assert _schema.choices("lvsha_cluster.kind") == tuple(_cluster_plan.PARTS)
    for kind, part in _cluster_plan.PARTS.items():
        assert part.SETTINGS == _schema.settings(kind) and part.SETTINGS, kind


def test_a_default_handed_out_cannot_change_the_schema() -> None:
    files = _schema.default("lvsha_mirror_host_files")
    files.append("/tmp/")
    assert "/tmp/" not in _schema.default("lvsha_mirror_host_files")


def test_an_unknown_field_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        _schema.field("lvsha_lvs_services.wieght")
