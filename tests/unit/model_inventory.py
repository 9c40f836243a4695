# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An example inventory (hosts.yml and group_vars/) as plain data that model tests edit.

Loaded as Ansible would merge it: group_vars/all.yml, then the host's groups' files, then the
host's own variables.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

INVENTORIES = Path(__file__).resolve().parents[2] / "inventories"


class Inventory:
    """hosts.yml and group_vars/ of an inventory, as plain data that a test may edit."""

    def __init__(self, name: str) -> None:
        root = INVENTORIES / name
        self.groups: Dict[str, List[str]] = {"all": []}
        self.host_vars: Dict[str, Dict[str, Any]] = {}
        self._walk("all", yaml.safe_load((root / "hosts.yml").read_text())["all"])
        self.group_vars: Dict[str, Dict[str, Any]] = {
            path.stem: yaml.safe_load(path.read_text()) or {} for path in sorted((root / "group_vars").glob("*.yml"))}

    def _walk(self, group: str, node: Any) -> None:
        node = node or {}
        members = self.groups.setdefault(group, [])
        for host, variables in (node.get("hosts") or {}).items():
            self.add_host(host, group, **(variables or {}))
        for child, sub in (node.get("children") or {}).items():
            self._walk(child, sub)
            members.extend(host for host in self.groups[child] if host not in members)

    def add_host(self, host: str, group: str, **variables: Any) -> None:
        for name in ("all", group):
            members = self.groups.setdefault(name, [])
            if host not in members:
                members.append(host)
        self.host_vars.setdefault(host, {}).update(variables)

    @property
    def model(self) -> Dict[str, Any]:
        """The cluster-wide variables (group_vars/all.yml)."""
        return self.group_vars["all"]

    @property
    def services(self) -> List[Dict[str, Any]]:
        return self.model["lvsha_lvs_services"]

    def hostvars(self) -> Dict[str, Dict[str, Any]]:
        result = {}
        for host in self.groups["all"]:
            merged = copy.deepcopy(self.group_vars.get("all", {}))
            for group in sorted(g for g, members in self.groups.items() if g != "all" and host in members):
                merged.update(copy.deepcopy(self.group_vars.get(group, {})))
            merged.update(copy.deepcopy(self.host_vars.get(host, {})))
            result[host] = merged
        return result


def combined(*names: str) -> Tuple[Dict[str, Dict[str, Any]], Dict[str, List[str]]]:
    """The example inventories given as one inventory: (hostvars, groups)."""
    hostvars: Dict[str, Dict[str, Any]] = {}
    groups: Dict[str, List[str]] = {}
    for name in names:
        inv = Inventory(name)
        hostvars.update(inv.hostvars())
        for group, members in inv.groups.items():
            groups.setdefault(group, []).extend(m for m in members if m not in groups[group])
    return hostvars, groups


def assert_reported(errors: List[str], host: str, path: str, value: Any, valid: str) -> None:
    """One of ``errors`` names ``host``, ``path`` and ``value``, and says ``valid``."""
    head = f"host {host}: {path} = {value!r}: "
    matching = [error for error in errors if error.startswith(head)]
    assert matching, f"no error starts with {head!r}: {errors}"
    assert any(valid in error for error in matching), matching
