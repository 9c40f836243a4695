# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fuzz over the schema: every string field of the model (and every string of a list), and
every string option of the roles, with each hostile ending of the catalogue (test_bad_input.ENDINGS)
appended to a valid value, must be refused by the model, naming the host and the variable.
A refused value never reaches a file (render.yml and site.yml stop at the model check:
test_bad_input.test_render_writes_nothing_of_the_attacks). A few fields are free text by design;
for them only the endings that break a line must be refused, and their writers treat the rest
as data."""
from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping, Tuple

import pytest

from ansible_collections.lvsha.cluster.plugins.filter.cluster import cluster_model_errors
from ansible_collections.lvsha.cluster.plugins.plugin_utils import _role_variables, _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import ROLE_ORDER, build_plan
from model_inventory import combined
from test_bad_input import ENDINGS, EXAMPLES, LINE_BREAKS, apply

# Fields the examples leave out, with a valid value (set on the hosts that carry the variable).
SAMPLES = {
    "lvsha_cluster.preferred": "lb1", "lvsha_cluster.resources[0]": "Delay::2",
    "lvsha_lvs_vips[0].interface": "eth1", "lvsha_lvs_vips[0].segment": "public", "lvsha_lvs_services[0].segment": "public",
    "lvsha_lvs_services[0].persistence_netmask": "255.255.255.0", "lvsha_lvs_services[0].sorry_server.host": "client",
    "lvsha_storage_vip.interface": "eth1", "lvsha_mirror_vip.interface": "eth1",
    "lvsha_drbd_resources[0].meta_disk": "internal", "lvsha_drbd_resources[0].nodes[0]": "nas1",
    "lvsha_mirror_modules[0].uid": "root", "lvsha_mirror_modules[0].gid": "root",
    "lvsha_mirror_modules[0].hosts_allow[0]": "198.51.100.41", "lvsha_mirror_modules[0].auth_users[0]": "backup",
    "lvsha_mirror_modules[0].excludes[0]": "*.tmp", "lvsha_mirror_host_files[0]": "/etc/hostname",
    "lvsha_mirror_notify_mail": "ops@example.com", "lvsha_mirror_probe.path": "/index.html",
    "lvsha_lvs_services[0].check.body": "lvsha",
}
# Fields of a kind of check the examples do not use: the whole check, of that kind.
SAMPLE_CHECKS = {
    "lvsha_lvs_services[0].check.query": {"type": "dns", "query": "www.example.com"},
    "lvsha_lvs_services[0].check.command": {"type": "command", "command": "my-check.monitor -x 5"},
}
# Lists of mappings the examples leave out: a valid item, set on the LVS directors with the
# field attacked.
SAMPLE_ITEMS = {
    "lvsha_lvs_watches[0]": {"name": "mail1", "address": "192.0.2.25", "check": {"type": "smtp", "port": 25}},
}
# Free text by design, and why the rest of an ending is harmless there.
FREE_TEXT = {
    "lvsha_mirror_modules[0].comment": "rsyncd.conf's comment, one line of text",
    "lvsha_mirror_excludes[0]": "a pattern of an exclude file, which rsync reads as data",
    "lvsha_mirror_modules[0].excludes[0]": "a pattern of an exclude file, which rsync reads as data",
    "lvsha_mirror_host_files[0]": "a pattern of an exclude file, which rsync reads as data",
    "lvsha_mirror_notify_command": "a shell command by design (the operator's hook), kept in mirror.json as data",
}
# The endings that break a line (a blank inside free text is text).
BREAKS = tuple(ending for ending in LINE_BREAKS if ending != "blank")
# Role options and model fields whose grammar has blanks between words: an alert, or a
# monitor, and its arguments.
WORDS = ("mon_extra_alerts", "lvsha_lvs_services[0].check.command")
# Role options that take any printable text: the secrets, written only into their own files.
SECRET_OPTIONS = ("heartbeat_auth_key", "drbd_shared_secret", "rsync_mirror_pull_password")


def string_fields(path: str, spec: Mapping[str, Any]) -> Iterator[str]:
    """The paths of the string fields under ``path``, lists at their first item."""
    kind = spec.get("type", "str")
    if kind == "dict":
        for name, sub in (spec.get("options") or {}).items():
            yield from string_fields(f"{path}.{name}", sub)
    elif kind == "list" and spec.get("options"):
        yield from string_fields(f"{path}[0]", dict(spec, type="dict"))
    elif kind == "list" and spec.get("elements", "str") == "str":
        yield f"{path}[0]"
    elif kind in ("str", "raw"):
        yield path


HOSTVARS, GROUPS = combined(*EXAMPLES)


def example_value(path: str) -> Any:
    node: Any = next((HOSTVARS[h] for h in GROUPS["all"] if path.split(".")[0].split("[")[0] in HOSTVARS[h]), None)
    for step in path.replace("[", ".[").split("."):
        if node is None:
            return None
        if step.startswith("["):
            index = int(step[1:-1])
            node = node[index] if isinstance(node, list) and len(node) > index else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
    return node


MODEL_FIELDS = [path for name, spec in _schema.schema().items() if not spec.get("secret") for path in string_fields(name, spec)]


def test_every_string_field_has_a_value_to_attack() -> None:
    missing = [path for path in MODEL_FIELDS
               if example_value(path) is None and path not in SAMPLES and path not in SAMPLE_CHECKS
               and path.rpartition(".")[0] not in SAMPLE_ITEMS]
    assert missing == [], f"give these a valid value in SAMPLES: {missing}"


def model_cases() -> Iterator[Any]:
    for path in MODEL_FIELDS:
        endings = BREAKS if path in FREE_TEXT else tuple(e for e in ENDINGS if not (path in WORDS and e == "blank"))
        for ending in endings:
            yield pytest.param(path, ending, id=f"{path}-{ending}")


def edited(path: str, ending: str) -> Tuple[Dict[str, Any], str]:
    """The set edit of the catalogue that appends ``ending`` to the field at ``path``."""
    head, _dot, field = path.rpartition(".")
    if path in SAMPLE_CHECKS:
        check = dict(SAMPLE_CHECKS[path], **{field: SAMPLE_CHECKS[path][field] + ENDINGS[ending]})
        return {"all": {head: check}}, path
    if head in SAMPLE_ITEMS:
        item = dict(SAMPLE_ITEMS[head], **{field: str(SAMPLE_ITEMS[head][field]) + ENDINGS[ending]})
        return {"directors": {head.rpartition("[")[0]: [item]}}, path
    value = example_value(path)
    base = str(value if value is not None else SAMPLES[path])
    parent, _sep, last = path.rpartition("[")
    if last == "0]" and "." not in last and example_value(parent) in (None, []):
        return {"all": {parent: [base + ENDINGS[ending]]}}, parent  # a list the examples leave out
    head, dot, field = path.rpartition(".")
    if dot and "[" not in field and example_value(head) is None:
        return {"all": {head: {field: base + ENDINGS[ending]}}}, path  # a mapping the examples leave out
    return {"all": {path: base + ENDINGS[ending]}}, path


@pytest.mark.parametrize("path, ending", list(model_cases()))
def test_the_model_refuses_a_hostile_ending_in_every_string_field(path: str, ending: str) -> None:
    edit, edited_path = edited(path, ending)
    hostvars, groups = apply({"id": "fuzz", "set": edit})
    variable = edited_path.split(".")[0].split("[")[0]
    errors = cluster_model_errors(hostvars, groups)
    assert any(f": {variable}" in error.split(" = ")[0] for error in errors), (path, ENDINGS[ending], errors)


# ------------------------------------------------------------------ the roles' options

PLAN = build_plan(HOSTVARS, GROUPS)["hosts"]


def role_cases() -> Iterator[Any]:
    for role in ROLE_ORDER + _role_variables.IMPORTED_ROLES:
        for name, spec in sorted(_role_variables.role_options(role).items()):
            if spec.get("type", "str") not in ("str", "raw", "list") or spec.get("elements", "str") not in ("str", "raw"):
                continue
            endings = LINE_BREAKS if name in SECRET_OPTIONS else tuple(e for e in ENDINGS if not (name in WORDS and e == "blank"))
            for ending in endings:
                yield pytest.param(role, name, ending, id=f"{name}-{ending}")


@pytest.mark.parametrize("role, name, ending", list(role_cases()))
def test_the_model_refuses_a_hostile_ending_in_every_string_option_of_a_role(role: str, name: str, ending: str) -> None:
    # An imported role (debian_packages) runs on every host that has a role of the plan.
    host = next(h for h, section in PLAN.items() if role in section["roles"] or (role in _role_variables.IMPORTED_ROLES and section["roles"]))
    spec = _role_variables.role_options(role)[name]
    default = _role_variables.role_defaults(role).get(name)
    base = "0123456789abcdef0123" if name in SECRET_OPTIONS else default
    if spec.get("type") == "list":
        base = [v for v in (default or []) if "{{" not in str(v)] or ["eth1" if "interfaces" in name else "public"]
        value: Any = [str(base[0]) + ENDINGS[ending]]
    else:
        value = str(base or "192.0.2.1") + ENDINGS[ending]
    hostvars, groups = apply({"id": "fuzz", "set": {host: {name: value}}})
    errors = cluster_model_errors(hostvars, groups)
    assert any(error.startswith(f"host {host}: {name}") for error in errors), (name, value, errors)
