# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole cluster plan of one inventory, built once: every cluster the inventory declares,
checked with its part's rules and with the rules across clusters, and each host's sections.

A cluster is declared by ``lvsha_cluster`` on the two hosts of its heartbeat pair (set it
on the pair's group, named as the user likes): ``name``, ``kind`` (``lvs``, ``storage``,
``mirror``), and optionally ``preferred`` (the node that owns the resources when both are
up; default the first node in inventory order), ``resources`` (more haresources entries,
started after the cluster's own) and, for ``lvs``, ``realservers`` (a group whose every host
must be a real server of the cluster). Cluster-wide variables (the part's ``SETTINGS``) are
read from the pair's first node; every other host of the cluster that sees a value must see
the same one, or the plan reports both hosts. Nothing here imports Ansible.

:func:`build_plan` returns ``{"clusters": {...}, "hosts": {HOST: {"roles": [...], "roles_by_kind": {KIND: [...]}, "lvs": ...,
"storage": ..., "mirror": ..., "heartbeat": ...}}}`` or raises :class:`ModelError` with every
finding; :func:`check` returns the findings.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.lvsha.cluster.plugins.plugin_utils import _lvs_model, _mirror_model, _schema, _storage_model
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import (
    NAME_RE, RETIRED, SEGMENTS, Findings, ModelError, NotShown, interface, unknown_field)

PARTS = {part.KIND: part for part in (_lvs_model, _storage_model, _mirror_model)}
DECLARATION = "lvsha_cluster"
DECLARATION_FIELDS = _schema.fields(DECLARATION)
# A haresources entry: a resource script and its ::-separated arguments, one word of safe
# characters (heartbeat splits the line on blanks and hands the arguments to the script).
RESOURCE_RE = re.compile(r"(?=.{1,255}\Z)[A-Za-z0-9_.-]+(::[A-Za-z0-9_.,/@%+=-]+)*\Z")
# The heartbeat role's resource script of `lvsha watch` (storage and mirror pairs).
WATCH_RESOURCE = "lvsha-watch"
# The roles each kind's pair nodes run besides heartbeat, and the order they are applied in.
PAIR_ROLES = {"lvs": ("director", "mon"), "storage": ("drbd", "nfs"), "mirror": ("rsync_mirror",)}
ROLE_ORDER = ("realserver", "director", "mon", "drbd", "nfs", "rsync_mirror", "heartbeat")
# lvsha_* variables that the playbooks read (extra variables reach every host's variables).
PLAYBOOK_VARIABLES = ("lvsha_render_dir", "lvsha_render_secret", "lvsha_site_kinds")


@dataclass
class Cluster:
    """One declared cluster, as its part's rules see it."""

    name: str
    kind: str
    nodes: List[str]
    hostvars: Mapping[str, Mapping[str, Any]]
    groups: Mapping[str, Any]
    preferred: Optional[str] = None
    resources: List[str] = field(default_factory=list)
    realservers_group: Optional[str] = None
    settings: Dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The host whose variables hold the cluster-wide values (and whose name errors carry)."""
        return self.nodes[0]


def _declarations(find: Findings, hostvars: Mapping[str, Mapping[str, Any]], order: List[str]) -> Dict[str, Cluster]:
    clusters: Dict[str, Cluster] = {}
    declared_by: Dict[str, Tuple[str, Any]] = {}
    for host in order:
        raw = hostvars[host].get(DECLARATION)
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            find.add(host, DECLARATION, raw, "must be a mapping {name, kind, preferred, resources, realservers}")
            continue
        unknown_field(find, host, DECLARATION, raw, DECLARATION_FIELDS, "cluster declaration")
        name, kind = raw.get("name"), raw.get("kind")
        if not isinstance(name, str) or not NAME_RE.match(name):
            find.add(host, f"{DECLARATION}.name", name, "must be a cluster name of letters, digits, '.', '_' and '-'")
            continue
        if kind not in PARTS:
            find.add(host, f"{DECLARATION}.kind", kind, f"must be one of {', '.join(PARTS)}")
            continue
        if name in declared_by and declared_by[name][1] != raw:
            first, value = declared_by[name]
            find.add(host, DECLARATION, dict(raw),
                     f"differs from the declaration of cluster {name} on {first} ({dict(value)!r}); "
                     "both nodes of a pair carry the same lvsha_cluster (set it on the pair's group)")
            continue
        declared_by.setdefault(name, (host, raw))
        cluster = clusters.setdefault(name, Cluster(name=name, kind=kind, nodes=[], hostvars=hostvars, groups={}))
        cluster.nodes.append(host)
    return clusters


def _declared_options(find: Findings, cluster: Cluster, raw: Mapping[str, Any]) -> None:
    host, nodes = cluster.source, cluster.nodes
    if len(nodes) != 2:
        find.add(host, f"{DECLARATION}.name", cluster.name,
                 f"is declared on {len(nodes)} host(s) ({', '.join(nodes)}); a cluster is one heartbeat pair in "
                 "haresources mode: declare it on exactly two hosts")
    preferred = raw.get("preferred", nodes[0])
    if preferred not in nodes:
        find.add(host, f"{DECLARATION}.preferred", preferred, f"must name a node of cluster {cluster.name} ({', '.join(nodes)})")
    cluster.preferred = preferred if preferred in nodes else nodes[0]
    resources = raw.get("resources", [])
    if not isinstance(resources, list):
        find.add(host, f"{DECLARATION}.resources", resources, "must be a list of haresources entries such as Delay::5")
        resources = []
    for index, entry in enumerate(resources):
        if not isinstance(entry, str) or not RESOURCE_RE.match(entry):
            find.add(host, f"{DECLARATION}.resources[{index}]", entry,
                     "must be one haresources entry, RESOURCE or RESOURCE::ARG::..., of letters, digits and _.,/@%+=-")
    cluster.resources = [entry for entry in resources if isinstance(entry, str) and RESOURCE_RE.match(entry)]
    group = raw.get("realservers")
    if group is not None and (cluster.kind != "lvs" or not isinstance(group, str) or group not in cluster.groups):
        find.add(host, f"{DECLARATION}.realservers", group,
                 "must name an inventory group of real servers, and only for kind lvs")
        group = None
    cluster.realservers_group = group


def _agreement(find: Findings, cluster: Cluster, part: Any, members: List[str]) -> None:
    """Every host of the cluster that sees a cluster-wide variable sees the source's value; the
    pair's nodes must see it (or its absence) alike."""
    hostvars, source = cluster.hostvars, cluster.source
    secret = getattr(part, "SECRET_SETTINGS", ())
    for variable in part.SETTINGS:
        value = hostvars[source].get(variable)
        for host in members:
            if host == source or (host not in cluster.nodes and variable not in hostvars[host]):
                continue
            other = hostvars[host].get(variable)
            if other != value:
                shown = (NotShown(), NotShown()) if variable in secret else (other, value)
                find.add(host, variable, shown[0],
                         f"differs from the value on {source} ({shown[1]!r}); a cluster-wide variable has one value "
                         f"for every host of cluster {cluster.name}: set it once, on the cluster's group")


def _cross_checks(find: Findings, hostvars: Mapping[str, Mapping[str, Any]], clusters: Dict[str, Cluster],
                  derived: Dict[str, Dict[str, Any]]) -> None:
    used: Dict[str, str] = {}
    for name, cluster in clusters.items():
        for host, path, address in PARTS[cluster.kind].floating(derived[name], cluster):
            if address in used:
                find.add(host, path, address, f"is already the floating address {used[address]}; each pair needs its own")
            used.setdefault(address, f"{path} of {host} (cluster {name})")
    for host in hostvars:
        for segment in SEGMENTS:
            address = hostvars[host].get(f"lvsha_{segment}_address")
            if address is not None and str(address) in used:
                find.add(host, f"lvsha_{segment}_address", address,
                         f"is the floating address {used[str(address)]}; heartbeat would take it from this host")
    planned = sorted({node for cluster in clusters.values() for node in cluster.nodes}
                     | {host for name, cluster in clusters.items() if cluster.kind == "lvs" for host in derived[name]["realservers"]})
    for host in planned:
        for segment in SEGMENTS:
            if hostvars[host].get(f"lvsha_{segment}_interface") is not None:
                interface(find, host, f"lvsha_{segment}_interface", hostvars[host][f"lvsha_{segment}_interface"])
        public, private = (hostvars[host].get(f"lvsha_{segment}_address") for segment in SEGMENTS)
        if public is not None and public == private:
            find.add(host, "lvsha_private_address", private, "must differ from lvsha_public_address: two segments, two addresses")
    pair_of = {node: name for name, cluster in clusters.items() for node in cluster.nodes}
    gateways: Dict[str, Tuple[str, str]] = {}
    for name, cluster in clusters.items():
        if cluster.kind != "lvs":
            continue
        for host, gateway in derived[name]["nat_gateways"].items():
            first = gateways.setdefault(host, (gateway, name))
            if first[0] != gateway:
                find.add(cluster.source, "lvsha_lvs_services", host,
                         f"is a nat real server of cluster {name} through {gateway} and of cluster {first[1]} "
                         f"through {first[0]}: one default route per real server")
        for host in derived[name]["realservers"]:
            if pair_of.get(host, name) != name and clusters[pair_of[host]].kind == "lvs":
                find.add(host, DECLARATION, dict(hostvars[host][DECLARATION]),
                         f"is a director of cluster {pair_of[host]}, so it cannot be a real server of cluster {name}")


def _heartbeat(cluster: Cluster, chain: List[str], watch: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    hostvars = cluster.hostvars
    # lvsha-watch's resource comes last: it refuses the group on a node that gave it up for
    # a failed service, and its flag says that the whole group runs here.
    resources = chain + cluster.resources + ([WATCH_RESOURCE] if watch else [])
    return {
        "cluster": cluster.name,
        "nodes": [{"host": node,
                   "addresses": {s: hostvars[node].get(f"lvsha_{s}_address") for s in SEGMENTS},
                   "interfaces": {s: hostvars[node].get(f"lvsha_{s}_interface") for s in SEGMENTS}}
                  for node in cluster.nodes],
        "preferred": cluster.preferred,
        "resources": resources,
        # The service lvsha-watch checks on the node that holds the group (None: no watch).
        "watch": watch,
        # DRBD's fence-peer handler reaches the peer through heartbeat's dopd.
        "drbd_peer_outdater": cluster.kind == "storage",
    }


def _check(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, Any]) -> Tuple[List[str], Dict[str, Any]]:
    find = Findings()
    order = [host for host in (groups.get("all") or hostvars) if host in hostvars]
    known = set(_schema.schema()) | set(PLAYBOOK_VARIABLES)
    for host in order:
        for variable in sorted(name for name in hostvars[host] if name.startswith("lvsha_") and not name.startswith("lvsha__")):
            if variable in RETIRED:
                find.add(host, variable, hostvars[host][variable], RETIRED[variable])
            elif variable not in known:
                near = difflib.get_close_matches(variable, sorted(known), n=1)
                find.add(host, variable, NotShown(), "is not a variable of the cluster model (docs/model.md)"
                         + (f"; did you mean {near[0]}?" if near else ""))
    clusters = _declarations(find, hostvars, order)
    if not clusters and not find.errors:
        find.add("localhost", DECLARATION, None,
                 "is set on no host: declare each cluster on its pair's group, for example "
                 "lvsha_cluster: {name: web, kind: lvs}; there is no cluster to check")
    derived: Dict[str, Dict[str, Any]] = {}
    for name, cluster in clusters.items():
        cluster.groups = groups
        _declared_options(find, cluster, hostvars[cluster.source][DECLARATION])
        part = PARTS[cluster.kind]
        cluster.settings = {variable: hostvars[cluster.source][variable]
                            for variable in part.SETTINGS if variable in hostvars[cluster.source]}
        derived[name] = part.derive(find, cluster)
        _agreement(find, cluster, part, part.members(derived[name]))
    _cross_checks(find, hostvars, clusters, derived)
    return find.errors, {"clusters": clusters, "derived": derived, "order": order, "roles": _roles(clusters, derived)}


def check(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, Any]) -> Tuple[List[str], Dict[str, Any]]:
    """Every finding in the inventory's cluster model (empty when it is sound), with the roles
    each host would run and the nodes of each pair, as far as the model could be read; and,
    under ``state``, what :func:`plan_of` builds the plan from."""
    errors, found = _check(hostvars, groups)
    return errors, {"roles": {host: _flat(kinds) for host, kinds in found["roles"].items()},
                    "pairs": {name: c.nodes for name, c in found["clusters"].items()}, "state": found}


def build_plan(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, Any]) -> Dict[str, Any]:
    """The plan of every cluster and every host; raises ModelError listing every finding."""
    errors, found = _check(hostvars, groups)
    if errors:
        raise ModelError(errors)
    return plan_of(found)


def plan_of(found: Dict[str, Any]) -> Dict[str, Any]:
    """The plan from a check that found nothing wrong (``check(...)[1]["state"]``)."""
    clusters: Dict[str, Cluster] = found["clusters"]
    derived = found["derived"]
    hosts: Dict[str, Dict[str, Any]] = {}

    def section(host: str) -> Dict[str, Any]:
        return hosts.setdefault(host, {"roles": []})

    for name, cluster in clusters.items():
        part = PARTS[cluster.kind]
        for host in part.members(derived[name]):
            sections = section(host)
            planned = part.host_section(derived[name], cluster, host)
            if cluster.kind == "lvs" and "lvs" in sections:
                # A real server of several LVS clusters carries the VIPs of each; a director
                # keeps its own cluster's section.
                earlier = sections["lvs"]
                keep, other = (earlier, planned) if earlier["is_director"] or not planned["is_director"] else (planned, earlier)
                vips = {v["address"]: v for v in keep["realserver_vips"] + other["realserver_vips"]}
                keep = dict(keep, realserver_vips=[vips[a] for a in sorted(vips)], is_realserver=True,
                            nat_gateway=keep["nat_gateway"] or other["nat_gateway"])
                sections["lvs"] = keep
            else:
                sections[cluster.kind] = planned
        for node in cluster.nodes:
            sections = section(node)
            sections["heartbeat"] = _heartbeat(cluster, part.haresources(derived[name], cluster, node),
                                               part.service_watch(derived[name], cluster, node))
    for host, by_kind in found["roles"].items():
        section(host).update(roles_by_kind=by_kind, roles=_flat(by_kind))
    order = found["order"]
    return {
        "clusters": {name: {"kind": c.kind, "nodes": c.nodes, "preferred": c.preferred} for name, c in clusters.items()},
        "hosts": {host: hosts[host] for host in order if host in hosts},
    }


def _roles(clusters: Dict[str, Cluster], derived: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, List[str]]]:
    """The collection's roles that each host runs for each kind of cluster it is in, in the
    order the site playbook applies them."""
    roles: Dict[str, Dict[str, set]] = {}
    for name, cluster in clusters.items():
        for host in cluster.nodes:
            wanted = roles.setdefault(host, {}).setdefault(cluster.kind, set())
            wanted.update(PAIR_ROLES[cluster.kind] + ("heartbeat",))
            if cluster.kind == "storage" and not derived[name]["exports"]:
                wanted.discard("nfs")
        if cluster.kind == "lvs":
            for host in derived[name]["realservers"]:
                roles.setdefault(host, {}).setdefault("lvs", set()).add("realserver")
    return {host: {kind: [role for role in ROLE_ORDER if role in wanted] for kind, wanted in kinds.items()}
            for host, kinds in roles.items()}


def _flat(by_kind: Mapping[str, List[str]]) -> List[str]:
    return [role for role in ROLE_ORDER if any(role in roles for roles in by_kind.values())]
