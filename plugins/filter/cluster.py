# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole-inventory model check: the model's rules live in module_utils/_cluster_model.py;
the roles' own variables set in the inventory are checked here against the roles' argument
specs (types and choices, and names that no role option has)."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.lvsha.cluster.plugins.module_utils._cluster_model import check_cluster_model
from ansible_collections.lvsha.cluster.plugins.module_utils._lvs_model import _Findings, model_variables

ROLES = Path(__file__).resolve().parents[2] / "roles"
# The roles that lvs.yml, storage.yml and mirror.yml apply to each group's hosts.
GROUP_ROLES = {"realservers": ("realserver",), "directors": ("director", "mon", "heartbeat"),
               "storage": ("drbd", "nfs", "heartbeat"), "mirrors": ("rsync_mirror", "heartbeat")}
# What an argument spec entry says about a value (not its documentation or default).
SPEC_KEYS = ("type", "elements", "choices", "options", "no_log")


class _NotShown:
    def __repr__(self) -> str:
        return "(not shown)"


@functools.lru_cache(maxsize=None)
def role_options(role: str) -> Dict[str, Dict[str, Any]]:
    """The options of a role's main entry point named after the role (its lvsha_* options are
    the cluster model's, checked by the model rules)."""
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = specs["argument_specs"]["main"].get("options") or {}
    return {name: {key: spec[key] for key in SPEC_KEYS if key in spec}
            for name, spec in options.items() if name.startswith(role + "_")}


def _valid(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type", "str")
    text = f"must be {'an' if kind == 'int' else 'a'} {kind}" + (f" of {spec['elements']}" if "elements" in spec else "")
    if "choices" in spec:
        text += f", one of {', '.join(map(str, spec['choices']))}"
    return text


def role_variable_errors(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, List[str]]) -> List[str]:
    """Each inventory variable named after a role that the host runs, checked against that
    role's argument spec. Only those variables are read (Ansible's hostvars template lazily)."""
    find = _Findings()
    for host in sorted(hostvars):
        roles: Tuple[str, ...] = tuple(dict.fromkeys(
            role for group, members in GROUP_ROLES.items() if host in (groups.get(group) or []) for role in members))
        for role in roles:
            options = role_options(role)
            for name in sorted(key for key in hostvars[host] if key.startswith(role + "_")):
                spec = options.get(name)
                value = hostvars[host][name]
                if spec is None:
                    find.add(host, name, _NotShown(), f"is not an option of role {role} (options: {', '.join(sorted(options))})")
                    continue
                if spec.get("no_log"):
                    # Any scalar is a valid secret (a vaulted one is not decrypted here); the
                    # value is never shown.
                    if isinstance(value, (Mapping, list)) != (spec.get("type") in ("dict", "list")):
                        find.add(host, name, _NotShown(), f"{_valid(spec)} (role {role})")
                    continue
                if ArgumentSpecValidator({name: spec}).validate({name: value}).error_messages:
                    find.add(host, name, value, f"{_valid(spec)} (role {role})")
    return find.errors


def cluster_model_errors(hostvars: Any, groups: Dict[str, List[str]]) -> List[str]:
    return check_cluster_model(model_variables(hostvars), groups) + role_variable_errors(hostvars, groups)


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"cluster_model_errors": cluster_model_errors}
