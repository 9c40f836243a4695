# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LVS part of the cluster model: its rules, and what each host of an LVS cluster needs.

An LVS cluster (``lvsha_cluster.kind: lvs``, see ``docs/model.md``) is a pair of directors
under heartbeat with cluster-wide ``lvsha_lvs_vips`` (floating addresses the active director
holds) and ``lvsha_lvs_services`` (virtual services, their real servers by inventory name,
the health check of each), and per host ``lvsha_public_address``/``_interface``.

:func:`derive` checks one cluster and returns it resolved; :func:`host_section` gives one
host its share: the IPVS services in the form the ``lvsha.cluster.ipvs`` module takes, the
addresses a real server carries, mon's watches. ``_cluster_plan.py`` calls both.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import SCHEDULERS, ValidationError, desired_from_params
from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import (
    NAME_RE, URL_PATH_RE, Findings, floating_network, host_address, host_vip, in_range, interface, ipv4, one_of,
    unknown_field)

KIND = "lvs"
# The cluster-wide variables: one value for every host of the cluster.
SETTINGS = _schema.settings(KIND)
SERVICE = "lvsha_lvs_services"
CHECK = f"{SERVICE}.check"
REALSERVER = f"{SERVICE}.realservers"


def _vips(find: Findings, host: str, model: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    vips: Dict[str, Dict[str, Any]] = {}
    raw = model.get("lvsha_lvs_vips") or []
    if not isinstance(raw, list):
        find.add(host, "lvsha_lvs_vips", raw, "must be a list of {address, prefix, interface}")
        return vips
    for index, item in enumerate(raw):
        path = f"lvsha_lvs_vips[{index}]"
        if not isinstance(item, Mapping):
            find.add(host, path, item, "must be a mapping with address and prefix")
            continue
        unknown_field(find, host, path, item, _schema.fields("lvsha_lvs_vips"), "VIP")
        address = ipv4(find, host, f"{path}.address", item.get("address"))
        prefix = in_range(find, host, f"{path}.prefix", item.get("prefix", _schema.default("lvsha_lvs_vips.prefix")),
                          "lvsha_lvs_vips.prefix")
        if address is None or prefix is None:
            continue
        if str(address) in vips:
            find.add(host, f"{path}.address", str(address), "is declared twice in lvsha_lvs_vips")
            continue
        iface = item.get("interface")
        if iface is not None:
            iface = interface(find, host, f"{path}.interface", iface)
        network = floating_network(find, host, f"{path}.address", address, prefix)
        if network is not None:
            vips[str(address)] = {"address": str(address), "prefix": prefix, "interface": iface, "index": index,
                                  "network": network}
    return vips


def _check(find: Findings, host: str, path: str, raw: Any) -> Dict[str, Any]:
    check = _schema.defaults(CHECK)
    if raw is None:
        return check
    if not isinstance(raw, Mapping):
        find.add(host, path, raw, "must be a mapping (type, path, port, interval, alertafter, alertevery, timeout, on_failure)")
        return check
    unknown_field(find, host, path, raw, _schema.fields(CHECK), "check")
    check.update({k: v for k, v in raw.items() if v is not None})
    one_of(find, host, f"{path}.type", check["type"], f"{CHECK}.type")
    one_of(find, host, f"{path}.on_failure", check["on_failure"], f"{CHECK}.on_failure")
    for name in ("interval", "alertafter", "alertevery", "timeout"):
        number = in_range(find, host, f"{path}.{name}", check[name], f"{CHECK}.{name}")
        if number is not None:
            check[name] = number
    if "port" in check:
        check["port"] = in_range(find, host, f"{path}.port", check["port"], f"{CHECK}.port")
    if not isinstance(check["path"], str) or not URL_PATH_RE.fullmatch(check["path"]):
        find.add(host, f"{path}.path", check["path"],
                 "must be a URL path starting with /, up to 255 of letters, digits and ._~%/+=:@,- (mon hands it to its monitor)")
    return check


def _services(find: Findings, host: str, model: Mapping[str, Any], hostvars: Mapping[str, Any],
              vips: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    raw = model.get("lvsha_lvs_services") or []
    if not isinstance(raw, list):
        find.add(host, "lvsha_lvs_services", raw, "must be a list of virtual services")
        return []
    services: List[Dict[str, Any]] = []
    seen_keys: Dict[Tuple[str, str, int], str] = {}
    seen_names: Dict[str, str] = {}
    for index, item in enumerate(raw):
        path = f"lvsha_lvs_services[{index}]"
        if not isinstance(item, Mapping):
            find.add(host, path, item, "must be a mapping with vip, port and realservers")
            continue
        unknown_field(find, host, path, item, _schema.fields(SERVICE), "service")
        protocol = one_of(find, host, f"{path}.protocol", item.get("protocol", _schema.default(f"{SERVICE}.protocol")),
                          f"{SERVICE}.protocol")
        vip = ipv4(find, host, f"{path}.vip", item.get("vip"))
        if vip is not None and str(vip) not in vips:
            find.add(host, f"{path}.vip", str(vip),
                     f"is not in lvsha_lvs_vips (declared: {', '.join(vips) or 'none'})")
        port = in_range(find, host, f"{path}.port", item.get("port"), f"{SERVICE}.port")
        scheduler = item.get("scheduler", _schema.default(f"{SERVICE}.scheduler"))
        if scheduler not in SCHEDULERS:
            find.add(host, f"{path}.scheduler", scheduler, f"ipvsadm knows {', '.join(SCHEDULERS)}")
        persistent = item.get("persistent")
        if persistent is not None:
            persistent = in_range(find, host, f"{path}.persistent", persistent, f"{SERVICE}.persistent")
        forwarding = one_of(find, host, f"{path}.forwarding",
                            item.get("forwarding", _schema.default(f"{SERVICE}.forwarding")), f"{SERVICE}.forwarding")
        name = str(item.get("name") or f"{protocol}-{vip}-{port}")
        if not NAME_RE.match(name):
            find.add(host, f"{path}.name", name, "must be letters, digits, '.', '_' or '-' (it names a mon service)")
        elif name in seen_names:
            find.add(host, f"{path}.name", name, f"is already used by {seen_names[name]}")
        seen_names[name] = path
        if vip is not None and port is not None:
            key = (str(protocol), str(vip), port)
            if key in seen_keys:
                find.add(host, f"{path}", f"{protocol} {vip}:{port}", f"duplicate VIP:port, already declared as {seen_keys[key]}")
            seen_keys[key] = path
        realservers = _realservers(find, host, path, item.get("realservers"), hostvars,
                                   vips.get(str(vip)) if vip else None, forwarding, port)
        services.append({"name": name, "vip": str(vip) if vip else None, "protocol": protocol, "port": port,
                         "scheduler": scheduler, "persistent": persistent, "forwarding": forwarding,
                         "realservers": realservers, "check": _check(find, host, f"{path}.check", item.get("check"))})
    return services


def _realservers(find: Findings, host: str, path: str, raw: Any, hostvars: Mapping[str, Any],
                 vip: Optional[Dict[str, Any]], forwarding: str, port: Optional[int]) -> List[Dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        find.add(host, f"{path}.realservers", raw, "must be a non-empty list of {host, weight, port}")
        return []
    result: List[Dict[str, Any]] = []
    seen: Dict[str, str] = {}
    for index, item in enumerate(raw):
        rpath = f"{path}.realservers[{index}]"
        if isinstance(item, str):
            item = {"host": item}
        if not isinstance(item, Mapping):
            find.add(host, rpath, item, "must be a mapping with host and weight")
            continue
        unknown_field(find, host, rpath, item, _schema.fields(REALSERVER), "real server")
        name = item.get("host")
        if not isinstance(name, str) or name not in hostvars:
            find.add(host, f"{rpath}.host", name, f"is not an inventory host (known: {', '.join(sorted(hostvars))})")
            continue
        if name in seen:
            find.add(host, f"{rpath}.host", name, f"is already listed as {seen[name]}")
            continue
        seen[name] = rpath
        weight = in_range(find, host, f"{rpath}.weight", item.get("weight", _schema.default(f"{REALSERVER}.weight")),
                          f"{REALSERVER}.weight")
        rs_port = item.get("port", port)
        if rs_port is not None:
            rs_port = in_range(find, host, f"{rpath}.port", rs_port, f"{REALSERVER}.port")
        if forwarding in ("dr", "tun") and rs_port != port:
            find.add(host, f"{rpath}.port", rs_port, f"must equal the service port {port} with {forwarding} forwarding")
        address = host_address(find, hostvars, name, "public", host, f"{rpath}.host")
        if address and vip and forwarding == "dr" and ipaddress.IPv4Address(address) not in vip["network"]:
            find.add(host, f"{rpath}.host", name,
                     f"direct routing needs the real server on the VIP's segment {vip['network']}, but {name} is {address}")
        result.append({"host": name, "address": address, "port": rs_port, "weight": weight})
    return result


def derive(find: Findings, cluster: Any) -> Dict[str, Any]:
    """The cluster's VIPs and services, checked; errors on cluster-wide values name the
    cluster's first director, whose variables are the cluster's source."""
    hostvars, viewer, model = cluster.hostvars, cluster.source, cluster.settings
    directors = cluster.nodes
    vips = _vips(find, viewer, model)
    services = _services(find, viewer, model, hostvars, vips)
    for name in directors:
        address = host_address(find, hostvars, name, "public", name, f"cluster {cluster.name}")
        if address is None:
            continue
        for vip in vips.values():
            if ipaddress.IPv4Address(address) not in vip["network"]:
                find.add(name, "lvsha_public_address", address,
                         f"must be inside the VIP's subnet {vip['network']} (lvsha_lvs_vips {vip['address']})")
            if address == vip["address"]:
                find.add(name, "lvsha_public_address", address, "must differ from the floating address")
    methods: Dict[Tuple[str, str], str] = {}
    for index, svc in enumerate(services):
        for rs in svc["realservers"]:
            first = methods.setdefault((rs["host"], str(svc["vip"])), svc["forwarding"])
            if first != svc["forwarding"]:
                # DR and TUN put the VIP on lo or tunl0, NAT does not: one host cannot do both.
                find.add(viewer, f"lvsha_lvs_services[{index}].forwarding", svc["forwarding"],
                         f"{rs['host']} is already a {first} real server of {svc['vip']}; "
                         "use one forwarding method per VIP on a real server")
    if not find.errors:
        try:  # the ipvs module's own validation, so that a bad table fails here and not on a host
            desired_from_params([_ipvs_service(svc) for svc in services])
        except ValidationError as exc:
            find.errors.append(f"host {viewer}: lvsha_lvs_services: {exc}")
    listed = {rs["host"] for svc in services for rs in svc["realservers"]}
    if cluster.realservers_group is not None:
        for other in cluster.groups.get(cluster.realservers_group) or []:
            if other not in listed:
                find.add(other, f"group {cluster.realservers_group}", other,
                         f"is in group {cluster.realservers_group} but no lvsha_lvs_services entry lists it")
    return {"vips": vips, "services": services, "directors": directors, "realservers": sorted(listed)}


def members(derived: Dict[str, Any]) -> List[str]:
    """Every host the cluster plans for: its directors and its real servers."""
    return list(dict.fromkeys(derived["directors"] + derived["realservers"]))


def floating(derived: Dict[str, Any], cluster: Any) -> List[Tuple[str, str, str]]:
    """(host, variable path, address) of each floating address the cluster declares."""
    return [(cluster.source, f"lvsha_lvs_vips[{vip['index']}].address", vip["address"])
            for vip in derived["vips"].values()]


def _ipvs_service(svc: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"protocol": svc["protocol"], "address": svc["vip"], "port": svc["port"],
                           "scheduler": svc["scheduler"],
                           "realservers": [{"address": rs["address"], "port": rs["port"], "forwarding": svc["forwarding"],
                                            "weight": rs["weight"]} for rs in svc["realservers"]]}
    if svc["persistent"]:
        out["persistent"] = svc["persistent"]
    return out


def _monitor(svc: Dict[str, Any], rs: Dict[str, Any]) -> str:
    check = svc["check"]
    port = check.get("port") or rs["port"]
    if check["type"] == "http":
        return f"http.monitor -p {port} -t {check['timeout']} -u {check['path']}"
    if check["type"] == "tcp":
        return f"tcp.monitor -p {port} -t {check['timeout']}"
    return f"fping.monitor -t {check['timeout'] * 1000}"


def director_interface(cluster: Any, host: str) -> str:
    return cluster.hostvars[host].get("lvsha_public_interface", _schema.default("lvsha_public_interface"))


def haresources(derived: Dict[str, Any], cluster: Any, host: str) -> List[str]:
    # VIP first: heartbeat starts left to right, so a takeover answers clients as soon as the
    # address moves; the director resource then loads the table and starts mon.
    return [f"IPaddr2::{v['cidr']}/{v['interface']}" for v in _host_vips(derived, cluster, host)] + ["lvsha-director"]


def service_watch(derived: Dict[str, Any], cluster: Any, host: str) -> None:
    """Nothing: mon watches the real servers, and a director serves no daemon of its own."""
    return None


def _host_vips(derived: Dict[str, Any], cluster: Any, host: str) -> List[Dict[str, Any]]:
    own = director_interface(cluster, host)
    return [host_vip(vip, own) for vip in derived["vips"].values()]


def _director_view(derived: Dict[str, Any]) -> Dict[str, Any]:
    """What a director needs of the whole cluster: the table, the health checks and mon's
    watches, from one pass over the services (each director gets its own copy)."""
    services = derived["services"]
    entries: Dict[str, List[Tuple[Dict[str, Any], Dict[str, Any]]]] = {}
    for svc in services:
        for rs in svc["realservers"]:
            entries.setdefault(rs["host"], []).append((svc, rs))
    return {
        "ipvs_services": [_ipvs_service(svc) for svc in services],
        "health": [{"name": svc["name"], "on_failure": svc["check"]["on_failure"], "service": _ipvs_service(svc),
                    "hosts": {rs["host"]: i for i, rs in enumerate(svc["realservers"])}} for svc in services],
        "mon_watches": [{"group": name, "address": entries[name][0][1]["address"],
                         "services": [{"name": svc["name"], "monitor": _monitor(svc, rs),
                                       "interval": svc["check"]["interval"], "alertafter": svc["check"]["alertafter"],
                                       "alertevery": svc["check"]["alertevery"]} for svc, rs in entries[name]]}
                        for name in derived["realservers"]],
    }


def _realserver_vips(derived: Dict[str, Any], host: str) -> List[Dict[str, str]]:
    """The VIPs ``host`` answers for as a real server, and how; indexed once per cluster."""
    if "realserver_vips" not in derived:
        index: Dict[str, Dict[str, str]] = {}
        for svc in derived["services"]:
            for rs in svc["realservers"]:
                index.setdefault(rs["host"], {}).setdefault(svc["vip"], svc["forwarding"])
        derived["realserver_vips"] = index
    return [{"address": a, "forwarding": f} for a, f in sorted(derived["realserver_vips"].get(host, {}).items())]


def host_section(derived: Dict[str, Any], cluster: Any, host: str) -> Dict[str, Any]:
    """What ``host`` (a director or a real server of this cluster) needs from it: a director
    the table, health checks and watches of the whole cluster, a real server only its VIPs."""
    is_director = host in derived["directors"]
    rs_vips = _realserver_vips(derived, host)
    section = {
        "cluster": cluster.name,
        "is_director": is_director,
        "is_realserver": bool(rs_vips),
        "doubles_as_realserver": is_director and bool(rs_vips),
        "directors": derived["directors"],
        "realserver_vips": rs_vips,
    }
    if is_director:
        section.update(vips=_host_vips(derived, cluster, host), **_director_view(derived))
    return section
