# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' own variables set in the inventory (``heartbeat_*``, ``drbd_*``, ...), checked
against the roles' argument specs for the roles that the plan gives each host, and, for the
roles of a heartbeat pair, alike on both nodes. Controller-side only."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, List, Mapping

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import Findings, NotShown, ipv4

ROLES = Path(__file__).resolve().parents[2] / "roles"
# What an argument spec entry says about a value (not its documentation or default).
SPEC_KEYS = ("type", "elements", "choices", "options", "no_log")
# Roles whose settings shape what both nodes of a pair must agree on (ha.cf, the .res files,
# the pull account).
PAIR_ROLES = ("heartbeat", "drbd", "nfs", "rsync_mirror")


@functools.lru_cache(maxsize=None)
def role_options(role: str) -> Dict[str, Dict[str, Any]]:
    """The options of a role's main entry point named after the role."""
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = specs["argument_specs"]["main"].get("options") or {}
    return {name: {key: spec[key] for key in SPEC_KEYS if key in spec}
            for name, spec in options.items() if name.startswith(role + "_")}


def _is_option_name(name: str, role: str) -> bool:
    """ROLE_NAME is the role's public variable space; ROLE__NAME are its internal facts."""
    return name.startswith(role + "_") and not name.startswith(role + "__")


def _valid(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type", "str")
    text = f"must be {'an' if kind == 'int' else 'a'} {kind}" + (f" of {spec['elements']}" if "elements" in spec else "")
    if "choices" in spec:
        text += f", one of {', '.join(map(str, spec['choices']))}"
    return text


def role_variable_errors(hostvars: Mapping[str, Mapping[str, Any]], roles: Mapping[str, List[str]],
                         pairs: Mapping[str, List[str]]) -> List[str]:
    """Each inventory variable named after a role that the host runs, checked against that
    role's argument spec. Only those variables are read (Ansible's hostvars template lazily)."""
    find = Findings()
    for host in sorted(roles):
        for role in roles[host]:
            options = role_options(role)
            for name in sorted(key for key in hostvars[host] if _is_option_name(key, role)):
                spec = options.get(name)
                value = hostvars[host][name]
                if spec is None:
                    find.add(host, name, NotShown(), f"is not an option of role {role} (options: {', '.join(sorted(options))})")
                    continue
                if spec.get("no_log"):
                    # Any scalar is a valid secret (a vaulted one is not decrypted here); the
                    # value is never shown.
                    if isinstance(value, (Mapping, list)) != (spec.get("type") in ("dict", "list")):
                        find.add(host, name, NotShown(), f"{_valid(spec)} (role {role})")
                    continue
                if ArgumentSpecValidator({name: spec}).validate({name: value}).error_messages:
                    find.add(host, name, value, f"{_valid(spec)} (role {role})")
    for cluster, nodes in pairs.items():
        if len(nodes) != 2:
            continue
        first, second = nodes
        for role in PAIR_ROLES:
            if role not in roles.get(first, []):
                continue
            names = sorted({key for node in nodes for key in hostvars[node] if _is_option_name(key, role)})
            for name in names:
                if name in role_options(role) and hostvars[first].get(name) != hostvars[second].get(name):
                    secret = role_options(role)[name].get("no_log")
                    find.add(second, name, NotShown() if secret else hostvars[second].get(name),
                             f"differs from the value on {first} "
                             f"({NotShown() if secret else hostvars[first].get(name)!r}); both nodes of cluster "
                             f"{cluster} must run role {role} alike: set it on the pair's group")
    return find.errors


def plan_relation_errors(variables: Mapping[str, Mapping[str, Any]], plan: Mapping[str, Any]) -> List[str]:
    """The roles' variables that the plan makes necessary: a real server of a NAT service
    routes its replies through the directors (realserver_nat_gateway, an address: the role
    writes it into its configuration)."""
    find = Findings()
    for host, section in plan["hosts"].items():
        nat = any(vip["forwarding"] == "nat" for vip in (section.get("lvs") or {}).get("realserver_vips", []))
        if not nat or "realserver" not in section["roles"]:
            continue
        gateway = variables[host].get("realserver_nat_gateway")
        if not gateway:
            find.add(host, "realserver_nat_gateway", gateway,
                     "is required for nat forwarding: the directors' floating inside address (role realserver)")
        else:
            ipv4(find, host, "realserver_nat_gateway", gateway)
    return find.errors
