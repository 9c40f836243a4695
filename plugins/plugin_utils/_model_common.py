# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks that every part of the cluster model shares: how a finding is reported, ranges,
addresses, paths, unknown fields, a pair's floating address and nodes. Controller-side only;
nothing here imports Ansible.

Every finding reads ``host H: PATH = VALUE: WHAT IS VALID``: the host whose variables hold the
value, the variable path down to the field, the value as written, and what would be valid.
"""
from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema

# A name that ends up in a file or a command line as one word (mon services, DRBD resources,
# rsync modules, clusters). fullmatch and \Z: a trailing newline is not a valid character.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
IFACE_RE = _schema.GRAMMARS["interface"][0]
# A path that a file, a unit or a resource script carries as one word: nothing a shell, a
# configuration parser or a glob reads as more than a character.
PATH_RE = re.compile(r"/(?:[A-Za-z0-9_.@%+=:,-]+/?)*\Z")
PATH_MAX = 255
# The path of an HTTP request that a check or a probe sends: no query, nothing a shell reads as
# more than a character.
URL_PATH_RE = re.compile(r"/[A-Za-z0-9._~%/+=:@,-]{0,254}\Z")
# The kernel's and the running system's own file systems: nothing to replicate or mirror.
PSEUDO_DIRS = ("/dev", "/proc", "/run", "/sys")
# Where no replicated volume or export belongs: the system's own directories.
SYSTEM_DIRS = PSEUDO_DIRS + ("/bin", "/boot", "/etc", "/lib", "/lib32", "/lib64", "/sbin", "/usr", "/var/lib/dpkg",
                             "/var/lib/nfs")
SEGMENTS = ("public", "private")
# Variables that no longer exist, and what replaced them (the message that refuses each).
RETIRED = {
    "lvsha_mirror_primary": "is replaced by lvsha_cluster.preferred (set on the pair's group)",
    "realserver_nat_gateway": "is retired: a nat real server's default route is the directors' floating address in "
                              "its subnet, from the model (lvsha_lvs_vips with segment private for an inside network)",
}


class ModelError(Exception):
    """The model is wrong; ``errors`` holds every finding."""

    def __init__(self, errors: List[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class NotShown:
    """Stands for a secret (or unknown) value in a finding."""

    def __repr__(self) -> str:
        return "(not shown)"


class Findings:
    def __init__(self) -> None:
        self.errors: List[str] = []

    def add(self, host: str, path: str, value: Any, valid: str) -> None:
        self.errors.append(f"host {host}: {path} = {value!r}: {valid}")


# Jinja's default delimiters: a value without any needs no templating.
TEMPLATE_MARKERS = ("{{", "{%", "{#")


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return any(marker in value for marker in TEMPLATE_MARKERS)
    if isinstance(value, Mapping):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_template(item) for item in value)
    return False


def model_variables(hostvars: Any, roles: Iterable[str] = (), hosts: Optional[Iterable[str]] = None) -> Dict[str, Dict[str, Any]]:
    """The model's variables (lvsha_*) of every host of ``hosts`` (the inventory's ``all``; by
    default every host in hostvars, which before ansible-core 2.19 holds the implicit
    localhost too), and those named after ``roles`` (ROLE_*), as plain mappings; a PREFIX__
    name is internal and never read.

    Ansible's hostvars rebuild a host's variables on every lookup and template every value
    read, again for each host: a cluster-wide list set once in group_vars would be templated
    once per host. So each host is read once, through ``raw_get`` where hostvars has it, and
    only a value that holds a template is templated (a value shared by many hosts is scanned
    once). Taking only these keys keeps an unrelated undefined variable on some host from
    breaking a plan.
    """
    public = tuple(prefix + "_" for prefix in ("lvsha", *roles))
    internal = tuple(prefix + "_" for prefix in public)
    raw_get = getattr(hostvars, "raw_get", None)
    scanned: Dict[int, Tuple[Any, bool]] = {}  # id(raw value) -> (the value, holds a template)

    def needs_templating(value: Any) -> bool:
        seen = scanned.get(id(value))
        if seen is None or seen[0] is not value:
            seen = scanned[id(value)] = (value, _has_template(value))
        return seen[1]

    result = {}
    for name in hostvars if hosts is None else hosts:
        source = raw_get(name) if raw_get is not None else hostvars[name]
        templated = None if raw_get is not None else source
        wanted = {}
        for key in source:
            if not key.startswith(public) or key.startswith(internal):
                continue
            if raw_get is not None and not needs_templating(source[key]):
                wanted[key] = source[key]
                continue
            if templated is None:
                templated = hostvars[name]
            wanted[key] = templated[key]
        result[name] = wanted
    return result


INTEGER_RE = re.compile(r"-?[0-9]{1,12}")


def integer(value: Any) -> Optional[int]:
    """An integer, or the digits of one as an INI inventory gives it; None for anything else
    (int() would also take " 5\n", which a template writes with its blanks)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and INTEGER_RE.fullmatch(value):
        return int(value)
    return None


def int_in(find: Findings, host: str, path: str, value: Any, low: int, high: int) -> Optional[int]:
    number = integer(value)
    if number is None:
        find.add(host, path, value, f"must be an integer {low}..{high}")
        return None
    if not low <= number <= high:
        find.add(host, path, value, f"must be {low}..{high}")
        return None
    return number


def in_range(find: Findings, host: str, path: str, value: Any, key: str) -> Optional[int]:
    """``value`` as an integer within the schema's range of field ``key``."""
    return int_in(find, host, path, value, *_schema.bounds(key))


def one_of(find: Findings, host: str, path: str, value: Any, key: str) -> Any:
    """``value`` if it is one of the schema's choices of field ``key``; reported otherwise."""
    allowed = _schema.choices(key)
    if value not in allowed:
        find.add(host, path, value, f"must be one of {', '.join(map(str, allowed))}")
    return value


def flag(find: Findings, host: str, path: str, value: Any) -> bool:
    """A true boolean; the strings "false" and "no" are refused rather than read as true."""
    if not isinstance(value, bool):
        find.add(host, path, value, "must be true or false")
    return value is True


def unknown_field(find: Findings, host: str, path: str, item: Mapping[str, Any], fields: Tuple[str, ...],
                  what: str) -> None:
    """Report the first key of ``item`` that is not one of ``fields`` (listed in that order)."""
    unknown = sorted(set(map(str, item)) - set(fields))
    if unknown:
        find.add(host, f"{path}.{unknown[0]}", item[unknown[0]], f"is not a {what} field; use {', '.join(fields)}")


def mappings(find: Findings, host: str, variable: str, raw: Any, listed: str, each: str,
             what: str) -> Iterator[Tuple[int, str, Mapping[str, Any]]]:
    """(index, path, item) for each mapping of the list ``variable``, whose fields are the schema's: a
    value that is no list (``listed``: what it must be a list of), an item that is no mapping
    (``each``: the fields it must have) and a field of no ``what`` are reported."""
    if not isinstance(raw, list):
        find.add(host, variable, raw, f"must be a list of {listed}")
        return
    for index, item in enumerate(raw):
        path = f"{variable}[{index}]"
        if not isinstance(item, Mapping):
            find.add(host, path, item, f"must be a mapping with {each}")
            continue
        unknown_field(find, host, path, item, _schema.fields(variable), what)
        yield index, path, item


def ipv4(find: Findings, host: str, path: str, value: Any) -> Optional[ipaddress.IPv4Address]:
    try:
        return ipaddress.IPv4Address(str(value))
    except (ipaddress.AddressValueError, ValueError):
        find.add(host, path, value, "must be an IPv4 address such as 192.0.2.50")
        return None


def unicast(find: Findings, host: str, path: str, address: ipaddress.IPv4Address) -> bool:
    """An address one host can hold: not 0.0.0.0, loopback, link-local, multicast or reserved."""
    if address.is_unspecified or address.is_loopback or address.is_link_local or address.is_multicast or address.is_reserved:
        find.add(host, path, str(address), "must be a unicast address of a host (not 0.0.0.0, 127/8, 169.254/16, "
                 "multicast or reserved)")
        return False
    return True


def host_address(find: Findings, hostvars: Mapping[str, Any], host: str, segment: str,
                 asker: str, path: str) -> Optional[str]:
    """``lvsha_<segment>_address`` of ``host``; the error names the variable that needs it."""
    value = hostvars[host].get(f"lvsha_{segment}_address")
    if value is None:
        find.add(host, f"lvsha_{segment}_address", None,
                 f"is required: {path} on {asker} refers to {host}")
        return None
    address = ipv4(find, host, f"lvsha_{segment}_address", value)
    return str(address) if address and unicast(find, host, f"lvsha_{segment}_address", address) else None


def interface(find: Findings, host: str, path: str, value: Any) -> Optional[str]:
    if not isinstance(value, str) or not IFACE_RE.fullmatch(value):
        find.add(host, path, value, "must be a network interface name such as eth1 (1..15 of letters, digits, _.-)")
        return None
    return value


def abs_path(find: Findings, host: str, path: str, value: Any, what: str,
             refused: Tuple[str, ...] = SYSTEM_DIRS) -> Optional[str]:
    """A data directory: absolute, normalised, of PATH_RE's characters, and in none of ``refused``."""
    if not isinstance(value, str) or len(value) > PATH_MAX or not PATH_RE.fullmatch(value) \
            or value != posixpath.normpath(value):
        find.add(host, path, value, f"must be {what}: an absolute, normalised path of letters, digits and "
                 f"_.@%+=:,- (at most {PATH_MAX} characters)")
        return None
    system = next((d for d in refused if value == d or value.startswith(d + "/")), None)
    if system:
        find.add(host, path, value, f"must be {what}, not in the system's directory {system}")
        return None
    return value


def floating_address(find: Findings, host: str, model: Mapping[str, Any], variable: str) -> Optional[Dict[str, Any]]:
    """The pair's floating address ``variable`` {address, prefix, interface}, with its network."""
    raw = model.get(variable)
    if not isinstance(raw, Mapping):
        find.add(host, variable, raw, "is required: a mapping {address, prefix, interface}")
        return None
    unknown_field(find, host, variable, raw, _schema.fields(variable), "VIP")
    iface = raw.get("interface")
    if iface is not None:
        iface = interface(find, host, f"{variable}.interface", iface)
    address = ipv4(find, host, f"{variable}.address", raw.get("address"))
    prefix = in_range(find, host, f"{variable}.prefix", raw.get("prefix", _schema.default(f"{variable}.prefix")), f"{variable}.prefix")
    if address is None or prefix is None:
        return None
    network = floating_network(find, host, f"{variable}.address", address, prefix)
    if network is None:
        return None
    return {"address": str(address), "prefix": prefix, "interface": iface, "network": network}


def floating_network(find: Findings, host: str, path: str, address: ipaddress.IPv4Address,
                     prefix: int) -> Optional[ipaddress.IPv4Network]:
    """The subnet of a floating address, which must be a unicast address that is neither the
    subnet's network nor its broadcast address (no host answers those)."""
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    if not unicast(find, host, path, address):
        return None
    if network.prefixlen <= 30 and address in (network.network_address, network.broadcast_address):
        find.add(host, path, str(address),
                 f"is the {'network' if address == network.network_address else 'broadcast'} address of {network}: "
                 "no host answers it")
        return None
    return network


def check_pair_nodes(find: Findings, hostvars: Mapping[str, Any], nodes: List[str], cluster: str,
                     vip: Optional[Dict[str, Any]], variable: str) -> None:
    """Both interfaces on every node, and its public address in the floating address's subnet."""
    for node in nodes:
        for segment in SEGMENTS:
            if not hostvars.get(node, {}).get(f"lvsha_{segment}_interface"):
                find.add(node, f"lvsha_{segment}_interface", None, f"is required on every node of cluster {cluster}")
        address = host_address(find, hostvars, node, "public", node, f"cluster {cluster}")
        if vip is None or address is None:
            continue
        if ipaddress.IPv4Address(address) not in vip["network"]:
            find.add(node, "lvsha_public_address", address, f"must be inside the VIP's subnet {vip['network']} ({variable})")
        if address == vip["address"]:
            find.add(node, "lvsha_public_address", address, "must differ from the floating address")


def host_vip(vip: Mapping[str, Any], own_interface: Optional[str]) -> Dict[str, Any]:
    """A floating address as one node carries it: on its own interface unless the address names one."""
    return {"address": vip["address"], "prefix": vip["prefix"], "interface": vip["interface"] or own_interface,
            "cidr": f"{vip['address']}/{vip['prefix']}"}


def address_resource(carried: Mapping[str, Any]) -> str:
    """heartbeat's resource for a floating address as a node carries it (host_vip):
    roles/heartbeat/templates/lvsha-address.j2."""
    return f"lvsha-address::{carried['cidr']}::{carried['interface']}"


def pair_members(derived: Mapping[str, Any]) -> List[str]:
    """The hosts a pair part plans for: its two nodes."""
    return list(derived["nodes"])


def pair_floating(derived: Mapping[str, Any], cluster: Any, variable: str) -> List[Tuple[str, str, str]]:
    """(host, variable path, address) of a pair's floating address ``variable``."""
    vip = derived["vip"]
    return [(cluster.source, f"{variable}.address", vip["address"])] if vip else []
