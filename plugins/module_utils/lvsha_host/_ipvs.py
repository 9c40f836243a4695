# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private helpers for the IPVS modules of lvsha.cluster.

Pure logic (data model, parsers of ipvsadm output, validation, difference, rendering)
plus one runner for the ipvsadm command line. Nothing here imports Ansible, so the
``lvsha ipvs`` command of this package (ipvs.py), which the heartbeat resource and mon's
alert run on a director, reconciles with the same code::

    runner = IpvsadmRunner("/usr/sbin/ipvsadm", run_subprocess)
    live = runner.read_table()
    lines = plan(live, desired_from_params(services), purge=False, purge_realservers=False)

Output formats follow the ipvsadm 1.31 sources (``ipvsadm.c``: ``print_service_entry``,
``print_tunnel_rule``, ``print_title``, ``list_all``, ``list_timeout``, ``list_daemon``):

* ``-S`` prints ``-A <svc> -s <sched>[ -p <timeout>[ -M <mask>]][ --pe <pe>][ -o][ -b <flags>]``
  and ``-a <svc> -r <rs> -g|-m|-i -w <weight>``; tunnel servers get ``--tun-type ipip``,
  ``--tun-type gue --tun-port <port> --tun-nocsum|--tun-csum|--tun-remcsum`` or
  ``--tun-type gre --tun-nocsum|...``. ``-M`` appears only for persistent services with a
  non-default mask (IPv4 other than 255.255.255.255, IPv6 other than 128). ``-S`` never
  prints the ``-x``/``-y`` thresholds, so they are read from ``-L --thresholds``.
* ``<svc>`` is ``-t|-u|--sctp-service ADDR:PORT`` (IPv6 in brackets), ``-f MARK`` or
  ``-f MARK -6``; fwmark real servers are printed with port 0.
"""
from __future__ import annotations

import copy
import ipaddress
import os
import re
import socket
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos")
DEFAULT_SCHEDULER = "wlc"
PROTOCOLS = ("tcp", "udp", "sctp", "fwmark")
FORWARDING = ("dr", "nat", "tun")
TUN_TYPES = ("ipip", "gue", "gre")
TUN_CHECKSUMS = ("nocsum", "csum", "remcsum")
MAX_PERSISTENT = 86400 * 31  # MAX_TIMEOUT in ipvsadm.c
MAX_WEIGHT = 65535
MAX_THRESHOLD = 2147483647  # INT_MAX, the bound ipvsadm checks -x/-y against
MAX_FWMARK = 4294967295

PROC_IPVS = "/proc/net/ip_vs"
C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
# What ipvsadm prints when it cannot talk to IPVS (main() in ipvsadm.c, after its own modprobe:
# ipvsadm loads ip_vs by itself, so this means the module could not be loaded).
NOT_LOADED_MARKERS = ("Can't initialize ipvs", "Protocol not available")
# The same "Can't initialize ipvs: ..." line reports a caller without CAP_NET_ADMIN
# (ipvs_strerror(EPERM)); that is not a missing module, and modprobe would not help.
NOT_PERMITTED_MARKER = "Permission denied"

# Scheduler flag bits (IP_VS_SVC_F_SCHED1..3) and their names per scheduler, as
# print_sched_flags() names them.
_FLAG_BITS = {
    "flag-1": 1, "flag-2": 2, "flag-3": 4,
    "sh-fallback": 1, "sh-port": 2,
    "mh-fallback": 1, "mh-port": 2,
}
_FLAG_SCHEDULER = {"sh-fallback": "sh", "sh-port": "sh", "mh-fallback": "mh", "mh-port": "mh"}
SCHEDULER_FLAGS = tuple(_FLAG_BITS)


def _flag_names(scheduler: str, bits: int) -> List[str]:
    if scheduler in ("sh", "mh"):
        names = (f"{scheduler}-fallback", f"{scheduler}-port", "flag-3")
    else:
        names = ("flag-1", "flag-2", "flag-3")
    return [name for bit, name in zip((1, 2, 4), names) if bits & bit]


_SVC_OPTION = {"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}
_FWD_OPTION = {"dr": "-g", "nat": "-m", "tun": "-i"}
_PROTO_NUMBER = {"tcp": 6, "udp": 17, "sctp": 132, "fwmark": 0}


class IpvsError(Exception):
    """Base class of the errors raised here."""


class ValidationError(IpvsError):
    """The requested table is invalid; raised before anything is touched."""


class ParseError(IpvsError):
    """ipvsadm output (or a saved rules file) could not be understood."""


class IpvsNotLoaded(IpvsError):
    """ipvsadm could not talk to IPVS: the ip_vs kernel module is not loaded."""

    def __init__(self, msg: str, cmd: List[str], rc: int, out: str, err: str) -> None:
        super().__init__(msg)
        self.cmd, self.rc, self.out, self.err = cmd, rc, out, err


class CommandError(IpvsError):
    """A command failed; carries what Ansible's fail_json wants to show."""

    def __init__(self, msg: str, cmd: List[str], rc: int, out: str, err: str,
                 commands: Optional[List[str]] = None) -> None:
        super().__init__(msg)
        self.cmd, self.rc, self.out, self.err = cmd, rc, out, err
        self.commands = commands


# --------------------------------------------------------------------------- addresses

_ADDR_CACHE: Dict[str, Tuple[str, str]] = {}


def canonical_address(text: str) -> Tuple[str, str]:
    """Return ``(canonical text, family)`` of an IPv4 or IPv6 address; raise ValueError.

    ``2001:DB8::1`` and ``2001:db8:0::1`` give the same text. The text is what libc's
    inet_ntop() prints, which is also how ipvsadm prints addresses, so canonical desired
    addresses compare equal to parsed ipvsadm output without a round trip through objects.
    """
    hit = _ADDR_CACHE.get(text)
    if hit is None:
        family = socket.AF_INET6 if ":" in text else socket.AF_INET
        try:
            canon = socket.inet_ntop(family, socket.inet_pton(family, text.strip()))
        except (OSError, ValueError, TypeError):
            raise ValueError(f"{text!r} is not an IPv4 or IPv6 address") from None
        hit = (canon, "ipv6" if family == socket.AF_INET6 else "ipv4")
        if len(_ADDR_CACHE) < 200000:
            _ADDR_CACHE[text] = hit
    return hit


def _packed(address: str) -> bytes:
    """Sort key of a canonical address: its network-order bytes (IPv4 sorts before IPv6)."""
    if ":" in address:
        return b"\x01" + socket.inet_pton(socket.AF_INET6, address)
    return b"\x00" + socket.inet_pton(socket.AF_INET, address)


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return port


def split_hostport(text: str) -> Tuple[str, Optional[int]]:
    """Split ``192.0.2.1:80``, ``[2001:db8::1]:80``, ``192.0.2.1`` or ``2001:db8::1``; ValueError if bad."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unbalanced bracket in {text!r}")
        rest = text[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad port in {text!r}")
        return text[1:end], (_port(rest[1:]) if rest else None)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, _port(port)
    return text, None


# --------------------------------------------------------------------------- data model

ServiceKey = Tuple[str, str, int]
RealServerKey = Tuple[str, int]


@dataclass
class RealServer:
    """One destination of a virtual service (``-a``/``-e``/``-d``)."""

    address: str
    port: int
    forwarding: str = "dr"
    weight: int = 1
    u_threshold: int = 0
    l_threshold: int = 0
    tun_type: Optional[str] = None
    tun_port: Optional[int] = None
    tun_checksum: Optional[str] = None
    state: str = "present"
    label: str = ""
    info: Dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> RealServerKey:
        return (self.address, self.port)

    @property
    def hostport(self) -> str:
        return _hostport(self.address, self.port)

    def options(self) -> str:
        """Everything after ``-r ADDR:PORT`` on an ``-a``/``-e`` line."""
        text = f"{_FWD_OPTION.get(self.forwarding, '-g')} -w {self.weight}"
        if self.u_threshold:
            text += f" -x {self.u_threshold}"
        if self.l_threshold:
            text += f" -y {self.l_threshold}"
        if self.forwarding == "tun" and self.tun_type:
            text += f" --tun-type {self.tun_type}"
            if self.tun_type == "gue":
                text += f" --tun-port {self.tun_port or 0}"
            if self.tun_type in ("gue", "gre"):
                text += f" --tun-{self.tun_checksum or 'nocsum'}"
        return text

    def to_dict(self, tunnel: bool = True) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "address": self.address,
            "port": self.port,
            "forwarding": self.forwarding,
            "weight": self.weight,
            "u_threshold": self.u_threshold,
            "l_threshold": self.l_threshold,
        }
        if tunnel:
            data["tun_type"] = self.tun_type
            data["tun_port"] = self.tun_port
            data["tun_checksum"] = self.tun_checksum
        data.update(self.info)
        return data


@dataclass
class Service:
    """One virtual service (``-A``/``-E``/``-D``) and its real servers."""

    protocol: str
    family: str
    address: Optional[str] = None
    port: Optional[int] = None
    fwmark: Optional[int] = None
    scheduler: str = DEFAULT_SCHEDULER
    flags: int = 0
    persistent: Optional[int] = None
    netmask: Optional[str] = None
    ops: bool = False
    pe: Optional[str] = None
    realservers: Dict[RealServerKey, RealServer] = field(default_factory=dict)
    state: str = "present"
    label: str = ""
    info: Dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> ServiceKey:
        if self.protocol == "fwmark":
            return ("fwmark", self.family, self.fwmark or 0)
        return (self.protocol, self.address or "", self.port or 0)

    @property
    def name(self) -> str:
        """Human name: ``tcp 192.0.2.10:80``, ``fwmark 7``, ``fwmark 7 ipv6``."""
        if self.protocol == "fwmark":
            return f"fwmark {self.fwmark}" + (" ipv6" if self.family == "ipv6" else "")
        return f"{self.protocol} {_hostport(self.address or '', self.port or 0)}"

    @property
    def selector(self) -> str:
        """The service as ipvsadm names it on a rule line: ``-t 192.0.2.10:80``."""
        if self.protocol == "fwmark":
            return f"-f {self.fwmark}" + (" -6" if self.family == "ipv6" else "")
        return f"{_SVC_OPTION[self.protocol]} {_hostport(self.address or '', self.port or 0)}"

    @property
    def scheduler_flags(self) -> List[str]:
        return _flag_names(self.scheduler, self.flags)

    def options(self) -> str:
        """Everything after the selector on an ``-A``/``-E`` line, in ipvsadm -S order."""
        text = f"-s {self.scheduler}"
        if self.persistent is not None:
            text += f" -p {self.persistent}"
            if self.netmask is not None:
                text += f" -M {self.netmask}"
        if self.pe:
            text += f" --pe {self.pe}"
        if self.ops:
            text += " -o"
        if self.flags:
            text += " -b " + ",".join(self.scheduler_flags)
        return text

    def settings(self) -> Dict[str, Any]:
        return {
            "scheduler": self.scheduler,
            "scheduler_flags": self.scheduler_flags,
            "persistent": self.persistent,
            "netmask": self.netmask,
            "ops": self.ops,
        }

    def copy(self, realservers: Optional[Dict[RealServerKey, RealServer]] = None) -> "Service":
        return Service(self.protocol, self.family, self.address, self.port, self.fwmark, self.scheduler,
                       self.flags, self.persistent, self.netmask, self.ops, self.pe,
                       dict(self.realservers) if realservers is None else realservers)

    def to_dict(self, tunnel: bool = True) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "protocol": self.protocol,
            "family": self.family,
            "address": self.address,
            "port": self.port,
            "fwmark": self.fwmark,
        }
        data.update(self.settings())
        data["persistence_engine"] = self.pe
        data.update(self.info)
        data["realservers"] = [rs.to_dict(tunnel) for rs in sorted_realservers(self)]
        return data


class Table:
    """An IPVS table: services keyed by ``(protocol, address, port)`` or ``("fwmark", family, mark)``."""

    def __init__(self, services: Optional[Dict[ServiceKey, Service]] = None) -> None:
        self.services: Dict[ServiceKey, Service] = services if services is not None else {}
        self.info: Dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.services)

    def to_list(self, tunnel: bool = True) -> List[Dict[str, Any]]:
        return [svc.to_dict(tunnel) for svc in sorted_services(self)]


# Above this many entries (services and real servers) a module returns the table only when
# asked (return_table: always): copying a result through Ansible costs more than the kernel's
# work at tens of thousands of entries.
TABLE_LIMIT = 1000
RETURN_TABLE_CHOICES = ("auto", "always", "never")


def table_result(table: "Table", key: str, return_table: str, tunnel: bool = True) -> Dict[str, Any]:
    """``counts`` of the table, and the table itself under ``key`` as ``return_table`` says."""
    realservers = sum(len(svc.realservers) for svc in table.services.values())
    result: Dict[str, Any] = {"counts": {"services": len(table.services), "realservers": realservers}}
    if return_table == "always" or (return_table == "auto" and len(table.services) + realservers <= TABLE_LIMIT):
        result[key] = table.to_list(tunnel)
    return result


def _service_sort_key(svc: Service) -> Tuple[int, int, int, bytes, int]:
    # One canonical order: address services by family, protocol, address and port, then fwmarks.
    family = 10 if svc.family == "ipv6" else 2
    if svc.protocol == "fwmark":
        return (svc.fwmark or 0, family, 0, b"", 0)
    return (0, family, _PROTO_NUMBER[svc.protocol], _packed(svc.address or "0.0.0.0"), svc.port or 0)


def _rs_sort_key(rs: RealServer) -> Tuple[bytes, int]:
    return (_packed(rs.address), rs.port)


def sorted_services(table: Table) -> List[Service]:
    return sorted(table.services.values(), key=_service_sort_key)


def sorted_realservers(svc: Service) -> List[RealServer]:
    return sorted(svc.realservers.values(), key=_rs_sort_key)


# --------------------------------------------------------------------------- parsers

_OPT_SERVICE = {"-t": "tcp", "--tcp-service": "tcp", "-u": "udp", "--udp-service": "udp",
                "--sctp-service": "sctp", "-f": "fwmark", "--fwmark-service": "fwmark"}
_OPT_FWD = {"-g": "dr", "--gatewaying": "dr", "-m": "nat", "--masquerading": "nat",
            "-i": "tun", "--ipip": "tun"}
_OPT_VALUE = {"-s": "scheduler", "--scheduler": "scheduler", "-M": "netmask", "--netmask": "netmask",
              "--pe": "pe", "-r": "server", "--real-server": "server", "-w": "weight", "--weight": "weight",
              "-x": "u_threshold", "--u-threshold": "u_threshold", "-y": "l_threshold",
              "--l-threshold": "l_threshold", "--tun-type": "tun_type", "--tun-port": "tun_port"}
_OPT_CSUM = {"--tun-nocsum": "nocsum", "--tun-csum": "csum", "--tun-remcsum": "remcsum"}
_RULE_COMMANDS = {"-A": "A", "--add-service": "A", "-a": "a", "--add-server": "a"}


def _rule_options(tokens: List[str], where: str) -> Dict[str, Any]:
    opts: Dict[str, Any] = {}
    i, count = 1, len(tokens)
    while i < count:
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < count else None
        if tok in _OPT_SERVICE:
            if nxt is None:
                raise ParseError(f"{where}: {tok} needs a value")
            opts["protocol"], opts["service"] = _OPT_SERVICE[tok], nxt
            i += 2
        elif tok in _OPT_VALUE:
            if nxt is None:
                raise ParseError(f"{where}: {tok} needs a value")
            opts[_OPT_VALUE[tok]] = nxt
            i += 2
        elif tok in _OPT_FWD:
            opts["forwarding"] = _OPT_FWD[tok]
            i += 1
        elif tok in _OPT_CSUM:
            opts["tun_checksum"] = _OPT_CSUM[tok]
            i += 1
        elif tok in ("-6", "--ipv6"):
            opts["ipv6"] = True
            i += 1
        elif tok in ("-o", "--ops"):
            opts["ops"] = True
            i += 1
        elif tok in ("-p", "--persistent"):
            # the timeout is optional for ipvsadm (default 300); -S always prints it
            if nxt is not None and nxt.isdigit():
                opts["persistent"] = nxt
                i += 2
            else:
                opts["persistent"] = "300"
                i += 1
        elif tok in ("-b", "--sched-flags"):
            # print_sched_flags() may print nothing after -b (flag-3 on sh/mh)
            if nxt is not None and not nxt.startswith("-"):
                opts["flags"] = nxt
                i += 2
            else:
                opts["flags"] = ""
                i += 1
        else:
            raise ParseError(f"{where}: unexpected {tok!r}")
    return opts


def _int(value: str, where: str, what: str, low: int = 0, high: int = MAX_FWMARK) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ParseError(f"{where}: {what} {value!r} is not a number") from None
    if not low <= number <= high:
        raise ParseError(f"{where}: {what} {number} is out of range")
    return number


def _service_from_opts(opts: Dict[str, Any], where: str) -> Service:
    protocol = opts.get("protocol")
    if protocol is None:
        raise ParseError(f"{where}: no service (-t, -u, --sctp-service or -f)")
    if protocol == "fwmark":
        mark = _int(opts["service"], where, "fwmark", -2147483648, MAX_FWMARK)
        # ipvsadm prints the mark with %d: marks above 2^31 come out negative
        return Service("fwmark", "ipv6" if opts.get("ipv6") else "ipv4", fwmark=mark & 0xFFFFFFFF)
    try:
        host, port = split_hostport(opts["service"])
        address, family = canonical_address(host)
    except ValueError:
        raise ParseError(f"{where}: cannot read service address {opts['service']!r} (use ipvsadm -n)") from None
    return Service(protocol, family, address=address, port=port or 0)


# The plain real-server line of ipvsadm -S (no tunnel options, no thresholds): parsed
# without the general option walk, because tables hold thousands of them.
_PLAIN_RS_LINE = re.compile(r"-a (-[tuf] \S+(?: -6)?|--sctp-service \S+) -r (\S+) -([gmi]) -w (\d+)$")
_PLAIN_FWD = {"g": "dr", "m": "nat", "i": "tun"}


def parse_save(text: str) -> Table:
    """Parse ``ipvsadm -Sn`` output (or a file in that format) into a Table."""
    table = Table()
    services = table.services
    by_selector: Dict[str, Service] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        plain = _PLAIN_RS_LINE.match(line)
        if plain is not None:
            owner = by_selector.get(plain.group(1))
            weight = int(plain.group(4))
            if owner is not None and weight <= MAX_WEIGHT and plain.group(3) != "i":
                try:
                    host, port = split_hostport(plain.group(2))
                    address = canonical_address(host)[0]
                except ValueError:
                    raise ParseError(f"line {lineno} ({line}): cannot read real server {plain.group(2)!r}") from None
                rs = RealServer(address, (owner.port or 0) if port is None else port,
                                _PLAIN_FWD[plain.group(3)], weight)
                owner.realservers[rs.key] = rs
                continue
        tokens = line.split()
        where = f"line {lineno} ({line})"
        command = _RULE_COMMANDS.get(tokens[0])
        if command is None:
            raise ParseError(f"{where}: expected -A or -a")
        opts = _rule_options(tokens, where)
        svc = _service_from_opts(opts, where)
        if command == "A":
            svc.scheduler = opts.get("scheduler", DEFAULT_SCHEDULER)
            if "persistent" in opts:
                svc.persistent = _int(opts["persistent"], where, "persistence timeout", 0, MAX_PERSISTENT)
                if "netmask" in opts:
                    try:
                        svc.netmask = _canonical_netmask(opts["netmask"], svc.family, strict=False)
                    except ValueError as exc:
                        raise ParseError(f"{where}: {exc}") from None
            svc.pe = opts.get("pe")
            svc.ops = bool(opts.get("ops"))
            if opts.get("flags"):
                svc.flags = _flag_bits(opts["flags"].split(","), where)
            if svc.key in services:
                raise ParseError(f"{where}: service {svc.name} listed twice")
            services[svc.key] = svc
            by_selector[" ".join(tokens[1:3 + bool(opts.get("ipv6") and tokens[3:4] == ["-6"])])] = svc
            continue
        owner = services.get(svc.key)
        if owner is None:
            raise ParseError(f"{where}: real server of unknown service {svc.name}")
        if "server" not in opts:
            raise ParseError(f"{where}: -a without -r")
        rs = _realserver_from_opts(opts, owner, where)
        owner.realservers[rs.key] = rs
    return table


def _realserver_from_opts(opts: Dict[str, Any], owner: Service, where: str) -> RealServer:
    try:
        host, port = split_hostport(opts["server"])
        address = canonical_address(host)[0]
    except ValueError:
        raise ParseError(f"{where}: cannot read real server {opts['server']!r} (use ipvsadm -n)") from None
    rs = RealServer(address, (owner.port or 0) if port is None else port)
    rs.forwarding = opts.get("forwarding", "dr")
    if "weight" in opts:
        rs.weight = _int(opts["weight"], where, "weight", 0, MAX_WEIGHT)
    if "u_threshold" in opts:
        rs.u_threshold = _int(opts["u_threshold"], where, "u-threshold", 0, MAX_THRESHOLD)
    if "l_threshold" in opts:
        rs.l_threshold = _int(opts["l_threshold"], where, "l-threshold", 0, MAX_THRESHOLD)
    if rs.forwarding == "tun" and "tun_type" in opts:
        rs.tun_type = opts["tun_type"]
        if rs.tun_type not in TUN_TYPES:
            raise ParseError(f"{where}: unknown tunnel type {rs.tun_type!r}")
        if rs.tun_type == "gue":
            rs.tun_port = _int(opts.get("tun_port", "0"), where, "tunnel port", 0, 65535)
        if rs.tun_type in ("gue", "gre"):
            rs.tun_checksum = opts.get("tun_checksum", "nocsum")
    return rs


def _flag_bits(names: Iterable[str], where: str) -> int:
    bits = 0
    for name in names:
        if name not in _FLAG_BITS:
            raise ParseError(f"{where}: unknown scheduler flag {name!r}")
        bits |= _FLAG_BITS[name]
    return bits


def _canonical_netmask(value: Any, family: str, strict: bool = True) -> Optional[str]:
    """Canonical persistence netmask; None means the default (/32 or /128). Raises ValueError.

    IPv6 masks are prefix lengths (``64``). IPv4 masks are dotted (``255.255.255.0``); with
    ``strict`` (user input) a prefix length is converted and the mask must be contiguous,
    without it (ipvsadm output) any dotted value is kept as the kernel holds it.
    """
    text = str(value).strip().lstrip("/")
    if family == "ipv6":
        length = int(text)
        if not 1 <= length <= 128:
            raise ValueError(f"IPv6 persistence netmask must be a prefix length 1..128, not {value!r}")
        return None if length == 128 else str(length)
    if text.isdigit():
        if not strict:
            raise ValueError(f"IPv4 netmask {value!r} is not dotted")
        mask = str(ipaddress.IPv4Network(f"0.0.0.0/{int(text)}").netmask)
    else:
        mask = str(ipaddress.IPv4Address(text))
        if strict and str(ipaddress.IPv4Network(f"0.0.0.0/{mask}").netmask) != mask:
            raise ValueError(f"IPv4 netmask {value!r} is not contiguous")
    return None if mask == "255.255.255.255" else mask


# -L output: header, titles, service and destination lines (print_service_entry).
_FWD_NAMES = {"Route": "dr", "Masq": "nat", "Tunnel": "tun", "Local": "local"}
_HEADER_RE = re.compile(r"^IP Virtual Server version (\S+) \(size=(\d+)\)")
_SUFFIX = {"K": 1000, "M": 1000000, "G": 1000000000, "T": 1000000000000}
STAT_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
RATE_FIELDS = ("cps", "inpps", "outpps", "inbps", "outbps")


def _number(text: str, where: str) -> int:
    try:
        if text[-1] in _SUFFIX:  # print_largenum() without --exact
            return int(text[:-1]) * _SUFFIX[text[-1]]
        return int(text)
    except (ValueError, IndexError):
        raise ParseError(f"{where}: {text!r} is not a number") from None


def _list_service(tokens: List[str], where: str) -> Tuple[Service, int]:
    proto = tokens[0]
    if proto == "FWM":
        if len(tokens) < 2:
            raise ParseError(f"{where}: FWM without mark")
        mark = _int(tokens[1], where, "fwmark", -2147483648, MAX_FWMARK) & 0xFFFFFFFF
        if len(tokens) > 2 and tokens[2] == "IPv6":
            return Service("fwmark", "ipv6", fwmark=mark), 3
        return Service("fwmark", "ipv4", fwmark=mark), 2
    protocol = proto.lower()
    if protocol not in _SVC_OPTION or len(tokens) < 2:
        raise ParseError(f"{where}: unexpected service line")
    try:
        host, port = split_hostport(tokens[1])
        address, family = canonical_address(host)
    except ValueError:
        raise ParseError(f"{where}: cannot read {tokens[1]!r} (use ipvsadm -n)") from None
    return Service(protocol, family, address=address, port=port or 0), 2


def parse_list(text: str, mode: str = "list") -> Table:
    """Parse ``ipvsadm -Ln`` output.

    ``mode`` names the extra option the listing was made with: ``list`` (none),
    ``thresholds``, ``stats`` (``--stats --exact``), ``rates`` (``--rate --exact``) or
    ``persistent_conn`` (``--persistent-conn``, which shows no forwarding method).
    Values land in the objects' fields (weight, forwarding, thresholds) or their ``info``
    dict (activeconns, inactconns, persistconns, stats, rates). Table.info gets version and size.
    """
    table = Table()
    current: Optional[Service] = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        where = f"line {lineno} ({raw.strip()})"
        header = _HEADER_RE.match(raw) if raw.startswith("IP Virtual") else None
        if header:
            table.info = {"version": header.group(1), "size": int(header.group(2))}
            continue
        tokens = raw.split()
        if tokens[0] == "Prot" or (tokens[0] == "->" and len(tokens) > 1 and tokens[1].startswith("RemoteAddress")):
            continue
        if tokens[0] == "->":
            if current is None:
                raise ParseError(f"{where}: real server before any service")
            rs = _list_realserver(tokens, mode, where)
            current.realservers[rs.key] = rs
            continue
        current, idx = _list_service(tokens, where)
        rest = tokens[idx:]
        if mode in ("stats", "rates"):
            if len(rest) != 5:
                raise ParseError(f"{where}: expected 5 counters")
            current.info[mode] = dict(zip(STAT_FIELDS if mode == "stats" else RATE_FIELDS,
                                          (_number(v, where) for v in rest)))
        else:
            _list_service_settings(current, rest, where)
        table.services[current.key] = current
    return table


def _list_service_settings(svc: Service, rest: List[str], where: str) -> None:
    if not rest:
        raise ParseError(f"{where}: no scheduler")
    svc.scheduler = rest[0]
    i = 1
    while i < len(rest):
        tok = rest[i]
        if tok.startswith("(") and tok.endswith(")"):
            svc.flags = _flag_bits([f for f in tok[1:-1].split(",") if f], where)
            i += 1
        elif tok == "persistent" and i + 1 < len(rest):
            svc.persistent = _int(rest[i + 1], where, "persistence timeout", 0, MAX_PERSISTENT)
            i += 2
        elif tok == "mask" and i + 1 < len(rest):
            try:
                svc.netmask = _canonical_netmask(rest[i + 1], svc.family, strict=False)
            except ValueError as exc:
                raise ParseError(f"{where}: {exc}") from None
            i += 2
        elif tok == "pe" and i + 1 < len(rest):
            svc.pe = rest[i + 1]
            i += 2
        elif tok == "ops":
            svc.ops = True
            i += 1
        else:
            raise ParseError(f"{where}: unexpected {tok!r}")


def _list_realserver(tokens: List[str], mode: str, where: str) -> RealServer:
    try:
        host, port = split_hostport(tokens[1])
        address = canonical_address(host)[0]
    except (ValueError, IndexError):
        raise ParseError(f"{where}: cannot read real server (use ipvsadm -n)") from None
    rs = RealServer(address, port or 0)
    values = tokens[2:]
    if mode == "list":
        if len(values) != 4 or values[0] not in _FWD_NAMES:
            raise ParseError(f"{where}: expected Forward Weight ActiveConn InActConn")
        rs.forwarding = _FWD_NAMES[values[0]]
        rs.weight = _number(values[1], where)
        rs.info = {"activeconns": _number(values[2], where), "inactconns": _number(values[3], where)}
    elif mode == "thresholds":
        if len(values) != 4:
            raise ParseError(f"{where}: expected Uthreshold Lthreshold ActiveConn InActConn")
        rs.u_threshold, rs.l_threshold = _number(values[0], where), _number(values[1], where)
        rs.info = {"activeconns": _number(values[2], where), "inactconns": _number(values[3], where)}
    elif mode == "persistent_conn":
        if len(values) != 4:
            raise ParseError(f"{where}: expected Weight PersistConn ActiveConn InActConn")
        rs.weight = _number(values[0], where)
        rs.info = {"persistconns": _number(values[1], where), "activeconns": _number(values[2], where),
                   "inactconns": _number(values[3], where)}
    else:
        if len(values) != 5:
            raise ParseError(f"{where}: expected 5 counters")
        rs.info = {mode: dict(zip(STAT_FIELDS if mode == "stats" else RATE_FIELDS,
                                  (_number(v, where) for v in values)))}
    return rs


ThresholdMap = Dict[ServiceKey, Dict[RealServerKey, Tuple[int, int]]]


def parse_thresholds(text: str) -> ThresholdMap:
    """The non-zero thresholds of an ``ipvsadm -Ln --thresholds`` listing.

    Zero is the default, so real servers without thresholds (nearly all) cost one split.
    """
    found: ThresholdMap = {}
    current: Optional[ServiceKey] = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        tokens = raw.split()
        if not tokens or tokens[0] == "Prot" or raw.startswith("IP Virtual Server"):
            continue
        where = f"line {lineno} ({raw.strip()})"
        if tokens[0] != "->":
            current = _list_service(tokens, where)[0].key
            continue
        if len(tokens) != 6:
            if tokens[1].startswith("RemoteAddress"):
                continue
            raise ParseError(f"{where}: expected Uthreshold Lthreshold ActiveConn InActConn")
        if tokens[2] == "0" and tokens[3] == "0":
            continue
        if current is None:
            raise ParseError(f"{where}: real server before any service")
        rs = _list_realserver(tokens, "thresholds", where)
        found.setdefault(current, {})[rs.key] = (rs.u_threshold, rs.l_threshold)
    return found


def merge_thresholds(table: Table, thresholds: Any) -> None:
    """Copy u/l thresholds into ``table`` (in place).

    ``thresholds`` is the result of :func:`parse_thresholds` or a Table parsed from a
    ``-Ln --thresholds`` listing.
    """
    if isinstance(thresholds, Table):
        thresholds = {key: {rkey: (rs.u_threshold, rs.l_threshold) for rkey, rs in svc.realservers.items()}
                      for key, svc in thresholds.services.items()}
    for key, values in thresholds.items():
        target = table.services.get(key)
        if target is None:
            continue
        for rkey, (upper, lower) in values.items():
            dest = target.realservers.get(rkey)
            if dest is not None:
                dest.u_threshold, dest.l_threshold = upper, lower


def merge_info(table: Table, other: Table) -> None:
    """Copy the ``info`` values (stats, rates, connection counts) of ``other`` into ``table``."""
    for key, svc in other.services.items():
        target = table.services.get(key)
        if target is None:
            continue
        target.info.update(svc.info)
        for rkey, rs in svc.realservers.items():
            dest = target.realservers.get(rkey)
            if dest is not None:
                dest.info.update(rs.info)


_TIMEOUT_RE = re.compile(r"Timeout \(tcp tcpfin udp\): (\d+) (\d+) (\d+)")
_DAEMON_RE = re.compile(r"^(master|backup) sync daemon \((.*)\)\s*$")


def parse_timeout(text: str) -> Dict[str, int]:
    """Parse ``ipvsadm -Ln --timeout``: ``Timeout (tcp tcpfin udp): 900 120 300``."""
    match = _TIMEOUT_RE.search(text)
    if not match:
        raise ParseError(f"unexpected --timeout output: {text.strip()!r}")
    return {"tcp": int(match.group(1)), "tcpfin": int(match.group(2)), "udp": int(match.group(3))}


TIMEOUTS = ("tcp", "tcpfin", "udp")


def set_timeouts_args(timeouts: Mapping[str, int]) -> Tuple[str, ...]:
    return tuple(str(timeouts.get(name) or 0) for name in TIMEOUTS)


def timeouts_differ(live: Mapping[str, int], desired: Mapping[str, int]) -> bool:
    """Whether a declared timeout (absent or 0: leave the kernel's) differs from the live one."""
    return any(desired.get(name) and desired[name] != live.get(name) for name in TIMEOUTS)


def parse_daemon(text: str) -> List[Dict[str, Any]]:
    """Parse ``ipvsadm -Ln --daemon`` (list_daemon()): one line per running sync daemon."""
    daemons = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        match = _DAEMON_RE.match(raw.strip())
        if not match:
            raise ParseError(f"unexpected --daemon output: {raw.strip()!r}")
        daemon: Dict[str, Any] = {"state": match.group(1)}
        for part in match.group(2).split(","):
            name, sep, value = part.strip().partition("=")
            if not sep:
                raise ParseError(f"unexpected --daemon output: {raw.strip()!r}")
            name = {"mcast": "mcast_interface"}.get(name, name)
            daemon[name] = int(value) if value.isdigit() and name != "mcast_interface" else value
        daemons.append(daemon)
    return daemons


# --------------------------------------------------------------------------- desired state


def _label(index: int, item: Dict[str, Any]) -> str:
    """``services[1] (tcp 192.0.2.10:80)``: the index and what the item says it is."""
    protocol = item.get("protocol") or "tcp"
    address, port, mark = item.get("address"), item.get("port"), item.get("fwmark")
    what = str(protocol)
    if mark is not None:
        what += f" {mark}"
    if address is not None and port is not None:
        what += " " + (f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}")
    elif address is not None:
        what += f" {address}"
    elif port is not None:
        what += f" port {port}"
    return f"services[{index}] ({what})"


def desired_from_params(services: Optional[List[Dict[str, Any]]]) -> Table:
    """Validate the ``services`` option and return the desired Table.

    Services and real servers keep their ``state`` (present/absent; present/drained/absent).
    A drained real server has weight 0. Raises ValidationError naming the item and field.
    """
    table = Table()
    seen: Dict[ServiceKey, str] = {}
    for index, item in enumerate(services or []):
        label = _label(index, item)
        svc = _desired_service(item, label)
        if svc.key in seen:
            raise ValidationError(f"{label}: the same service is already declared as {seen[svc.key]}")
        seen[svc.key] = label
        table.services[svc.key] = svc
    return table


def _opt(item: Dict[str, Any], name: str, default: Any = None) -> Any:
    value = item.get(name)
    return default if value is None else value


def _as_int(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool):
        raise ValidationError(f"{where}: {name} {value!r} is not an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: {name} {value!r} is not an integer") from None


def _desired_service(item: Dict[str, Any], label: str) -> Service:
    protocol = _opt(item, "protocol", "tcp")
    if protocol not in PROTOCOLS:
        raise ValidationError(f"{label}: protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    address, port, fwmark = item.get("address"), item.get("port"), item.get("fwmark")
    family = item.get("family")
    if protocol == "fwmark":
        if address is not None or port is not None:
            raise ValidationError(f"{label}: a fwmark service takes no address or port (use fwmark and family)")
        if fwmark is None:
            raise ValidationError(f"{label}: fwmark is required with protocol fwmark")
        mark = _as_int(fwmark, label, "fwmark")
        if not 1 <= mark <= MAX_FWMARK:
            raise ValidationError(f"{label}: fwmark {mark} is out of range 1..{MAX_FWMARK}")
        if family not in (None, "ipv4", "ipv6"):
            raise ValidationError(f"{label}: family must be ipv4 or ipv6, not {family!r}")
        svc = Service("fwmark", family or "ipv4", fwmark=mark)
    else:
        if fwmark is not None:
            raise ValidationError(f"{label}: fwmark is only valid with protocol fwmark")
        if address is None or port is None:
            raise ValidationError(f"{label}: protocol {protocol} needs both address and port")
        try:
            canon, addr_family = canonical_address(str(address))
        except ValueError:
            raise ValidationError(f"{label}: address {address!r} is not an IPv4 or IPv6 address") from None
        if family is not None and family != addr_family:
            raise ValidationError(f"{label}: family {family} does not match address {address} ({addr_family})")
        number = _as_int(port, label, "port")
        if not 1 <= number <= 65535:
            raise ValidationError(f"{label}: port {number} is out of range 1..65535")
        svc = Service(protocol, addr_family, address=canon, port=number)
    svc.label = label
    svc.state = _opt(item, "state", "present")
    if svc.state not in ("present", "absent"):
        raise ValidationError(f"{label}: state must be present or absent, not {svc.state!r}")
    scheduler = _opt(item, "scheduler", DEFAULT_SCHEDULER)
    if scheduler not in SCHEDULERS:
        raise ValidationError(f"{label}: scheduler {scheduler!r} is unknown; use one of {', '.join(SCHEDULERS)}")
    svc.scheduler = scheduler
    for name in _opt(item, "scheduler_flags", []):
        if name not in _FLAG_BITS:
            raise ValidationError(f"{label}: scheduler flag {name!r} is unknown; use one of {', '.join(SCHEDULER_FLAGS)}")
        needs = _FLAG_SCHEDULER.get(name)
        if needs and needs != scheduler:
            raise ValidationError(f"{label}: scheduler flag {name} needs scheduler {needs}, not {scheduler}")
        svc.flags |= _FLAG_BITS[name]
    if scheduler in ("sh", "mh") and svc.flags & 4:
        # print_sched_flags() names only the two sh/mh flags: ipvsadm could never show it back
        raise ValidationError(f"{label}: scheduler flag flag-3 has no meaning for scheduler {scheduler}")
    persistent = item.get("persistent")
    if persistent is not None:
        svc.persistent = _as_int(persistent, label, "persistent")
        if not 1 <= svc.persistent <= MAX_PERSISTENT:
            raise ValidationError(f"{label}: persistent {persistent} is out of range 1..{MAX_PERSISTENT} seconds")
    netmask = item.get("netmask")
    if netmask is not None:
        if svc.persistent is None:
            raise ValidationError(f"{label}: netmask is the persistence granularity and needs persistent")
        try:
            svc.netmask = _canonical_netmask(netmask, svc.family)
        except ValueError:
            kind = "a prefix length 1..128" if svc.family == "ipv6" else "a dotted IPv4 netmask or prefix length"
            raise ValidationError(f"{label}: netmask {netmask!r} is not {kind}") from None
    svc.ops = bool(item.get("ops"))
    if svc.ops and protocol not in ("udp", "fwmark"):
        raise ValidationError(f"{label}: ops (one-packet scheduling) is only for udp and fwmark services")
    for rindex, rs_item in enumerate(_opt(item, "realservers", [])):
        rs = _desired_realserver(rs_item, svc, f"{label} realservers[{rindex}]")
        other = svc.realservers.get(rs.key)
        if other is not None:
            raise ValidationError(f"{rs.label}: real server {rs.hostport} is already listed as {other.label}")
        svc.realservers[rs.key] = rs
    return svc


REALSERVER_KEYS = frozenset(("address", "port", "forwarding", "weight", "u_threshold", "l_threshold",
                             "tun_type", "tun_port", "tun_checksum", "state"))


def _desired_realserver(item: Dict[str, Any], svc: Service, where: str) -> RealServer:
    if not isinstance(item, dict):
        raise ValidationError(f"{where}: a real server must be a dictionary, not {item!r}")
    unknown = set(item) - REALSERVER_KEYS
    if unknown:
        raise ValidationError(f"{where}: unsupported option(s) {', '.join(sorted(map(str, unknown)))}; "
                              f"use {', '.join(sorted(REALSERVER_KEYS))}")
    address = item.get("address")
    if address is None:
        raise ValidationError(f"{where}: address is required")
    try:
        canon, family = canonical_address(str(address))
    except ValueError:
        raise ValidationError(f"{where}: address {address!r} is not an IPv4 or IPv6 address") from None
    forwarding = _opt(item, "forwarding", "dr")
    if forwarding not in FORWARDING:
        raise ValidationError(f"{where}: forwarding must be one of {', '.join(FORWARDING)}, not {forwarding!r}")
    port = (svc.port or 0) if item.get("port") is None else _as_int(item["port"], where, "port")
    label = f"{where} ({_hostport(canon, port)})"
    if not 0 <= port <= 65535:
        raise ValidationError(f"{label}: port {port} is out of range 0..65535")
    if svc.protocol != "fwmark" and forwarding != "nat" and port != svc.port:
        # ipvsadm forces the service port on dr and tun servers
        raise ValidationError(f"{label}: port {port} differs from the service port {svc.port}; only nat can map ports")
    if family != svc.family and forwarding != "tun":
        raise ValidationError(f"{label}: an {family.replace('ipv', 'IPv')} real server cannot serve an "
                              f"{svc.family.replace('ipv', 'IPv')} service (only tun forwarding allows mixed families)")
    rs = RealServer(canon, port, forwarding)
    rs.label = label
    rs.state = _opt(item, "state", "present")
    if rs.state not in ("present", "drained", "absent"):
        raise ValidationError(f"{label}: state must be present, drained or absent, not {rs.state!r}")
    weight = _as_int(_opt(item, "weight", 1), label, "weight")
    if not 0 <= weight <= MAX_WEIGHT:
        raise ValidationError(f"{label}: weight {weight} is out of range 0..{MAX_WEIGHT}")
    rs.weight = 0 if rs.state == "drained" else weight
    for name in ("u_threshold", "l_threshold"):
        value = _as_int(_opt(item, name, 0), label, name)
        if not 0 <= value <= MAX_THRESHOLD:
            raise ValidationError(f"{label}: {name} {value} is out of range 0..{MAX_THRESHOLD}")
        setattr(rs, name, value)
    tun_type, tun_port, tun_checksum = item.get("tun_type"), item.get("tun_port"), item.get("tun_checksum")
    if forwarding != "tun":
        if tun_type is not None or tun_port is not None or tun_checksum is not None:
            raise ValidationError(f"{label}: tun_type, tun_port and tun_checksum need forwarding tun")
        return rs
    if tun_type is None:
        if tun_port is not None or tun_checksum is not None:
            raise ValidationError(f"{label}: tun_port and tun_checksum need tun_type")
        return rs
    if tun_type not in TUN_TYPES:
        raise ValidationError(f"{label}: tun_type must be one of {', '.join(TUN_TYPES)}, not {tun_type!r}")
    rs.tun_type = tun_type
    if tun_type == "gue":
        rs.tun_port = None if tun_port is None else _as_int(tun_port, label, "tun_port")
        if rs.tun_port is None or not 1 <= rs.tun_port <= 65535:
            raise ValidationError(f"{label}: tun_type gue needs tun_port 1..65535")
    elif tun_port is not None:
        raise ValidationError(f"{label}: tun_port is only for tun_type gue")
    if tun_type == "ipip":
        if tun_checksum is not None:
            raise ValidationError(f"{label}: tun_checksum is only for tun_type gue and gre")
    else:
        if tun_checksum is not None and tun_checksum not in TUN_CHECKSUMS:
            raise ValidationError(f"{label}: tun_checksum must be one of {', '.join(TUN_CHECKSUMS)}")
        if tun_type == "gre" and tun_checksum == "remcsum":
            raise ValidationError(f"{label}: tun_checksum remcsum is only for tun_type gue")
        rs.tun_checksum = tun_checksum or "nocsum"
    return rs


# --------------------------------------------------------------------------- difference


@dataclass
class Change:
    """One rule line of the plan, with the fields that motivate it."""

    command: str  # -A -E -D -a -e -d
    service: Service
    realserver: Optional[RealServer] = None
    fields: List[Tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def line(self) -> str:
        if self.command == "-D":
            return f"-D {self.service.selector}"
        if self.command in ("-A", "-E"):
            return f"{self.command} {self.service.selector} {self.service.options()}"
        rs = self.realserver
        if rs is None:
            raise IpvsError(f"{self.command} needs a real server")
        if self.command == "-d":
            return f"-d {self.service.selector} -r {rs.hostport}"
        return f"{self.command} {self.service.selector} -r {rs.hostport} {rs.options()}"

    def describe(self) -> str:
        what = f"service {self.service.name}"
        if self.realserver is not None:
            what += f" real server {self.realserver.hostport}"
        if self.command in ("-A", "-a"):
            return f"{what}: missing"
        if self.command in ("-D", "-d"):
            return f"{what}: still present"
        return f"{what}: " + "; ".join(f"{name} is {have!r}, expected {want!r}" for name, have, want in self.fields)


@dataclass
class Plan:
    changes: List[Change]
    after: Table

    @property
    def lines(self) -> List[str]:
        return [change.line for change in self.changes]


def _service_fields(have: Service, want: Service) -> List[Tuple[str, Any, Any]]:
    fields = []
    if have.scheduler != want.scheduler:
        fields.append(("scheduler", have.scheduler, want.scheduler))
    if have.flags != want.flags:
        fields.append(("scheduler_flags", have.scheduler_flags, want.scheduler_flags))
    if have.persistent != want.persistent:
        fields.append(("persistent", have.persistent, want.persistent))
    if have.netmask != want.netmask:
        fields.append(("netmask", have.netmask, want.netmask))
    if have.ops != want.ops:
        fields.append(("ops", have.ops, want.ops))
    return fields


def _rs_fields(have: RealServer, want: RealServer) -> List[Tuple[str, Any, Any]]:
    fields = []
    if have.forwarding != want.forwarding:
        fields.append(("forwarding", have.forwarding, want.forwarding))
    if have.weight != want.weight:
        fields.append(("weight", have.weight, want.weight))
    if have.u_threshold != want.u_threshold:
        fields.append(("u_threshold", have.u_threshold, want.u_threshold))
    if have.l_threshold != want.l_threshold:
        fields.append(("l_threshold", have.l_threshold, want.l_threshold))
    if want.forwarding == "tun" and want.tun_type is not None:
        for name in ("tun_type", "tun_port", "tun_checksum"):
            if getattr(have, name) != getattr(want, name):
                fields.append((name, getattr(have, name), getattr(want, name)))
    return fields


def _resolved_rs(want: RealServer, have: Optional[RealServer]) -> RealServer:
    """The real server as it will be after the change (keeps unmanaged tunnel settings)."""
    rs = RealServer(want.address, want.port, want.forwarding, want.weight, want.u_threshold,
                    want.l_threshold, want.tun_type, want.tun_port, want.tun_checksum)
    if rs.forwarding == "tun" and rs.tun_type is None:
        if have is not None and have.forwarding == "tun" and have.tun_type is not None:
            rs.tun_type, rs.tun_port, rs.tun_checksum = have.tun_type, have.tun_port, have.tun_checksum
        else:
            rs.tun_type = "ipip"  # the kernel's default tunnel type
    return rs


def _resolved_service(want: Service, have: Optional[Service]) -> Service:
    svc = Service(want.protocol, want.family, want.address, want.port, want.fwmark, want.scheduler,
                  want.flags, want.persistent, want.netmask, want.ops,
                  have.pe if have is not None else None, {})
    return svc


def compute(live: Table, desired: Table, purge: bool = False, purge_realservers: bool = False) -> Plan:
    """Difference between the live and the desired table: the ordered changes and the table after.

    Order: real-server deletes, service deletes, then per declared service its ``-E``/``-A``
    followed by its ``-a``/``-e`` lines. Linear in the size of both tables.
    """
    rs_deletes: List[Change] = []
    svc_deletes: List[Change] = []
    rest: List[Change] = []
    after = dict(live.services)
    for key, want in desired.services.items():
        have = live.services.get(key)
        if want.state == "absent":
            if have is not None:
                svc_deletes.append(Change("-D", have))
                del after[key]
            continue
        if have is None:
            svc = _resolved_service(want, None)
            rest.append(Change("-A", svc))
            for rkey, rwant in want.realservers.items():
                if rwant.state != "absent":
                    rs = _resolved_rs(rwant, None)
                    svc.realservers[rkey] = rs
                    rest.append(Change("-a", svc, rs))
            after[key] = svc
            continue
        new: Optional[Service] = None
        fields = _service_fields(have, want)
        if fields:
            new = _resolved_service(want, have)
            new.realservers = dict(have.realservers)
            rest.append(Change("-E", new, fields=fields))
        owner = new or have
        for rkey, rwant in want.realservers.items():
            rhave = have.realservers.get(rkey)
            if rwant.state == "absent":
                if rhave is not None:
                    new = new or have.copy()
                    rs_deletes.append(Change("-d", owner, rhave))
                    del new.realservers[rkey]
                continue
            if rhave is None:
                new = new or have.copy()
                rs = _resolved_rs(rwant, None)
                new.realservers[rkey] = rs
                rest.append(Change("-a", owner, rs))
                continue
            rfields = _rs_fields(rhave, rwant)
            if rfields:
                new = new or have.copy()
                rs = _resolved_rs(rwant, rhave)
                new.realservers[rkey] = rs
                rest.append(Change("-e", owner, rs, rfields))
        if purge_realservers:
            for rkey, rhave in have.realservers.items():
                if rkey not in want.realservers:
                    new = new or have.copy()
                    rs_deletes.append(Change("-d", owner, rhave))
                    del new.realservers[rkey]
        if new is not None:
            after[key] = new
    if purge:
        for key, have in live.services.items():
            if key not in desired.services:
                svc_deletes.append(Change("-D", have))
                del after[key]
    return Plan(rs_deletes + svc_deletes + rest, Table(after))


def plan(live: Table, desired: Table, purge: bool = False, purge_realservers: bool = False) -> List[str]:
    """The ``ipvsadm -R`` lines that turn ``live`` into ``desired`` (empty if nothing to do)."""
    return compute(live, desired, purge, purge_realservers).lines


def verify(live: Table, desired: Table, purge: bool = False, purge_realservers: bool = False) -> List[str]:
    """Where ``live`` still differs from the declared parts of ``desired``: one sentence each."""
    return [change.describe() for change in compute(live, desired, purge, purge_realservers).changes]


def with_health(entry: Dict[str, Any], down: Dict[str, List[str]], state: str = "present") -> Dict[str, Any]:
    """A ``services`` item with health verdicts applied.

    ``entry`` is ``{"name", "on_failure": "drain"|"remove", "service": <services item>,
    "hosts": {host: index in service["realservers"]}}`` and optionally ``"checks"`` (the
    checks whose verdicts count; unset, the service's own, named as it is) and ``"sorry"``,
    a real server item; ``down`` maps a check's name to the hosts that failed it. A real server
    that failed any of the checks becomes ``drained`` (weight 0) or ``absent``; the others keep
    their declared weight. The sorry server is present while no real server has weight,
    absent otherwise.
    """
    service = copy.deepcopy(entry["service"])
    service["state"] = state
    failed = "drained" if entry.get("on_failure", "drain") == "drain" else "absent"
    for host in {host for check in entry.get("checks", [entry["name"]]) for host in down.get(check, [])}:
        index = entry["hosts"].get(host)
        if index is not None:
            service["realservers"][index]["state"] = failed
    if entry.get("sorry"):
        serving = any(rs.get("state", "present") == "present" and rs.get("weight", 1) > 0 for rs in service["realservers"])
        service["realservers"].append(dict(entry["sorry"], state="absent" if serving else "present"))
    return service


# --------------------------------------------------------------------------- rendering


def render_save(table: Table) -> str:
    """Render a table as ``ipvsadm -Sn`` does, in one canonical sorted order.

    Thresholds, which ``ipvsadm -S`` omits, are added as ``-x``/``-y`` when non-zero so
    that ``ipvsadm -R`` restores them too.
    """
    out: List[str] = []
    for svc in sorted_services(table):
        selector = svc.selector
        out.append(f"-A {selector} {svc.options()}")
        for rs in sorted_realservers(svc):
            out.append(f"-a {selector} -r {rs.hostport} {rs.options()}")
    return "".join(line + "\n" for line in out)


# --------------------------------------------------------------------------- ipvsadm runner

RunFunction = Callable[..., Tuple[int, str, str]]


def run_subprocess(argv: List[str], data: Optional[str] = None) -> Tuple[int, str, str]:
    """A ``run`` callable for IpvsadmRunner outside Ansible (C locale, text mode)."""
    env = dict(os.environ)
    env.update(C_LOCALE)
    proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env, check=False)
    return proc.returncode, proc.stdout, proc.stderr


class IpvsadmRunner:
    """The ipvsadm command line, declared once.

    ``run(argv, data=None) -> (rc, stdout, stderr)`` executes a command; wrap
    ``AnsibleModule.run_command`` or use :func:`run_subprocess`.
    """

    ARGS: Dict[str, Tuple[str, ...]] = {
        "save": ("-Sn",),
        "list": ("-Ln",),
        "thresholds": ("-Ln", "--thresholds"),
        "stats": ("-Ln", "--stats", "--exact"),
        "rates": ("-Ln", "--rate", "--exact"),
        "timeout": ("-Ln", "--timeout"),
        "daemon": ("-Ln", "--daemon"),
        "restore": ("-R",),
        "set": ("--set",),
    }

    def __init__(self, binary: str, run: RunFunction) -> None:
        self.binary = binary
        self._run = run

    def argv(self, name: str, *args: str) -> List[str]:
        return [self.binary, *self.ARGS[name], *args]

    def call(self, name: str, data: Optional[str] = None, check: bool = True, args: Tuple[str, ...] = ()) -> Tuple[int, str, str]:
        argv = self.argv(name, *args)
        rc, out, err = self._run(argv, data) if data is not None else self._run(argv)
        if check and rc != 0:
            if any(marker in err for marker in NOT_LOADED_MARKERS) and NOT_PERMITTED_MARKER not in err:
                raise IpvsNotLoaded(f"ipvsadm cannot reach IPVS: {err.strip()}", argv, rc, out, err)
            raise CommandError(f"{' '.join(argv)} failed (rc {rc}): {err.strip() or out.strip()}", argv, rc, out, err)
        return rc, out, err

    def _parse(self, name: str, parser: Callable[[str], Any]) -> Any:
        rc, out, err = self.call(name)
        try:
            return parser(out)
        except ParseError as exc:
            argv = self.argv(name)
            raise CommandError(f"cannot parse the output of {' '.join(argv)}: {exc}", argv, rc, out, err) from None

    def read_table(self) -> Table:
        """The live table from ``-Sn``, with the thresholds from ``-Ln --thresholds``."""
        table = self._parse("save", parse_save)
        if table.services:
            merge_thresholds(table, self._parse("thresholds", parse_thresholds))
        return table

    def list_table(self, stats: bool = False, rates: bool = False) -> Table:
        """The live table from ``-Ln`` (with connection counters), thresholds, stats, rates."""
        table = self._parse("list", parse_list)
        if table.services:
            merge_thresholds(table, self._parse("thresholds", parse_thresholds))
            if stats:
                merge_info(table, self._parse("stats", lambda text: parse_list(text, "stats")))
            if rates:
                merge_info(table, self._parse("rates", lambda text: parse_list(text, "rates")))
        return table

    def timeouts(self) -> Dict[str, int]:
        return self._parse("timeout", parse_timeout)

    def set_timeouts(self, timeouts: Mapping[str, int]) -> None:
        """``ipvsadm --set TCP TCPFIN UDP``; a timeout not given is 0, which ipvsadm leaves as it is."""
        self.call("set", args=set_timeouts_args(timeouts))

    def daemons(self) -> List[Dict[str, Any]]:
        return self._parse("daemon", parse_daemon)

    def restore(self, lines: List[str]) -> Tuple[int, str, str]:
        """Feed rule lines to ``ipvsadm -R``; returns (rc, out, err) without raising.

        ipvsadm -R returns the status of its last line only, so callers must re-read.
        """
        return self.call("restore", data="".join(line + "\n" for line in lines), check=False)


def ipvs_loaded(proc_path: str = PROC_IPVS) -> bool:
    """Whether IPVS is present in this network namespace (without loading it)."""
    return os.path.exists(proc_path)
