# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model's schema (plugins/plugin_utils/model_schema.yml): consistent with itself, with
the code that shares its lists, and with docs/model.md, which is generated from it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import SCHEDULERS
from ansible_collections.lvsha.cluster.plugins.plugin_utils import _cluster_plan, _role_variables, _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import Findings

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


# ------------------------------------------------------------------ the roles' own variables

ROLE_OPTIONS = {(role, name): spec for role in _cluster_plan.ROLE_ORDER + _role_variables.IMPORTED_ROLES
                for name, spec in _role_variables.role_options(role).items()}


@pytest.mark.parametrize("role, name", sorted(ROLE_OPTIONS), ids=[name for _role, name in sorted(ROLE_OPTIONS)])
def test_every_role_variable_is_typed_and_bounded(role: str, name: str) -> None:
    """A number has a range, a string (or each string of a list) a grammar or choices, here or in
    its argument spec: nothing an inventory sets reaches a file unbounded."""
    spec = ROLE_OPTIONS[role, name]
    bounds = _schema.role_bounds().get(name, {})
    kind = spec.get("elements") if spec.get("type") == "list" else spec.get("type", "str")
    if kind == "bool":
        assert not bounds, f"{name}: a boolean needs no bound"
    elif kind == "int":
        assert "range" in bounds or "choices" in spec, f"{name}: an integer without a range or choices"
    else:
        assert "choices" in spec or {"grammar", "choices", "rule"} & set(bounds), f"{name}: a string without a grammar"
    assert not bounds or bounds["role"] == role, name


def test_every_role_bound_names_an_option_of_its_role_and_holds_for_its_default() -> None:
    for name, bounds in _schema.role_bounds().items():
        assert (bounds["role"], name) in ROLE_OPTIONS, f"{name} is not an option of role {bounds['role']}"
        assert set(bounds) - {"role"} in ({"range"}, {"grammar"}, {"choices"}, {"rule"}), name
        assert "grammar" not in bounds or bounds["grammar"] in _schema.GRAMMARS, name
        assert "rule" not in bounds or name in _role_variables.RULES, name
        default = _role_variables.role_defaults(bounds["role"]).get(name)
        if default is None or "{{" in str(default):
            continue
        find = Findings()
        _role_variables._bounded(find, "h", name, default, ROLE_OPTIONS[bounds["role"], name], bounds["role"])
        assert find.errors == [], name


# Secrets are written only into files of their own (authkeys, .res, rsync's secrets), never into
# a shell: any printable character but a blank is theirs.
SECRET_GRAMMARS = ("heartbeat_key", "drbd_secret", "rsync_password")


@pytest.mark.parametrize("grammar", sorted(_schema.GRAMMARS))
def test_no_grammar_takes_a_line_break_or_a_blank_and_none_but_a_secret_a_shell_word(grammar: str) -> None:
    pattern = _schema.GRAMMARS[grammar][0]
    good = {"interface": "eth1", "duration": "500ms", "user_name": "pull", "mon_alert": "mail.alert ops@example.com",
            "ipv4": "192.0.2.1", "log_file_or_empty": "/var/log/ha-log"}.get(grammar, "k3y-0123456789abcdef")
    assert pattern.fullmatch(good), grammar
    payloads = ["\n", "\nx", "\r", " ", "\t", "\x00"]
    if grammar not in SECRET_GRAMMARS:
        payloads += ["$(id)", "`id`", ";id", "&", "|", '"', "'", "\\", "#", "*", "<", ">", "!"]
    for payload in payloads:
        assert not pattern.fullmatch(good + payload), (grammar, payload)
        assert not pattern.fullmatch(payload + good), (grammar, payload)
