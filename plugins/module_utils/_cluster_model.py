# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole cluster model of one inventory: every part that is present (LVS, storage pair,
mirror pair) checked with its own rules, and the rules that span the parts: a host serves in
one heartbeat pair only, and every floating address is used once and by nobody's interface.
Nothing here imports Ansible."""
from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Mapping, Tuple

from ._lvs_model import _Findings, check_model
from ._mirror_model import check_mirror_model
from ._storage_model import check_storage_model

# The heartbeat pairs: each group runs one haresources chain on its two nodes.
PAIRS = ("directors", "storage", "mirrors")


def _floating(hostvars: Mapping[str, Any], groups: Mapping[str, Any]) -> List[Tuple[str, str, str]]:
    """(host whose variables declare it, variable path, address) of every floating address."""
    found = []
    directors = list(groups.get("directors") or [])
    if directors:
        vips = hostvars.get(directors[0], {}).get("lvsha_lvs_vips") or []
        for index, vip in enumerate(vips if isinstance(vips, list) else []):
            if isinstance(vip, Mapping):
                found.append((directors[0], f"lvsha_lvs_vips[{index}].address", vip.get("address")))
    for group, variable in (("storage", "lvsha_storage_vip"), ("mirrors", "lvsha_mirror_vip")):
        nodes = list(groups.get(group) or [])
        vip = hostvars.get(nodes[0], {}).get(variable) if nodes else None
        if isinstance(vip, Mapping):
            found.append((nodes[0], f"{variable}.address", vip.get("address")))
    result = []
    for host, path, address in found:
        try:
            result.append((host, path, str(ipaddress.IPv4Address(str(address)))))
        except ValueError:
            pass  # the part's own check reports it
    return result


def check_cluster_model(hostvars: Mapping[str, Any], groups: Mapping[str, Any]) -> List[str]:
    """Every error in the inventory's cluster model; empty when it is sound."""
    errors: List[str] = []
    if groups.get("directors") or groups.get("realservers"):
        errors += check_model(hostvars, groups)
    if groups.get("storage"):
        errors += check_storage_model(hostvars, groups)
    if groups.get("mirrors"):
        errors += check_mirror_model(hostvars, groups)
    find = _Findings()
    if not any(groups.get(g) for g in ("directors", "realservers", "storage", "mirrors")):
        find.add("localhost", "groups", sorted(g for g in groups if g not in ("all", "ungrouped")),
                 "name no directors, realservers, storage or mirrors: there is no cluster to check")
    for host in sorted(hostvars):
        pairs = [group for group in PAIRS if host in (groups.get(group) or [])]
        if len(pairs) > 1:
            find.add(host, "groups", pairs, "a host runs one heartbeat pair: it may be in one of directors, storage, mirrors")
    used: Dict[str, str] = {}
    for host, path, address in _floating(hostvars, groups):
        if address in used:
            find.add(host, path, address, f"is already the floating address {used[address]}; each pair needs its own")
        used.setdefault(address, f"{path} of {host}")
    for host in sorted(hostvars):
        for segment in ("public", "private"):
            address = hostvars[host].get(f"lvsha_{segment}_address")
            if address is not None and str(address) in used:
                find.add(host, f"lvsha_{segment}_address", address,
                         f"is the floating address {used[str(address)]}; heartbeat would take it from this host")
    return errors + find.errors
