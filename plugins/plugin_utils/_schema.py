# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster model's schema (model_schema.yml beside this file): every field once, with its
type, range, default, choices and description. The model's rules read names, defaults,
ranges and choices from here, and docs/model.md is generated from it (:func:`markdown`).
A path names a field from its variable down, for example ``lvsha_lvs_services.check.interval``.
Controller-side only."""
from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

SCHEMA_FILE = Path(__file__).with_name("model_schema.yml")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# The grammars a string field (or each string of a list) is held to: a pattern that must match
# the whole value (fullmatch: a trailing newline is not a character of any of them) and what it
# allows, as an error message says it.
GRAMMARS: Dict[str, Tuple["re.Pattern[str]", str]] = {
    name: (re.compile(pattern), what) for name, (pattern, what) in {
        "interface": (r"[A-Za-z0-9_.-]{1,15}", "a network interface name such as eth1"),
        "duration": (r"[0-9]{1,6}(?:\.[0-9]{1,3})?(?:ms)?",
                     "a time in seconds, or in milliseconds with ms, such as 2 or 500ms"),
        "heartbeat_key": (r"[!-~]{16,256}", "16..256 printable ASCII characters without blanks"),
        "drbd_secret": (r"[!#-\[\]-~]{8,64}",
                        "8..64 printable ASCII characters without blanks, quotes or backslashes"),
        "rsync_password": (r"[!-~]{8,128}", "8..128 printable ASCII characters without blanks"),
        "user_name": (r"[a-z_][a-z0-9_-]{0,31}", "a user name: a lower-case letter or _, then up to 31 of a-z, 0-9, _ and -"),
        "mon_alert": (r"[A-Za-z0-9_.-]{1,64}(?: [A-Za-z0-9_.,/@%+=:-]{1,200}){0,8}",
                      "an alert and its arguments, such as mail.alert ops@example.com, of letters, digits "
                      "and _.,/@%+=:- separated by single spaces"),
        "debian_package": (r"[a-z0-9][a-z0-9+.-]{1,99}", "a Debian package name such as nginx-light"),
        "ipv4": (rf"(?:{_OCTET}\.){{3}}{_OCTET}", "an IPv4 address such as 192.0.2.1"),
        "log_file_or_empty": (r"(?:/var/log(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._-]{1,64}){1,4})?",
                              "a file under /var/log such as /var/log/ha-log (no . or .. steps), or empty"),
    }.items()}


@functools.lru_cache(maxsize=None)
def _entries() -> Dict[str, Any]:
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def schema() -> Dict[str, Any]:
    """The model's fields (lvsha_*)."""
    return {name: spec for name, spec in _entries().items() if "role" not in spec}


@functools.lru_cache(maxsize=None)
def role_bounds() -> Dict[str, Any]:
    """The roles' own variables' bounds (range, grammar, choices): what their argument specs' types
    cannot say."""
    return {name: spec for name, spec in _entries().items() if "role" in spec}


def field(path: str) -> Mapping[str, Any]:
    """The schema entry of ``path``; KeyError for a field the schema does not define."""
    variable, *steps = path.split(".")
    node = schema()[variable]
    for step in steps:
        node = node["options"][step]
    return node


def fields(path: str) -> Tuple[str, ...]:
    """The field names of a mapping at ``path``, sorted (as unknown_field lists them)."""
    return tuple(sorted(field(path)["options"]))


def default(path: str) -> Any:
    """A copy of the default (the schema itself stays as it was read)."""
    return copy.deepcopy(field(path).get("default"))


def bounds(path: str) -> Tuple[int, int]:
    low, high = field(path)["range"]
    return low, high


def choices(path: str) -> Tuple[Any, ...]:
    return tuple(field(path)["choices"])


def defaults(path: str) -> Dict[str, Any]:
    """The defaults of the fields of a mapping at ``path`` (fields without one are left out)."""
    return {name: copy.deepcopy(spec["default"]) for name, spec in field(path)["options"].items() if "default" in spec}


def settings(part: str) -> Tuple[str, ...]:
    """The cluster-wide variables of a kind of cluster, in schema order."""
    return tuple(name for name, spec in schema().items() if spec.get("scope") == "cluster" and spec.get("part") == part)


def secrets(part: Optional[str] = None) -> Tuple[str, ...]:
    return tuple(name for name, spec in schema().items() if spec.get("secret") and (part is None or spec.get("part") == part))


# ------------------------------------------------------------------ docs/model.md

SCOPES = {"pair": "on the two nodes of each pair", "host": "each host its own value",
          "cluster": "one value per cluster, read from its pair's first node"}
PARTS = {None: "Every cluster", "lvs": "LVS clusters (`kind: lvs`)", "storage": "Storage pairs (`kind: storage`)",
         "mirror": "Mirror pairs (`kind: mirror`)"}


def _type(spec: Mapping[str, Any]) -> str:
    text = spec.get("type", "str")
    if "elements" in spec:
        text += f" of {spec['elements']}"
    return text


def _facts(spec: Mapping[str, Any]) -> str:
    facts = [_type(spec)]
    if spec.get("required"):
        facts.append("required")
    if "range" in spec:
        facts.append(f"{spec['range'][0]}..{spec['range'][1]}")
    if "length" in spec:
        facts.append(f"{spec['length'][0]}..{spec['length'][1]} items")
    if "choices" in spec:
        facts.append("one of " + ", ".join(f"`{c}`" for c in spec["choices"]))
    if "default" in spec and spec["default"] not in ([], {}, ""):
        value = spec["default"]
        facts.append("default " + (", ".join(f"`{v}`" for v in value) if isinstance(value, list) else f"`{value}`"))
    if spec.get("secret"):
        facts.append("secret (vault it; never shown)")
    return "; ".join(facts)


def _rows(path: str, spec: Mapping[str, Any]) -> List[str]:
    rows = [f"| `{path}` | {_facts(spec)} | {' '.join(str(spec.get('description', '')).split())} |"]
    for name, sub in (spec.get("options") or {}).items():
        step = "[]." if spec.get("type") == "list" else "."
        rows += _rows(f"{path}{step}{name}", sub)
    return rows


def markdown() -> str:
    """docs/model.md, generated from the schema."""
    lines = [
        "# The cluster model",
        "",
        "<!-- Generated from plugins/plugin_utils/model_schema.yml by `make docs`; do not edit. -->",
        "",
        "One inventory describes every cluster. A cluster is declared by `lvsha_cluster` on the two",
        "hosts of its heartbeat pair (set it on the pair's group, named as you like); its cluster-wide",
        "variables are read from the pair's first node in inventory order, and every other host of the",
        "cluster that sees one of them must see the same value (set them on the pair's group too). Each",
        "host's own addresses and interfaces are its own. `playbooks/validate.yml` checks all of it on",
        "the controller, every error naming the host, the field, the value and what is valid;",
        "`playbooks/site.yml` deploys it. Paths below name a field from its variable down; `[]` marks",
        "the items of a list.",
        "",
    ]
    for part, title in PARTS.items():
        names = [name for name, spec in schema().items() if spec.get("part") == part]
        if not names:
            continue
        lines += [f"## {title}", ""]
        for scope in SCOPES:
            scoped = [name for name in names if schema()[name].get("scope") == scope]
            if not scoped:
                continue
            lines += [f"### Scope: {scope} ({SCOPES[scope]})", "", "| field | type | description |", "| --- | --- | --- |"]
            for name in scoped:
                lines += _rows(name, schema()[name])
            lines.append("")
    lines += [
        "## The roles' own variables",
        "",
        "Each role's variables and their types are in its `meta/argument_specs.yml` (and its README);",
        "the model checks them too, for the roles that the plan gives each host, with these bounds.",
        "A boolean must be `true` or `false`: the strings `no` and `false` are refused.",
        "",
        "| variable | role | bound |",
        "| --- | --- | --- |",
    ]
    for name, spec in role_bounds().items():
        lines.append(f"| `{name}` | {spec['role']} | {_bound(spec)} |")
    lines.append("")
    return "\n".join(lines)


def _bound(spec: Mapping[str, Any]) -> str:
    if "rule" in spec:
        return spec["rule"]
    if "range" in spec:
        return f"{spec['range'][0]}..{spec['range'][1]}"
    if "choices" in spec:
        return "one of " + ", ".join(f"`{c}`" for c in spec["choices"])
    return GRAMMARS[spec["grammar"]][1]
