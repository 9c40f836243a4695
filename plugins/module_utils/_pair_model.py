# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks shared by the two-node pair models (storage, mirror): absolute paths, the floating
address, and the nodes' addresses and interfaces. Nothing here imports Ansible."""
from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any, Dict, List, Mapping, Optional

from ._lvs_model import _Findings, _host_address, _int_in, _ipv4, _unknown_field

IFACE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def abs_path(find: _Findings, host: str, path: str, value: Any, what: str) -> Optional[str]:
    if not isinstance(value, str) or not value.startswith("/") or value != posixpath.normpath(value) \
            or any(c.isspace() or c in "\"'\\;{}" for c in value):
        find.add(host, path, value, f"must be {what}: an absolute, normalised path without spaces or quotes")
        return None
    return value


def floating_address(find: _Findings, host: str, model: Mapping[str, Any], variable: str) -> Optional[Dict[str, Any]]:
    """The pair's floating address ``variable`` {address, prefix, interface}, with its network."""
    raw = model.get(variable)
    if not isinstance(raw, Mapping):
        find.add(host, variable, raw, "is required: a mapping {address, prefix, interface}")
        return None
    _unknown_field(find, host, variable, raw, ("address", "interface", "prefix"), "VIP")
    interface = raw.get("interface")
    if interface is not None and (not isinstance(interface, str) or not IFACE_RE.match(interface)):
        find.add(host, f"{variable}.interface", interface, "must be a network interface name such as eth1")
        interface = None
    address = _ipv4(find, host, f"{variable}.address", raw.get("address"))
    prefix = _int_in(find, host, f"{variable}.prefix", raw.get("prefix", 24), 1, 32)
    if address is None or prefix is None:
        return None
    return {"address": str(address), "prefix": prefix, "interface": interface,
            "network": ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)}


def check_pair_nodes(find: _Findings, hostvars: Mapping[str, Any], nodes: List[str], group: str,
                     vip: Optional[Dict[str, Any]], variable: str) -> None:
    """Both interfaces on every node, and its public address in the floating address's subnet."""
    for node in nodes:
        for segment in ("public", "private"):
            if not hostvars.get(node, {}).get(f"lvsha_{segment}_interface"):
                find.add(node, f"lvsha_{segment}_interface", None, f"is required on every node of group {group}")
        address = _host_address(find, hostvars, node, "public", node, f"group {group}")
        if vip is None or address is None:
            continue
        if ipaddress.IPv4Address(address) not in vip["network"]:
            find.add(node, "lvsha_public_address", address, f"must be inside the VIP's subnet {vip['network']} ({variable})")
        if address == vip["address"]:
            find.add(node, "lvsha_public_address", address, "must differ from the floating address")
