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
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import (
    SCHEDULERS, ValidationError, desired_from_params, with_health)
from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import (
    NAME_RE, SEGMENTS, URL_PATH_RE, Findings, address_resource, flag, floating_network, host_address, host_vip,
    in_range, interface, ipv4, mappings, one_of, unknown_field)

KIND = "lvs"
# The cluster-wide variables: one value for every host of the cluster.
SETTINGS = _schema.settings(KIND)
SERVICE = "lvsha_lvs_services"
CHECK = f"{SERVICE}.check"
REALSERVER = f"{SERVICE}.realservers"
SORRY = f"{SERVICE}.sorry_server"
# The ping check's mon service, and its name in `lvsha ipvs health`.
PING = "ping"


def _vips(find: Findings, host: str, model: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    vips: Dict[str, Dict[str, Any]] = {}
    for index, path, item in mappings(find, host, "lvsha_lvs_vips", model.get("lvsha_lvs_vips") or [],
                                      "{address, prefix, interface}", "address and prefix", "VIP"):
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
        segment = one_of(find, host, f"{path}.segment", item.get("segment", _schema.default("lvsha_lvs_vips.segment")),
                         "lvsha_lvs_vips.segment")
        network = floating_network(find, host, f"{path}.address", address, prefix)
        if network is not None:
            vips[str(address)] = {"address": str(address), "prefix": prefix, "interface": iface, "index": index,
                                  "network": network, "segment": segment}
    return vips


def _persistence_netmask(find: Findings, host: str, path: str, value: Any, persistent: Optional[int]) -> Optional[str]:
    """A contiguous dotted IPv4 netmask, for a persistent service only."""
    if value is None:
        return None
    text = str(value)
    try:
        # ipaddress refuses a mask that is not contiguous, and reads 0.255.255.255 as a host mask.
        if not _schema.GRAMMARS["ipv4"][0].fullmatch(text) or str(ipaddress.IPv4Network(f"0.0.0.0/{text}").netmask) != text:
            raise ValueError(text)
    except ValueError:
        find.add(host, path, value, "must be a contiguous dotted netmask such as 255.255.255.0")
        return None
    if persistent is None:
        find.add(host, path, value, "needs persistent: it groups the clients that a persistent service keeps together")
    return text


def _ports(find: Findings, host: str, path: str, item: Mapping[str, Any]) -> Tuple[Optional[int], Optional[int], List[int]]:
    """(fwmark, port, ports): a plain service's one port, or the ports of the VIP that a firewall-mark
    service gathers under its mark (the directors' nftables rule sets it)."""
    if item.get("fwmark") is None:
        if item.get("ports") is not None:
            find.add(host, f"{path}.ports", item["ports"], "is for fwmark services: set port (one port) or fwmark")
        port = in_range(find, host, f"{path}.port", item.get("port"), f"{SERVICE}.port")
        return None, port, [] if port is None else [port]
    fwmark = in_range(find, host, f"{path}.fwmark", item["fwmark"], f"{SERVICE}.fwmark")
    if item.get("port") is not None:
        find.add(host, f"{path}.port", item["port"], "is for a plain service: a fwmark service takes ports, a list")
    raw = item.get("ports")
    low, high = _schema.field(f"{SERVICE}.ports")["length"]
    if not isinstance(raw, list) or not low <= len(raw) <= high:
        find.add(host, f"{path}.ports", raw, f"must be a list of {low}..{high} ports that the mark gathers, such as [80, 443]")
        return fwmark, None, []
    ports: List[int] = []
    for index, value in enumerate(raw):
        number = in_range(find, host, f"{path}.ports[{index}]", value, f"{SERVICE}.port")
        if number in ports:
            find.add(host, f"{path}.ports[{index}]", number, "is listed twice")
        elif number is not None:
            ports.append(number)
    return fwmark, None, ports


def _timeouts(find: Findings, host: str, raw: Any) -> Dict[str, int]:
    """``lvsha_lvs_timeouts``: the declared connection timeouts (``ipvsadm --set``), the others left
    as the kernel has them."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        find.add(host, "lvsha_lvs_timeouts", raw, "must be a mapping of tcp, tcpfin and udp, in seconds")
        return {}
    unknown_field(find, host, "lvsha_lvs_timeouts", raw, _schema.fields("lvsha_lvs_timeouts"), "timeout")
    values = {name: in_range(find, host, f"lvsha_lvs_timeouts.{name}", value, f"lvsha_lvs_timeouts.{name}")
              for name, value in raw.items() if value is not None and name in _schema.fields("lvsha_lvs_timeouts")}
    return {name: value for name, value in values.items() if value is not None}


def _nat_gateway(vips: Dict[str, Dict[str, Any]], segment: str, address: str) -> Optional[str]:
    """The floating address on ``segment`` whose subnet holds ``address``: a nat real server's
    default route (the first declared, where several would do)."""
    for vip in vips.values():
        if vip["segment"] == segment and vip["prefix"] < 32 and ipaddress.IPv4Address(address) in vip["network"]:
            return vip["address"]
    return None


# What each type of check reads besides the fields every check has: the words of its monitor line.
CHECK_FIELDS = {"http": ("path", "status", "body", "port"), "https": ("path", "status", "body", "port"),
                "tcp": ("port",), "smtp": ("port",), "ping": (), "dns": ("query",), "command": ("command",)}
CHECK_COMMON = ("type", "interval", "alertafter", "alertafter_within", "alertevery", "timeout", "on_failure")
# One word of mon.cf (mon splits a monitor line into words, quotes and all).
BODY_RE = re.compile(r"[A-Za-z0-9._~%/+=:@,!-]{1,128}\Z")
HOSTNAME_RE = re.compile(r"(?=.{1,253}\Z)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?\Z")


def _check(find: Findings, host: str, path: str, raw: Any, watch: bool = False) -> Dict[str, Any]:
    """A service's check (or, with ``watch``, the check of one of ``lvsha_lvs_watches``, which has
    no ``on_failure``): the schema's defaults, then what ``raw`` sets, each field bounded."""
    check = _schema.defaults(CHECK)
    if raw is None:
        return check
    names = tuple(name for name in _schema.fields(CHECK) if not (watch and name == "on_failure"))
    if not isinstance(raw, Mapping):
        find.add(host, path, raw, f"must be a mapping ({', '.join(names)})")
        return check
    unknown_field(find, host, path, raw, names, "check")
    check.update({k: v for k, v in raw.items() if v is not None and k in names})
    kind = one_of(find, host, f"{path}.type", check["type"], f"{CHECK}.type")
    one_of(find, host, f"{path}.on_failure", check["on_failure"], f"{CHECK}.on_failure")
    for name in ("interval", "alertafter", "alertafter_within", "alertevery", "timeout", "status", "port"):
        if name in check:
            check[name] = in_range(find, host, f"{path}.{name}", check[name], f"{CHECK}.{name}")
    unused = set(raw) & set(names) - set(CHECK_FIELDS[kind]) - set(CHECK_COMMON) if kind in CHECK_FIELDS else ()
    for name in sorted(unused):
        if raw[name] is not None:
            find.add(host, f"{path}.{name}", raw[name], f"is not used by a {kind} check")
    if not isinstance(check["path"], str) or not URL_PATH_RE.fullmatch(check["path"]):
        find.add(host, f"{path}.path", check["path"],
                 "must be a URL path starting with /, up to 255 of letters, digits and ._~%/+=:@,- (mon hands it to its monitor)")
    if "body" in check and (not isinstance(check["body"], str) or not BODY_RE.fullmatch(check["body"])):
        find.add(host, f"{path}.body", check["body"], "must be one word of up to 128 letters, digits and ._~%/+=:@,!-")
    if kind == "dns" and (not isinstance(check.get("query"), str) or not HOSTNAME_RE.fullmatch(check["query"])):
        find.add(host, f"{path}.query", check.get("query"), "must be the host name a dns check asks for, such as www.example.com")
    if kind == "command" and (not isinstance(check.get("command"), str)
                              or not _schema.GRAMMARS["mon_alert"][0].fullmatch(check["command"])):
        find.add(host, f"{path}.command", check.get("command"),
                 "must be a monitor and its arguments, such as my-check.monitor -x 5, of letters, digits and "
                 "_.,/@%+=:- separated by single spaces")
    if check.get("alertafter_within") and check["alertafter"] and check["interval"] \
            and check["alertafter_within"] <= (check["alertafter"] - 1) * check["interval"]:
        find.add(host, f"{path}.alertafter_within", check["alertafter_within"],
                 f"must be more than (alertafter - 1) x interval = {(check['alertafter'] - 1) * check['interval']} s: "
                 "mon refuses a window that cannot hold alertafter checks")
    return check


def _ping_check(find: Findings, host: str, raw: Any) -> Optional[Dict[str, Any]]:
    """``lvsha_lvs_ping_check``: the ping every real server's service checks depend on, or None."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        find.add(host, "lvsha_lvs_ping_check", raw, "must be a mapping (interval, alertafter, timeout)")
        return None
    unknown_field(find, host, "lvsha_lvs_ping_check", raw, _schema.fields("lvsha_lvs_ping_check"), "ping check")
    ping = _schema.defaults("lvsha_lvs_ping_check")
    ping.update({k: v for k, v in raw.items() if v is not None and k in ping})
    for name in ping:
        ping[name] = in_range(find, host, f"lvsha_lvs_ping_check.{name}", ping[name], f"lvsha_lvs_ping_check.{name}")
    return ping


def _watches(find: Findings, host: str, raw: Any, hostvars: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """``lvsha_lvs_watches``: other hosts that mon watches, alerting by the mon role's alerts only."""
    watches: List[Dict[str, Any]] = []
    for _index, path, item in mappings(find, host, "lvsha_lvs_watches", raw, "{name, address, check}",
                                       "name, address and check", "watch"):
        name, address = item.get("name"), ipv4(find, host, f"{path}.address", item.get("address"))
        if not isinstance(name, str) or not NAME_RE.match(name):
            find.add(host, f"{path}.name", name, "must be letters, digits, '.', '_' or '-' (it names a mon hostgroup)")
            continue
        if name in hostvars or name in {w["name"] for w in watches}:
            find.add(host, f"{path}.name", name, "is an inventory host's name or another watch's: each watch is a mon "
                                                 "hostgroup, and a real server's is its inventory name")
        if item.get("check") is None:
            find.add(host, f"{path}.check", None, "is required: the check mon runs against the address")
        check = _check(find, host, f"{path}.check", item.get("check"), watch=True)
        if "port" in CHECK_FIELDS.get(check["type"], ()) and "port" not in check:
            find.add(host, f"{path}.check.port", None, f"is required with a {check['type']} check of a watch")
        if address is not None:
            watches.append({"name": name, "address": str(address), "check": check})
    return watches


def _services(find: Findings, host: str, model: Mapping[str, Any], hostvars: Mapping[str, Any],
              vips: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    services: List[Dict[str, Any]] = []
    seen_keys: Dict[Tuple[str, str, int], str] = {}
    seen_names: Dict[str, str] = {}
    seen_marks: Dict[int, str] = {}
    for _index, path, item in mappings(find, host, SERVICE, model.get(SERVICE) or [], "virtual services",
                                       "vip, port and realservers", "service"):
        protocol = one_of(find, host, f"{path}.protocol", item.get("protocol", _schema.default(f"{SERVICE}.protocol")),
                          f"{SERVICE}.protocol")
        vip = ipv4(find, host, f"{path}.vip", item.get("vip"))
        if vip is not None and str(vip) not in vips:
            find.add(host, f"{path}.vip", str(vip),
                     f"is not in lvsha_lvs_vips (declared: {', '.join(vips) or 'none'})")
        fwmark, port, ports = _ports(find, host, path, item)
        scheduler = item.get("scheduler", _schema.default(f"{SERVICE}.scheduler"))
        if scheduler not in SCHEDULERS:
            find.add(host, f"{path}.scheduler", scheduler, f"ipvsadm knows {', '.join(SCHEDULERS)}")
        persistent = item.get("persistent")
        if persistent is not None:
            persistent = in_range(find, host, f"{path}.persistent", persistent, f"{SERVICE}.persistent")
        netmask = _persistence_netmask(find, host, f"{path}.persistence_netmask", item.get("persistence_netmask"),
                                       persistent)
        one_packet = flag(find, host, f"{path}.one_packet", item.get("one_packet", False))
        if one_packet and protocol != "udp":
            find.add(host, f"{path}.one_packet", True, f"is for udp services only (this one is {protocol})")
        forwarding = one_of(find, host, f"{path}.forwarding",
                            item.get("forwarding", _schema.default(f"{SERVICE}.forwarding")), f"{SERVICE}.forwarding")
        name = str(item.get("name") or (f"fwmark-{fwmark}" if fwmark else f"{protocol}-{vip}-{port}"))
        if not NAME_RE.match(name):
            find.add(host, f"{path}.name", name, "must be letters, digits, '.', '_' or '-' (it names a mon service)")
        elif name in seen_names:
            find.add(host, f"{path}.name", name, f"is already used by {seen_names[name]}")
        seen_names[name] = path
        for number in ports if vip is not None else []:
            # A marked port never reaches a plain service on it: IPVS looks up fwmark services first.
            key = (str(protocol), str(vip), number)
            if key in seen_keys:
                find.add(host, f"{path}", f"{protocol} {vip}:{number}", f"duplicate VIP:port, already declared as {seen_keys[key]}")
            seen_keys[key] = path
        if fwmark is not None:
            if fwmark in seen_marks:
                find.add(host, f"{path}.fwmark", fwmark, f"is already the mark of {seen_marks[fwmark]}")
            seen_marks[fwmark] = path
        the_vip = vips.get(str(vip)) if vip else None
        segment = item.get("segment", the_vip["segment"] if the_vip else _schema.default("lvsha_lvs_vips.segment"))
        one_of(find, host, f"{path}.segment", segment, f"{SERVICE}.segment")
        if forwarding == "dr" and the_vip and segment in SEGMENTS and segment != the_vip["segment"]:
            find.add(host, f"{path}.segment", segment,
                     f"direct routing needs the real servers on the VIP's link: {vip} is on segment {the_vip['segment']}")
        # The service as its real servers are checked against it.
        shape = {"forwarding": forwarding, "port": port, "fwmark": fwmark, "segment": segment}
        realservers = _realservers(find, host, path, item.get("realservers"), hostvars, vips, shape)
        sorry = None
        if item.get("sorry_server") is not None:
            sorry = _realserver(find, host, f"{path}.sorry_server", item["sorry_server"], hostvars, vips, shape, SORRY)
            if sorry and sorry["host"] in {rs["host"] for rs in realservers}:
                find.add(host, f"{path}.sorry_server.host", sorry["host"],
                         "is a real server of this service: the sorry server stands in when none can answer")
        services.append({"name": name, "vip": str(vip) if vip else None, "protocol": protocol, "port": port,
                         "fwmark": fwmark, "ports": ports,
                         "scheduler": scheduler, "persistent": persistent, "persistence_netmask": netmask,
                         "one_packet": one_packet, "forwarding": forwarding, "segment": segment, "realservers": realservers, "sorry": sorry,
                         "check": _check(find, host, f"{path}.check", item.get("check"))})
    return services


def _realservers(find: Findings, host: str, path: str, raw: Any, hostvars: Mapping[str, Any],
                 vips: Dict[str, Dict[str, Any]], shape: Dict[str, Any]) -> List[Dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        find.add(host, f"{path}.realservers", raw, "must be a non-empty list of {host, weight, port}")
        return []
    result: List[Dict[str, Any]] = []
    seen: Dict[str, str] = {}
    for index, item in enumerate(raw):
        rpath = f"{path}.realservers[{index}]"
        rs = _realserver(find, host, rpath, item, hostvars, vips, shape, REALSERVER)
        if rs is None:
            continue
        if rs["host"] in seen:
            find.add(host, f"{rpath}.host", rs["host"], f"is already listed as {seen[rs['host']]}")
            continue
        seen[rs["host"]] = rpath
        result.append(rs)
    return result


def _realserver(find: Findings, host: str, rpath: str, item: Any, hostvars: Mapping[str, Any],
                vips: Dict[str, Dict[str, Any]], shape: Dict[str, Any], key: str) -> Optional[Dict[str, Any]]:
    """One real server (or the sorry server) at ``rpath``, whose fields are the schema's ``key``, of a
    service whose ``shape`` is its forwarding, port, fwmark and segment."""
    forwarding, port, fwmark, segment = shape["forwarding"], shape["port"], shape["fwmark"], shape["segment"]
    if isinstance(item, str):
        item = {"host": item}
    if not isinstance(item, Mapping):
        find.add(host, rpath, item, f"must be a mapping with {' and '.join(_schema.fields(key))}")
        return None
    unknown_field(find, host, rpath, item, _schema.fields(key), "real server" if key == REALSERVER else "sorry server")
    name = item.get("host")
    if not isinstance(name, str) or name not in hostvars:
        find.add(host, f"{rpath}.host", name, f"is not an inventory host (known: {', '.join(sorted(hostvars))})")
        return None
    weight = 1
    if "weight" in _schema.fields(key):
        weight = in_range(find, host, f"{rpath}.weight", item.get("weight", _schema.default(f"{key}.weight")),
                          f"{key}.weight")
    rs_port = item.get("port", port)
    if rs_port is not None:
        rs_port = in_range(find, host, f"{rpath}.port", rs_port, f"{key}.port")
    if fwmark and rs_port is not None:
        find.add(host, f"{rpath}.port", rs_port, "must be unset for a fwmark service: each connection keeps its port")
    elif forwarding in ("dr", "tun") and rs_port != port:
        find.add(host, f"{rpath}.port", rs_port, f"must equal the service port {port} with {forwarding} forwarding")
    # A segment that is not one is reported on the service.
    address = host_address(find, hostvars, name, segment, host, f"{rpath}.host") if segment in SEGMENTS else None
    gateway = _nat_gateway(vips, segment, address) if address and forwarding == "nat" else None
    if address and forwarding == "nat" and gateway is None:
        inside = [f"{v['address']}/{v['prefix']}" for v in vips.values() if v["segment"] == segment]
        find.add(host, f"{rpath}.host", name,
                 f"nat needs a floating address of the directors in {name}'s subnet as its default route, but "
                 f"{name} is {address} and the floating addresses on segment {segment} are {', '.join(inside) or 'none'}: "
                 f"declare one in lvsha_lvs_vips with segment {segment} and a prefix that holds {address}")
    interval = None
    if "interval" in _schema.fields(key) and item.get("interval") is not None:
        interval = in_range(find, host, f"{rpath}.interval", item["interval"], f"{key}.interval")
    return {"host": name, "address": address, "port": rs_port, "weight": weight, "nat_gateway": gateway,
            "interval": interval}


def derive(find: Findings, cluster: Any) -> Dict[str, Any]:
    """The cluster's VIPs and services, checked; errors on cluster-wide values name the
    cluster's first director, whose variables are the cluster's source."""
    hostvars, viewer, model = cluster.hostvars, cluster.source, cluster.settings
    directors = cluster.nodes
    vips = _vips(find, viewer, model)
    services = _services(find, viewer, model, hostvars, vips)
    for name in directors:
        for segment in sorted({"public"} | {vip["segment"] for vip in vips.values()}):
            address = host_address(find, hostvars, name, segment, name, f"cluster {cluster.name}")
            if segment != "public" and not hostvars[name].get(f"lvsha_{segment}_interface") \
                    and any(v["segment"] == segment and not v["interface"] for v in vips.values()):
                find.add(name, f"lvsha_{segment}_interface", None,
                         f"is required: a floating address of cluster {cluster.name} is on segment {segment}")
            if address is None:
                continue
            for vip in (v for v in vips.values() if v["segment"] == segment):
                if vip["prefix"] < 32 and ipaddress.IPv4Address(address) not in vip["network"]:
                    find.add(name, f"lvsha_{segment}_address", address,
                             f"must be inside the VIP's subnet {vip['network']} (lvsha_lvs_vips[{vip['index']}] "
                             f"{vip['address']}: prefix {vip['prefix']} is the {segment} segment's; 32 adds the "
                             "address alone)")
                if address == vip["address"]:
                    find.add(name, f"lvsha_{segment}_address", address, "must differ from the floating address")
    methods: Dict[Tuple[str, str], str] = {}
    gateways: Dict[str, str] = {}
    for index, svc in enumerate(services):
        for rs in _serving(svc):
            if rs["nat_gateway"] and rs["host"] in directors:
                # Its default route would point at the floating address it takes over itself.
                find.add(viewer, f"lvsha_lvs_services[{index}].forwarding", "nat",
                         f"{rs['host']} is a director of this cluster: a director cannot be a nat real server")
            if rs["nat_gateway"] and gateways.setdefault(rs["host"], rs["nat_gateway"]) != rs["nat_gateway"]:
                find.add(viewer, f"lvsha_lvs_services[{index}].realservers", rs["host"],
                         f"would route through {rs['nat_gateway']} here and through {gateways[rs['host']]} for "
                         "another nat service: one default route per real server")
            first = methods.setdefault((rs["host"], str(svc["vip"])), svc["forwarding"])
            if first != svc["forwarding"]:
                # DR and TUN put the VIP on lo or tunl0, NAT does not: one host cannot do both.
                find.add(viewer, f"lvsha_lvs_services[{index}].forwarding", svc["forwarding"],
                         f"{rs['host']} is already a {first} real server of {svc['vip']}; "
                         "use one forwarding method per VIP on a real server")
    if not find.errors:
        try:  # the ipvs module's own validation, so that a bad table fails here and not on a host
            desired_from_params([_ipvs_service(svc) for svc in services])
            # And with every real server down, the sorry server in: its address must not clash.
            desired_from_params([with_health(entry, {entry["name"]: list(entry["hosts"])})
                                 for entry in map(_health, services) if "sorry" in entry])
        except ValidationError as exc:
            find.errors.append(f"host {viewer}: lvsha_lvs_services: {exc}")
    listed = {rs["host"] for svc in services for rs in _serving(svc)}
    if cluster.realservers_group is not None:
        for other in cluster.groups.get(cluster.realservers_group) or []:
            if other not in listed:
                find.add(other, f"group {cluster.realservers_group}", other,
                         f"is in group {cluster.realservers_group} but no lvsha_lvs_services entry lists it")
    ping = _ping_check(find, viewer, model.get("lvsha_lvs_ping_check"))
    if ping:
        _ping_first(find, viewer, services, ping)
    return {"vips": vips, "services": services, "directors": directors, "realservers": sorted(listed),
            "nat_gateways": gateways, "timeouts": _timeouts(find, viewer, model.get("lvsha_lvs_timeouts")),
            "ping": ping, "watches": _watches(find, viewer, model.get("lvsha_lvs_watches") or [], hostvars)}


def _ping_first(find: Findings, viewer: str, services: List[Dict[str, Any]], ping: Dict[str, Any]) -> None:
    """With the ping check, a service check must not alert before the ping has failed once: mon
    holds back a dependent's alert only while the ping's last result is a failure, which comes
    at most one ping interval and one ping timeout after the host died."""
    for index, svc in enumerate(services):
        if svc["name"] == PING:
            find.add(viewer, f"lvsha_lvs_services[{index}].name", PING, "is the ping check's mon service (lvsha_lvs_ping_check)")
        check = svc["check"]
        for rs in svc["realservers"]:
            interval = rs["interval"] or check["interval"]
            if None in (interval, check["alertafter"], ping["interval"], ping["timeout"]):
                continue
            if (check["alertafter"] - 1) * interval < ping["interval"] + ping["timeout"]:
                find.add(viewer, f"lvsha_lvs_services[{index}].check.alertafter", check["alertafter"],
                         f"must give the ping its turn first: (alertafter - 1) x interval = "
                         f"{(check['alertafter'] - 1) * interval} s for {rs['host']}, less than lvsha_lvs_ping_check's "
                         f"interval + timeout = {ping['interval'] + ping['timeout']} s, so a dead host would alert twice")
                break


def _serving(svc: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The hosts that answer for a service: its real servers, and its sorry server if it has one."""
    return svc["realservers"] + ([svc["sorry"]] if svc["sorry"] else [])


def members(derived: Dict[str, Any]) -> List[str]:
    """Every host the cluster plans for: its directors and its real servers."""
    return list(dict.fromkeys(derived["directors"] + derived["realservers"]))


def floating(derived: Dict[str, Any], cluster: Any) -> List[Tuple[str, str, str]]:
    """(host, variable path, address) of each floating address the cluster declares."""
    return [(cluster.source, f"lvsha_lvs_vips[{vip['index']}].address", vip["address"])
            for vip in derived["vips"].values()]


def _ipvs_service(svc: Dict[str, Any]) -> Dict[str, Any]:
    """The service as the ``ipvs`` module takes it; a fwmark service has no address or port, and
    its real servers none either (each connection keeps the port it came to)."""
    where = {"protocol": "fwmark", "fwmark": svc["fwmark"]} if svc["fwmark"] else \
        {"protocol": svc["protocol"], "address": svc["vip"], "port": svc["port"]}
    out: Dict[str, Any] = dict(where, scheduler=svc["scheduler"],
                               realservers=[{"address": rs["address"], "port": rs["port"], "forwarding": svc["forwarding"],
                                             "weight": rs["weight"]} for rs in svc["realservers"]])
    if svc["persistent"]:
        out["persistent"] = svc["persistent"]
    if svc["persistence_netmask"]:
        out["netmask"] = svc["persistence_netmask"]
    if svc["one_packet"]:
        out["ops"] = True
    return out


def _monitor(check: Dict[str, Any], port: Optional[int]) -> str:
    """mon's monitor line for ``check``; mon appends the address. Every word is bounded by the
    model (a number, a URL path, one word of text, a host name, or the command's grammar)."""
    kind, timeout = check["type"], check["timeout"]
    if kind in ("http", "https"):
        body = f" -b {check['body']}" if check.get("body") else ""
        return f"lvsha-http.monitor -s {kind} -p {port} -t {timeout} -u {check['path']} -c {check['status']}{body}"
    if kind == "tcp":
        return f"tcp.monitor -p {port} -t {timeout}"
    if kind == "smtp":
        return f"smtp.monitor -p {port} -t {timeout}"
    if kind == "dns":
        return f"dns.monitor -caching_only -query {check['query']} -timeout {timeout}"
    if kind == "command":
        return str(check["command"])
    return f"fping.monitor -t {timeout * 1000}"


def _mon_service(name: str, check: Dict[str, Any], port: Optional[int], interval: Optional[int] = None,
                 depend: Optional[str] = None, monitor: Optional[str] = None) -> Dict[str, Any]:
    """One mon service of a watch, as mon.cf.j2 writes it."""
    return {"name": name, "monitor": monitor or _monitor(check, port), "interval": interval or check["interval"],
            "alertafter": check["alertafter"], "alertafter_within": check.get("alertafter_within"),
            "alertevery": check["alertevery"], "depend": depend}


def director_interface(cluster: Any, host: str, segment: str = "public") -> Optional[str]:
    default = _schema.default("lvsha_public_interface") if segment == "public" else None
    return cluster.hostvars[host].get(f"lvsha_{segment}_interface", default)


def haresources(derived: Dict[str, Any], cluster: Any, host: str) -> List[str]:
    # VIP first: heartbeat starts left to right, so a takeover answers clients as soon as the
    # address moves; the director resource then loads the table and starts mon.
    return [address_resource(v) for v in _host_vips(derived, cluster, host)] + ["lvsha-director"]


def service_watch(derived: Dict[str, Any], cluster: Any, host: str) -> None:
    """Nothing: mon watches the real servers, and a director serves no daemon of its own."""
    return None


def _host_vips(derived: Dict[str, Any], cluster: Any, host: str) -> List[Dict[str, Any]]:
    return [host_vip(vip, director_interface(cluster, host, vip["segment"])) for vip in derived["vips"].values()]


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
        # /etc/lvsha/ipvs.json: what `lvsha ipvs` keeps in the kernel.
        "ipvs": {"services": [_health(svc, bool(derived["ping"])) for svc in services], "timeouts": derived["timeouts"]},
        # The directors' nftables rules: each fwmark service's mark on the packets to its ports.
        "fwmarks": [{"name": svc["name"], "mark": svc["fwmark"], "vip": svc["vip"], "protocol": svc["protocol"],
                     "ports": svc["ports"]} for svc in services if svc["fwmark"]],
        "mon_watches": [_realserver_watch(derived, name, entries[name])
                        for name in derived["realservers"] if name in entries]  # mon leaves a sorry server alone
        + [{"group": w["name"], "address": w["address"], "lvs": False,
            "services": [_mon_service(w["check"]["type"], w["check"], w["check"].get("port"))]}
           for w in derived["watches"]],
    }


def _realserver_watch(derived: Dict[str, Any], host: str, entries: List[Tuple[Dict[str, Any], Dict[str, Any]]]) -> Dict[str, Any]:
    """A real server's watch: the ping check first if there is one, then one mon service per LVS
    service, each depending on the ping."""
    ping = derived["ping"]
    # One try per ping (fping -r 0): its verdict must come before the services' (_ping_first).
    services = [_mon_service(PING, dict(_schema.defaults(CHECK), type="ping", **ping), None,
                             monitor=f"fping.monitor -r 0 -t {ping['timeout'] * 1000}")] if ping else []
    services += [_mon_service(svc["name"], svc["check"], svc["check"].get("port") or rs["port"] or svc["ports"][0],
                              rs["interval"], f"SELF:{PING}" if ping else None) for svc, rs in entries]
    return {"group": host, "address": entries[0][1]["address"], "lvs": True, "services": services}


def _health(svc: Dict[str, Any], ping: bool = False) -> Dict[str, Any]:
    """A service as ``lvsha ipvs`` keeps it: the table entry, each real server's index in it for
    mon's verdicts, the checks whose verdicts count (its own, and the ping's where there is one),
    and the sorry server that stands in while none has weight."""
    entry = {"name": svc["name"], "on_failure": svc["check"]["on_failure"], "service": _ipvs_service(svc),
             "hosts": {rs["host"]: i for i, rs in enumerate(svc["realservers"])},
             "checks": [svc["name"]] + ([PING] if ping else [])}
    if svc["sorry"]:
        entry["sorry"] = {"address": svc["sorry"]["address"], "port": svc["sorry"]["port"],
                          "forwarding": svc["forwarding"], "weight": 1}
    return entry


def _realserver_vips(derived: Dict[str, Any], host: str) -> List[Dict[str, str]]:
    """The VIPs ``host`` answers for as a real server, and how; indexed once per cluster."""
    if "realserver_vips" not in derived:
        index: Dict[str, Dict[str, str]] = {}
        for svc in derived["services"]:
            for rs in _serving(svc):
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
        # A nat real server's default route: the directors' floating address in its subnet.
        "nat_gateway": derived["nat_gateways"].get(host),
    }
    if is_director:
        section.update(vips=_host_vips(derived, cluster, host), **_director_view(derived))
    return section
