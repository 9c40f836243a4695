# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private helpers for the send_arp module: interface ownership from ``ip -j addr``,
command lines of heartbeat's send_arp and iputils arping, and gratuitous ARP /
unsolicited neighbour advertisement packets built and sent from Python.

Host access goes through module-level names the unit tests replace:
:data:`SYSFS_NET` (where interface MAC addresses are read) and the class attributes
of :class:`RawSender` (socket factory, interface index lookup, sleep).
"""
from __future__ import annotations

import ipaddress
import json
import math
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

SYSFS_NET = "/sys/class/net"
# resource-agents installs heartbeat's send_arp here (Debian: package resource-agents,
# pulled in by heartbeat 3.0.6).
HEARTBEAT_LIBEXEC = "/usr/libexec/heartbeat"

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ETH_BROADCAST = b"\xff" * 6
ETH_ZLEN = 60  # minimum Ethernet frame without FCS

ICMPV6_NEIGHBOR_ADVERT = 136
ND_NA_FLAG_ROUTER = 0x80000000
ND_NA_FLAG_SOLICITED = 0x40000000
ND_NA_FLAG_OVERRIDE = 0x20000000
ND_OPT_TARGET_LINKADDR = 2
ALL_NODES = ipaddress.IPv6Address("ff02::1")


class ArpError(Exception):
    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


# --------------------------------------------------------------------------------------
# Addresses and interfaces
# --------------------------------------------------------------------------------------


def parse_address(text: str) -> IPAddress:
    """An IPv4/IPv6 address; a prefix length (``192.0.2.10/24``) is accepted and dropped,
    and so is an IPv6 zone (``fe80::1%eth0``)."""
    value = text.strip().split("%", 1)[0]
    try:
        return ipaddress.ip_interface(value).ip
    except ValueError as exc:
        raise ArpError(f"address {text!r} is not an IPv4 or IPv6 address") from exc


def format_mac(raw: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in raw)


def parse_mac(text: str) -> bytes:
    parts = text.strip().lower().split(":")
    if len(parts) != 6 or not all(len(part) == 2 for part in parts):
        raise ArpError(f"{text!r} is not an Ethernet MAC address")
    try:
        return bytes(int(part, 16) for part in parts)
    except ValueError as exc:
        raise ArpError(f"{text!r} is not an Ethernet MAC address") from exc


@dataclass
class InterfaceAddress:
    address: IPAddress
    prefixlen: int
    label: str | None = None
    tentative: bool = False
    dadfailed: bool = False
    deprecated: bool = False


@dataclass
class Interface:
    name: str
    ifindex: int
    flags: list[str]
    link_type: str
    mac: str | None
    addresses: list[InterfaceAddress] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return "UP" in self.flags

    @property
    def noarp(self) -> bool:
        return "NOARP" in self.flags

    def find(self, address: IPAddress) -> InterfaceAddress | None:
        for entry in self.addresses:
            if entry.address == address:
                return entry
        return None


def parse_ip_addr_json(text: str, name: str) -> Interface:
    """Parse ``ip -j addr show dev NAME`` (iproute2 JSON output)."""
    try:
        links = json.loads(text)
    except ValueError as exc:
        raise ArpError(f"cannot parse 'ip -j addr show dev {name}' output: {exc}") from exc
    link = next((item for item in links if item.get("ifname") == name), None)
    if link is None:
        raise ArpError(f"interface {name} does not exist")
    addresses = []
    for info in link.get("addr_info", []):
        if info.get("family") not in ("inet", "inet6") or "local" not in info:
            continue
        addresses.append(InterfaceAddress(
            address=ipaddress.ip_address(info["local"].split("%", 1)[0]),
            prefixlen=int(info.get("prefixlen", 0)),
            label=info.get("label"),
            tentative=bool(info.get("tentative")),
            dadfailed=bool(info.get("dadfailed")),
            deprecated=bool(info.get("deprecated")),
        ))
    return Interface(
        name=name, ifindex=int(link.get("ifindex", 0)), flags=list(link.get("flags", [])),
        link_type=link.get("link_type", ""), mac=link.get("address"), addresses=addresses,
    )


def read_interface_mac(name: str, fallback: str | None = None) -> bytes:
    """MAC address of ``name`` from sysfs (``SYSFS_NET/NAME/address``)."""
    path = os.path.join(SYSFS_NET, name, "address")
    try:
        with open(path, encoding="ascii") as handle:
            return parse_mac(handle.read())
    except OSError:
        if fallback:
            return parse_mac(fallback)
        raise ArpError(f"cannot read the MAC address of {name} from {path}") from None


# --------------------------------------------------------------------------------------
# External tools
# --------------------------------------------------------------------------------------


def send_arp_argv(path: str, interface: str, address: IPAddress, count: int, interval: float) -> list[str]:
    """heartbeat/resource-agents send_arp (libnet build, as in Debian):

    ``send_arp [-i repeatinterval-ms] [-r repeatcount] [-p pidfile] device src_ip_addr
    src_hw_addr broadcast_ip_addr netmask``. ``auto`` as src_hw_addr takes the device's
    MAC; the last two arguments are ignored (IPaddr2 passes ``not_used``). Each repeat
    sends an ARP request and an ARP reply, half the interval apart.
    """
    return [path, "-i", str(int(round(interval * 1000))), "-r", str(count),
            interface, str(address), "auto", "not_used", "not_used"]


def send_ua_argv(path: str, interface: str, address: IPAddress, prefixlen: int, count: int,
                 interval: float) -> list[str]:
    """resource-agents' send_ua, IPaddr2's sender for IPv6: ``send_ua [-i interval-ms]
    [-c count] IPv6-Address Prefix Interface``. It sends ``count`` unsolicited neighbour
    advertisements for the address on the interface, ``interval`` apart; the prefix is only
    read for the command line's sake, the address's own is given."""
    return [path, "-i", str(int(round(interval * 1000))), "-c", str(count), str(address), str(prefixlen), interface]


def arping_interval(interval: float) -> int:
    """iputils arping takes whole seconds and stops re-sending with 0: round up, >= 1."""
    return max(1, math.ceil(interval))


def arping_argv(path: str, interface: str, address: IPAddress, count: int, interval: float) -> list[str]:
    """iputils arping in unsolicited mode: ``-U`` sends ARP requests whose sender and
    target address are both ``address``, to the broadcast MAC, and exits 0 after ``-c``
    requests without waiting for replies. ``-w`` only bounds the run time."""
    step = arping_interval(interval)
    deadline = count * step + 1
    return [path, "-U", "-c", str(count), "-i", str(step), "-w", str(deadline),
            "-I", interface, str(address)]


def is_iputils_arping(version_output: str) -> bool:
    """``arping -V`` of iputils prints ``arping from iputils 20221126``; Thomas Habets'
    arping (Debian package ``arping``) has a different command line."""
    return "iputils" in version_output


# --------------------------------------------------------------------------------------
# Packets
# --------------------------------------------------------------------------------------


def build_arp_announcement(mac: bytes, address: ipaddress.IPv4Address) -> bytes:
    """Broadcast Ethernet frame with a gratuitous ARP request (RFC 5227 announcement):
    sender and target protocol address both ``address``, target hardware address zero,
    padded to the 60-byte Ethernet minimum."""
    ethernet = ETH_BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST)
    arp += mac + address.packed + b"\x00" * 6 + address.packed
    frame = ethernet + arp
    return frame + b"\x00" * (ETH_ZLEN - len(frame))


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmpv6_checksum(source: ipaddress.IPv6Address, destination: ipaddress.IPv6Address, message: bytes) -> int:
    pseudo = source.packed + destination.packed + struct.pack("!I3xB", len(message), socket.IPPROTO_ICMPV6)
    return _checksum(pseudo + message)


def build_neighbor_advertisement(mac: bytes, target: ipaddress.IPv6Address,
                                 destination: ipaddress.IPv6Address = ALL_NODES) -> bytes:
    """Unsolicited neighbour advertisement (RFC 4861 7.2.6): ICMPv6 type 136, code 0,
    Override set, Solicited and Router clear, with a target link-layer address option.
    The checksum assumes ``target`` as IPv6 source address, as :class:`RawSender` binds;
    the kernel computes it again for ICMPv6 raw sockets."""
    body = struct.pack("!I", ND_NA_FLAG_OVERRIDE) + target.packed
    option = struct.pack("!BB", ND_OPT_TARGET_LINKADDR, 1) + mac
    message = struct.pack("!BBH", ICMPV6_NEIGHBOR_ADVERT, 0, 0) + body + option
    checksum = icmpv6_checksum(target, destination, message)
    return message[:2] + struct.pack("!H", checksum) + message[4:]


class RawSender:
    """Sends packets from Python. Tests replace the class attributes."""

    socket_factory: Callable[..., Any] = staticmethod(socket.socket)
    if_nametoindex: Callable[[str], int] = staticmethod(socket.if_nametoindex)
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _repeat(self, send: Callable[[], Any], count: int, interval: float) -> None:
        for number in range(count):
            send()
            if number < count - 1:
                self.sleep(interval)

    def send_arp(self, interface: str, mac: bytes, address: ipaddress.IPv4Address,
                 count: int, interval: float) -> bytes:
        frame = build_arp_announcement(mac, address)
        sock = self.socket_factory(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        try:
            sock.bind((interface, ETH_P_ARP))
            self._repeat(lambda: sock.send(frame), count, interval)
        finally:
            sock.close()
        return frame

    def send_na(self, interface: str, mac: bytes, address: ipaddress.IPv6Address,
                count: int, interval: float) -> bytes:
        packet = build_neighbor_advertisement(mac, address)
        ifindex = self.if_nametoindex(interface)
        sock = self.socket_factory(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            # RFC 4861: neighbour discovery packets carry hop limit 255
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            # source address = the advertised address (scope needed for link-local)
            sock.bind((str(address), 0, 0, ifindex if address.is_link_local else 0))
            destination = (str(ALL_NODES), 0, 0, ifindex)
            self._repeat(lambda: sock.sendto(packet, destination), count, interval)
        finally:
            sock.close()
        return packet
