# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LVS part of the cluster model: check it, and derive what each host needs.

The model is a handful of inventory variables (see ``roles/director/README.md``):

* per host: ``lvsha_public_address``, ``lvsha_public_interface``, ``lvsha_private_address``,
  ``lvsha_private_interface``;
* cluster wide: ``lvsha_lvs_vips`` (floating addresses the active director holds) and
  ``lvsha_lvs_services`` (virtual services, their real servers by inventory name, the health
  check of each).

:func:`host_plan` turns that into one host's share: the IPVS services in the form the
``lvsha.cluster.ipvs`` module takes, the addresses a real server carries, mon's watches,
heartbeat's resource line. :func:`check_model` checks the whole model across hosts and
returns every error at once, each naming the host, the variable path, the bad value and what
would be valid. Nothing here imports Ansible; ``hostvars`` is any mapping of host name to a
mapping of variables.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._ipvs import SCHEDULERS, ValidationError, desired_from_params

FORWARDING = ("dr", "nat", "tun")
PROTOCOLS = ("tcp", "udp")
CHECK_TYPES = ("http", "tcp", "ping")
ON_FAILURE = ("drain", "remove")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_CHECK = {"type": "tcp", "path": "/", "interval": 5, "alertafter": 2, "alertevery": 600,
                 "timeout": 3, "on_failure": "drain"}
MAX_WEIGHT = 65535
SERVICE_FIELDS = tuple(sorted(("name", "vip", "protocol", "port", "scheduler", "persistent", "forwarding",
                               "realservers", "check")))


class ModelError(Exception):
    """The model is wrong; ``errors`` holds every finding."""

    def __init__(self, errors: List[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class _Findings:
    def __init__(self) -> None:
        self.errors: List[str] = []

    def add(self, host: str, path: str, value: Any, valid: str) -> None:
        self.errors.append(f"host {host}: {path} = {value!r}: {valid}")


def model_variables(hostvars: Any) -> Dict[str, Dict[str, Any]]:
    """The model's variables (lvsha_*) of every host, as plain mappings.

    Ansible's hostvars template lazily: taking only these keeps an unrelated undefined
    variable on some host from breaking a plan.
    """
    return {name: {key: hostvars[name][key] for key in hostvars[name] if key.startswith("lvsha_")}
            for name in hostvars}


def _int_in(find: _Findings, host: str, path: str, value: Any, low: int, high: int) -> Optional[int]:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        find.add(host, path, value, f"must be an integer {low}..{high}")
        return None
    try:
        number = int(value)
    except ValueError:
        find.add(host, path, value, f"must be an integer {low}..{high}")
        return None
    if not low <= number <= high:
        find.add(host, path, value, f"must be {low}..{high}")
        return None
    return number


def _unknown_field(find: _Findings, host: str, path: str, item: Mapping[str, Any], fields: Tuple[str, ...],
                   what: str) -> None:
    """Report the first key of ``item`` that is not one of ``fields`` (listed in that order)."""
    unknown = sorted(set(item) - set(fields))
    if unknown:
        find.add(host, f"{path}.{unknown[0]}", item[unknown[0]], f"is not a {what} field; use {', '.join(fields)}")


def _ipv4(find: _Findings, host: str, path: str, value: Any) -> Optional[ipaddress.IPv4Address]:
    try:
        return ipaddress.IPv4Address(str(value))
    except (ipaddress.AddressValueError, ValueError):
        find.add(host, path, value, "must be an IPv4 address such as 192.0.2.50")
        return None


def _host_address(find: _Findings, hostvars: Mapping[str, Any], host: str, segment: str,
                  asker: str, path: str) -> Optional[str]:
    """``lvsha_<segment>_address`` of ``host``; the error names the variable that needs it."""
    value = hostvars[host].get(f"lvsha_{segment}_address")
    if value is None:
        find.add(host, f"lvsha_{segment}_address", None,
                 f"is required: {path} on {asker} refers to {host}")
        return None
    address = _ipv4(find, host, f"lvsha_{segment}_address", value)
    return str(address) if address else None


def _vips(find: _Findings, host: str, model: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
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
        _unknown_field(find, host, path, item, ("address", "prefix", "interface"), "VIP")
        address = _ipv4(find, host, f"{path}.address", item.get("address"))
        prefix = _int_in(find, host, f"{path}.prefix", item.get("prefix", 24), 1, 32)
        if address is None or prefix is None:
            continue
        if str(address) in vips:
            find.add(host, f"{path}.address", str(address), "is declared twice in lvsha_lvs_vips")
            continue
        vips[str(address)] = {"address": str(address), "prefix": prefix, "interface": item.get("interface"),
                              "network": ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)}
    return vips


def _check(find: _Findings, host: str, path: str, raw: Any) -> Dict[str, Any]:
    check = dict(DEFAULT_CHECK)
    if raw is None:
        return check
    if not isinstance(raw, Mapping):
        find.add(host, path, raw, "must be a mapping (type, path, port, interval, alertafter, alertevery, timeout, on_failure)")
        return check
    _unknown_field(find, host, path, raw, tuple(sorted(set(DEFAULT_CHECK) | {"port"})), "check")
    check.update({k: v for k, v in raw.items() if v is not None})
    if check["type"] not in CHECK_TYPES:
        find.add(host, f"{path}.type", check["type"], f"must be one of {', '.join(CHECK_TYPES)}")
    if check["on_failure"] not in ON_FAILURE:
        find.add(host, f"{path}.on_failure", check["on_failure"], f"must be one of {', '.join(ON_FAILURE)}")
    for name, low, high in (("interval", 1, 86400), ("alertafter", 1, 1000), ("alertevery", 0, 86400),
                            ("timeout", 1, 3600)):
        number = _int_in(find, host, f"{path}.{name}", check[name], low, high)
        if number is not None:
            check[name] = number
    if "port" in check:
        check["port"] = _int_in(find, host, f"{path}.port", check["port"], 1, 65535)
    if not str(check["path"]).startswith("/") or any(c.isspace() for c in str(check["path"])):
        find.add(host, f"{path}.path", check["path"], "must be a URL path starting with / and without spaces")
    return check


def _services(find: _Findings, host: str, model: Mapping[str, Any], hostvars: Mapping[str, Any],
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
        _unknown_field(find, host, path, item, SERVICE_FIELDS, "service")
        protocol = item.get("protocol", "tcp")
        if protocol not in PROTOCOLS:
            find.add(host, f"{path}.protocol", protocol, f"must be one of {', '.join(PROTOCOLS)}")
        vip = _ipv4(find, host, f"{path}.vip", item.get("vip"))
        if vip is not None and str(vip) not in vips:
            find.add(host, f"{path}.vip", str(vip),
                     f"is not in lvsha_lvs_vips (declared: {', '.join(vips) or 'none'})")
        port = _int_in(find, host, f"{path}.port", item.get("port"), 1, 65535)
        scheduler = item.get("scheduler", "wlc")
        if scheduler not in SCHEDULERS:
            find.add(host, f"{path}.scheduler", scheduler, f"ipvsadm knows {', '.join(SCHEDULERS)}")
        persistent = item.get("persistent")
        if persistent is not None:
            persistent = _int_in(find, host, f"{path}.persistent", persistent, 1, 2678400)
        forwarding = item.get("forwarding", "dr")
        if forwarding not in FORWARDING:
            find.add(host, f"{path}.forwarding", forwarding, f"must be one of {', '.join(FORWARDING)}")
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


def _realservers(find: _Findings, host: str, path: str, raw: Any, hostvars: Mapping[str, Any],
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
        _unknown_field(find, host, rpath, item, ("host", "weight", "port"), "real server")
        name = item.get("host")
        if not isinstance(name, str) or name not in hostvars:
            find.add(host, f"{rpath}.host", name, f"is not an inventory host (known: {', '.join(sorted(hostvars))})")
            continue
        if name in seen:
            find.add(host, f"{rpath}.host", name, f"is already listed as {seen[name]}")
            continue
        seen[name] = rpath
        weight = _int_in(find, host, f"{rpath}.weight", item.get("weight", 1), 0, MAX_WEIGHT)
        rs_port = item.get("port", port)
        if rs_port is not None:
            rs_port = _int_in(find, host, f"{rpath}.port", rs_port, 1, 65535)
        if forwarding in ("dr", "tun") and rs_port != port:
            find.add(host, f"{rpath}.port", rs_port, f"must equal the service port {port} with {forwarding} forwarding")
        address = _host_address(find, hostvars, name, "public", host, f"{rpath}.host")
        if address and vip and forwarding == "dr" and ipaddress.IPv4Address(address) not in vip["network"]:
            find.add(host, f"{rpath}.host", name,
                     f"direct routing needs the real server on the VIP's segment {vip['network']}, but {name} is {address}")
        result.append({"host": name, "address": address, "port": rs_port, "weight": weight})
    return result


def _group(groups: Mapping[str, Any], name: str) -> List[str]:
    return list(groups.get(name) or [])


def check_model(hostvars: Mapping[str, Any], groups: Mapping[str, Any], host: Optional[str] = None) -> List[str]:
    """Every error in the LVS model, as seen from ``host`` (default: the first director)."""
    find = _Findings()
    _derive(find, hostvars, groups, host)
    return find.errors


def _derive(find: _Findings, hostvars: Mapping[str, Any], groups: Mapping[str, Any],
            host: Optional[str]) -> Dict[str, Any]:
    directors = _group(groups, "directors")
    viewer = host or (directors[0] if directors else next(iter(hostvars), "localhost"))
    model = hostvars.get(viewer, {})
    vips = _vips(find, viewer, model)
    services = _services(find, viewer, model, hostvars, vips)
    if services and len(directors) != 2:
        find.add(viewer, "groups.directors", directors,
                 "heartbeat's haresources mode takes exactly two directors")
    for name in directors:
        address = _host_address(find, hostvars, name, "public", name, "group directors")
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
    for other in _group(groups, "realservers"):
        if other not in {rs["host"] for svc in services for rs in svc["realservers"]}:
            find.add(other, "group realservers", other, "is in group realservers but no lvsha_lvs_services entry lists it")
    return {"viewer": viewer, "vips": vips, "services": services, "directors": directors}


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


def host_plan(hostvars: Mapping[str, Any], host: str, groups: Mapping[str, Any]) -> Dict[str, Any]:
    """What ``host`` needs from the LVS model; raises ModelError listing every problem."""
    find = _Findings()
    derived = _derive(find, hostvars, groups, host)
    if find.errors:
        raise ModelError(find.errors)
    services = derived["services"]
    own = hostvars[host]
    is_director = host in derived["directors"]
    rs_vips: Dict[str, str] = {}
    for svc in services:
        if any(rs["host"] == host for rs in svc["realservers"]):
            rs_vips.setdefault(svc["vip"], svc["forwarding"])
    interface = own.get("lvsha_public_interface", "eth0")
    vips = [{"address": v["address"], "prefix": v["prefix"], "interface": v["interface"] or interface,
             "cidr": f"{v['address']}/{v['prefix']}"} for v in derived["vips"].values()]
    watches = []
    for name in sorted({rs["host"] for svc in services for rs in svc["realservers"]}):
        entries = [(svc, rs) for svc in services for rs in svc["realservers"] if rs["host"] == name]
        watches.append({"group": name, "address": entries[0][1]["address"],
                        "services": [{"name": svc["name"], "monitor": _monitor(svc, rs),
                                      "interval": svc["check"]["interval"], "alertafter": svc["check"]["alertafter"],
                                      "alertevery": svc["check"]["alertevery"]} for svc, rs in entries]})
    return {
        "is_director": is_director,
        "is_realserver": bool(rs_vips),
        "doubles_as_realserver": is_director and bool(rs_vips),
        "directors": derived["directors"],
        "vips": vips,
        "ipvs_services": [_ipvs_service(svc) for svc in services],
        "health": [{"name": svc["name"], "on_failure": svc["check"]["on_failure"],
                    "service": _ipvs_service(svc),
                    "hosts": {rs["host"]: i for i, rs in enumerate(svc["realservers"])}} for svc in services],
        "realserver_vips": [{"address": a, "forwarding": f} for a, f in sorted(rs_vips.items())],
        "mon_watches": watches,
        # VIP first: heartbeat starts left to right, so a takeover answers clients as soon as the
        # address moves; the director resource then loads the table and starts mon.
        "haresources": [f"IPaddr2::{v['cidr']}/{v['interface']}" for v in vips] + ["lvsha-director"],
    }
