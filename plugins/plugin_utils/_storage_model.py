# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage pair part of the cluster model: its rules, and what each node needs.

A storage cluster (``lvsha_cluster.kind: storage``, see ``docs/model.md``) is two nodes, each
with ``lvsha_public_address``/``_interface`` and ``lvsha_private_address``/``_interface``
(DRBD replicates over the private segment), and cluster-wide:

* ``lvsha_storage_vip``: the floating address that NFS clients mount from;
* ``lvsha_drbd_resources``: the replicated volumes (device minor, backing disk, port, file
  system and mount point, the node whose data wins the first synchronisation);
* ``lvsha_nfs_exports``: directories on those volumes and the clients that may mount them.

:func:`derive` checks one pair; :func:`host_section` gives one node its share: the ``.res``
contents, the exports lines; :func:`haresources` heartbeat's resource chain.
"""
from __future__ import annotations

import functools
import ipaddress
import posixpath
import re
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import (
    NAME_RE, Findings, abs_path, address_resource, check_pair_nodes, flag, floating_address, host_address, host_vip,
    in_range, one_of, pair_floating, pair_members, unknown_field)

KIND = "storage"
# The cluster-wide variables: one value for both nodes.
SETTINGS = _schema.settings(KIND)
RESOURCE = "lvsha_drbd_resources"
EXPORT = "lvsha_nfs_exports"
CLIENT = f"{EXPORT}.clients"
NFS_UNIT = "nfs-server.service"
NFS_PORT = 2049
# exports(5) options; those with "=" take a value.
EXPORT_FLAGS = frozenset((
    "secure", "insecure", "rw", "ro", "async", "sync", "wdelay", "no_wdelay", "hide", "nohide", "crossmnt",
    "no_subtree_check", "subtree_check", "insecure_locks", "secure_locks", "no_auth_nlm", "auth_nlm",
    "no_acl", "acl", "root_squash", "no_root_squash", "all_squash", "no_all_squash", "mp"))
EXPORT_VALUED = frozenset(("fsid", "anonuid", "anongid", "sec", "refer", "replicas", "mountpoint", "mp",
                           "pnfs", "security_label", "xprtsec"))
RATE_RE = re.compile(r"[1-9][0-9]*[KMG]?\Z")
HOSTNAME_RE = re.compile(r"[A-Za-z0-9*?.-]+\Z")
NETGROUP_RE = re.compile(r"@[A-Za-z0-9_.-]+\Z")
EXPORT_VALUE_RE = re.compile(r"[A-Za-z0-9_./:@-]{1,255}")
DEVICE_RE = re.compile(r"/dev/[A-Za-z0-9_./-]{1,200}\Z")


def _resources(find: Findings, host: str, model: Mapping[str, Any], nodes: List[str],
               hostvars: Mapping[str, Any], cluster: str) -> List[Dict[str, Any]]:
    raw = model.get("lvsha_drbd_resources")
    if not isinstance(raw, list) or not raw:
        find.add(host, "lvsha_drbd_resources", raw, "is required: a list of DRBD resources (name, minor, disk, ...)")
        return []
    resources: List[Dict[str, Any]] = []
    seen: Dict[str, Dict[Any, int]] = {"name": {}, "minor": {}, "port": {}, "mount": {}, "disk": {}}
    for index, item in enumerate(raw):
        path = f"lvsha_drbd_resources[{index}]"
        if not isinstance(item, Mapping):
            find.add(host, path, item, "must be a mapping with name, minor, disk, port, initial_primary and mount")
            continue
        unknown_field(find, host, path, item, _schema.fields(RESOURCE), "DRBD resource")
        res: Dict[str, Any] = {}
        name = item.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            find.add(host, f"{path}.name", name, "must be a name of letters, digits, '.', '_' and '-'")
        res["name"] = name
        res["minor"] = in_range(find, host, f"{path}.minor", item.get("minor"), f"{RESOURCE}.minor")
        # DRBD's convention: port 7788 + minor, unless set.
        minor = res["minor"] if res["minor"] is not None else index
        res["port"] = in_range(find, host, f"{path}.port", item.get("port", 7788 + minor), f"{RESOURCE}.port")
        disk = item.get("disk")
        if not isinstance(disk, str) or not DEVICE_RE.match(disk):
            find.add(host, f"{path}.disk", disk, "must be the backing block device, a /dev/... path")
        res["disk"] = disk
        meta = item.get("meta_disk", _schema.default(f"{RESOURCE}.meta_disk"))
        if meta != "internal" and (not isinstance(meta, str) or not DEVICE_RE.match(meta)):
            find.add(host, f"{path}.meta_disk", meta, "must be internal or a /dev/... path")
        elif meta == disk:
            find.add(host, f"{path}.meta_disk", meta, "must differ from disk: external metadata on the data disk would overwrite it")
        res["meta_disk"] = meta
        protocol = str(item.get("protocol", _schema.default(f"{RESOURCE}.protocol"))).upper()
        if protocol not in _schema.choices(f"{RESOURCE}.protocol"):
            find.add(host, f"{path}.protocol", item.get("protocol"), "must be A, B or C (C: a write completes on both nodes)")
        res["protocol"] = protocol
        res_nodes = item.get("nodes", nodes)
        if not isinstance(res_nodes, list) or len(res_nodes) != 2 or len(set(map(str, res_nodes))) != 2:
            find.add(host, f"{path}.nodes", res_nodes, "must name the two nodes of the pair")
            res_nodes = []
        for node in res_nodes:
            if node not in hostvars:
                find.add(host, f"{path}.nodes", node,
                         f"is not an inventory host; a .res may only name nodes of cluster {cluster} ({', '.join(nodes)})")
            elif node not in nodes:
                find.add(host, f"{path}.nodes", node, f"is not a node of cluster {cluster} ({', '.join(nodes)})")
        res["nodes"] = list(res_nodes)
        initial = item.get("initial_primary")
        if res["nodes"] and initial not in res["nodes"]:  # with no valid node list, there is nothing to choose from
            find.add(host, f"{path}.initial_primary", initial,
                     f"must name the node whose data wins the first synchronisation, one of {', '.join(map(str, res['nodes']))}")
        res["initial_primary"] = initial
        for key in ("skip_initial_sync", "mkfs"):
            res[key] = flag(find, host, f"{path}.{key}", item.get(key, False))
        fstype = one_of(find, host, f"{path}.fstype", item.get("fstype", _schema.default(f"{RESOURCE}.fstype")),
                        f"{RESOURCE}.fstype")
        res["fstype"] = fstype
        mount = abs_path(find, host, f"{path}.mount", item.get("mount"), "the mount point heartbeat mounts it on")
        if mount == "/":
            find.add(host, f"{path}.mount", mount, "must not be /")
            mount = None
        res["mount"] = mount
        rate = str(item.get("resync_rate", _schema.default(f"{RESOURCE}.resync_rate")))
        if not RATE_RE.match(rate):
            find.add(host, f"{path}.resync_rate", item.get("resync_rate"), "must be a rate like 40M (bytes per second, K/M/G)")
        res["resync_rate"] = rate
        for key in seen:
            value = res[key]
            if value is None:
                continue
            if value in seen[key]:
                find.add(host, f"{path}.{key}", value,
                         f"is already used by lvsha_drbd_resources[{seen[key][value]}]; each resource needs its own")
            else:
                seen[key][value] = index
        res["device"] = f"/dev/drbd{res['minor']}"
        res["peers"] = [{"name": node, "address": host_address(find, hostvars, node, "private", host, f"{path}.nodes")}
                        for node in res["nodes"] if node in hostvars]
        addresses = [peer["address"] for peer in res["peers"] if peer["address"]]
        if len(addresses) == 2 and addresses[0] == addresses[1]:
            find.add(host, f"{path}.nodes", res["nodes"], f"the peers must have distinct lvsha_private_address (both {addresses[0]})")
        resources.append(res)
    return resources


def _client(find: Findings, host: str, path: str, raw: Any) -> Optional[str]:
    if not isinstance(raw, Mapping):
        find.add(host, path, raw, "must be a mapping {host, options}")
        return None
    unknown_field(find, host, path, raw, _schema.fields(CLIENT), "NFS client")
    spec = raw.get("host")
    valid = isinstance(spec, str) and (spec == "*" or NETGROUP_RE.match(spec) is not None)
    if isinstance(spec, str) and not valid:
        try:
            ipaddress.ip_network(spec, strict=True)
            valid = True
        except ValueError:
            valid = "/" not in spec and not spec[:1].isdigit() and HOSTNAME_RE.match(spec) is not None
    if not valid:
        find.add(host, f"{path}.host", spec,
                 "must be an address, a network like 192.0.2.0/24 (host bits zero), a host name or wildcard, or @netgroup")
        return None
    options = raw.get("options", _schema.default(f"{CLIENT}.options"))
    if isinstance(options, str):
        options = options.split(",")
    if not isinstance(options, list) or not options:
        find.add(host, f"{path}.options", options, "must be a list of exports(5) options, for example [rw, sync]")
        return None
    good = True
    for opt in options:
        key, sep, value = str(opt).partition("=")
        if (sep and (key not in EXPORT_VALUED or not EXPORT_VALUE_RE.fullmatch(value))) or \
                (not sep and key not in EXPORT_FLAGS):
            find.add(host, f"{path}.options", opt, "is not an exports(5) option (rw, ro, sync, no_subtree_check, fsid=N, ...)")
            good = False
    if "rw" in options and "ro" in options:
        find.add(host, f"{path}.options", options, "cannot be both rw and ro")
        good = False
    return f"{spec}({','.join(map(str, options))})" if good else None


def _with_fsid(spec: str, fsid: int) -> str:
    # Both nodes must hand out the same file handles, or clients see ESTALE after a failover.
    return spec if "(fsid=" in spec or ",fsid=" in spec else f"{spec[:-1]},fsid={fsid})"


def _exports(find: Findings, host: str, model: Mapping[str, Any], mounts: List[str]) -> List[Dict[str, Any]]:
    raw = model.get("lvsha_nfs_exports")
    if raw is None:
        return []
    if not isinstance(raw, list):
        find.add(host, "lvsha_nfs_exports", raw, "must be a list of {path, clients}")
        return []
    exports: List[Dict[str, Any]] = []
    paths: Dict[str, int] = {}
    for index, item in enumerate(raw):
        path = f"lvsha_nfs_exports[{index}]"
        if not isinstance(item, Mapping):
            find.add(host, path, item, "must be a mapping {path, clients}")
            continue
        unknown_field(find, host, path, item, _schema.fields(EXPORT), "NFS export")
        directory = abs_path(find, host, f"{path}.path", item.get("path"), "the exported directory")
        if directory is not None:
            if not any(directory == m or directory.startswith(m.rstrip("/") + "/") for m in mounts):
                find.add(host, f"{path}.path", directory,
                         f"must lie on a replicated volume (a mount of lvsha_drbd_resources: {', '.join(mounts) or 'none'}); "
                         "anything else is lost on failover")
            if directory in paths:
                find.add(host, f"{path}.path", directory, f"is already exported by lvsha_nfs_exports[{paths[directory]}]")
            paths.setdefault(directory, index)
        clients = item.get("clients")
        if not isinstance(clients, list) or not clients:
            find.add(host, f"{path}.clients", clients, "must list at least one client {host, options}")
            continue
        specs = [_client(find, host, f"{path}.clients[{i}]", c) for i, c in enumerate(clients)]
        if directory is not None and all(specs):
            exports.append({"path": directory, "clients": [_with_fsid(spec, index + 1) for spec in specs]})
    return exports


def derive(find: Findings, cluster: Any) -> Dict[str, Any]:
    """The pair's floating address, resources and exports, checked; errors on cluster-wide
    values name the pair's first node, whose variables are the cluster's source."""
    hostvars, viewer, model, nodes = cluster.hostvars, cluster.source, cluster.settings, cluster.nodes
    vip = floating_address(find, viewer, model, "lvsha_storage_vip")
    resources = _resources(find, viewer, model, nodes, hostvars, cluster.name)
    exports = _exports(find, viewer, model, [r["mount"] for r in resources if r["mount"]])
    check_pair_nodes(find, hostvars, nodes, cluster.name, vip, "lvsha_storage_vip")
    return {"nodes": nodes, "vip": vip, "resources": resources, "exports": exports}


members = pair_members
floating = functools.partial(pair_floating, variable="lvsha_storage_vip")


def _vip(derived: Dict[str, Any], cluster: Any, host: str) -> Dict[str, Any]:
    return host_vip(derived["vip"], cluster.hostvars[host].get("lvsha_public_interface"))


def haresources(derived: Dict[str, Any], cluster: Any, host: str) -> List[str]:
    chain = [item for res in derived["resources"]
             for item in (f"drbddisk::{res['name']}", f"Filesystem::{res['device']}::{res['mount']}::{res['fstype']}")]
    if derived["exports"]:
        # NFS state (client records, statd) moves with the volume, before the address does.
        chain.append("lvsha-nfs-state")
    vip = _vip(derived, cluster, host)
    chain.append(address_resource(vip))
    if derived["exports"]:
        chain.append("nfs-kernel-server")
    return chain


def service_watch(derived: Dict[str, Any], cluster: Any, host: str) -> Optional[Dict[str, Any]]:
    """What lvsha-watch checks on the serving node: the NFS server, and that it answers on the
    floating address (nfs-server.service stays active when its nfsd threads are gone)."""
    if not derived["exports"]:
        return None
    address = derived["vip"]["address"]
    return {"units": [NFS_UNIT], "probe": {"address": address, "port": NFS_PORT, "path": None},
            "vip": {"address": address}, "notify": {"command": "", "mail": ""}}


def host_section(derived: Dict[str, Any], cluster: Any, host: str) -> Dict[str, Any]:
    """What storage node ``host`` needs."""
    resources = [{key: res[key] for key in ("name", "minor", "device", "disk", "meta_disk", "port", "protocol",
                                            "fstype", "mount", "mkfs", "skip_initial_sync", "resync_rate", "peers")}
                 | {"initial_primary": res["initial_primary"] == host} for res in derived["resources"]]
    return {
        "cluster": cluster.name,
        "is_node": host in derived["nodes"],
        "nodes": derived["nodes"],
        "vip": _vip(derived, cluster, host),
        "resources": resources,
        "exports": derived["exports"],
        "nfs_state_dir": posixpath.join(resources[0]["mount"], ".nfs-state"),
    }
