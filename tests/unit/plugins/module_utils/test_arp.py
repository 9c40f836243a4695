"""Helpers of plugins/module_utils/lvsha_host/_arp.py: packets, argv, ip -j parsing."""
from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host import _arp

FIXTURES = Path(__file__).parents[1] / "modules" / "fixtures" / "arp"
MAC = bytes.fromhex("525400123456")


# ------------------------------------------------------------------ packets
def test_arp_announcement_frame_bytes() -> None:
    frame = _arp.build_arp_announcement(MAC, ipaddress.IPv4Address("192.0.2.10"))
    expected = bytes.fromhex("".join([
        "ffffffffffff",  # Ethernet destination: broadcast
        "525400123456",  # Ethernet source: interface MAC
        "0806",  # EtherType ARP
        "0001", "0800", "06", "04",  # htype Ethernet, ptype IPv4, hlen 6, plen 4
        "0001",  # op: request
        "525400123456", "c000020a",  # sender MAC, sender IP 192.0.2.10
        "000000000000", "c000020a",  # target MAC zero, target IP 192.0.2.10
        "00" * 18,  # padding to the 60-byte minimum frame
    ]))
    assert frame == expected
    assert len(frame) == 60


def ones_complement_sum(data: bytes) -> int:
    """Independent RFC 1071 sum, for checking the builder's checksum."""
    total = 0
    for index in range(0, len(data), 2):
        total += int.from_bytes(data[index:index + 2].ljust(2, b"\0"), "big")
    while total > 0xFFFF:
        total = (total >> 16) + (total & 0xFFFF)
    return total


def test_neighbor_advertisement_bytes() -> None:
    target = ipaddress.IPv6Address("2001:db8::10")
    packet = _arp.build_neighbor_advertisement(MAC, target)
    assert packet == bytes.fromhex("".join([
        "88", "00", "7451",  # type 136, code 0, checksum
        "20000000",  # flags: Override set, Router and Solicited clear
        "20010db8000000000000000000000010",  # target address
        "02", "01", "525400123456",  # option 2 (target link-layer address), 1 x 8 bytes, MAC
    ]))
    pseudo = target.packed + ipaddress.IPv6Address("ff02::1").packed + struct.pack("!I3xB", len(packet), 58)
    assert ones_complement_sum(pseudo + packet) == 0xFFFF


def test_neighbor_advertisement_for_link_local_address() -> None:
    packet = _arp.build_neighbor_advertisement(MAC, ipaddress.IPv6Address("fe80::5054:ff:fe12:3456"))
    assert packet.hex() == "8800cb6820000000fe80000000000000505400fffe1234560201525400123456"


class Recorder:
    def __init__(self, *args: Any) -> None:
        self.args = args
        self.calls: list[tuple[str, Any]] = []
        Recorder.last = self

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))


def test_raw_sender_arp(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(_arp.RawSender, "socket_factory", staticmethod(Recorder))
    monkeypatch.setattr(_arp.RawSender, "sleep", staticmethod(sleeps.append))
    frame = _arp.RawSender().send_arp("eth0", MAC, ipaddress.IPv4Address("192.0.2.10"), 3, 0.25)
    sock = Recorder.last
    assert sock.args == (socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    assert sock.calls == [("bind", (("eth0", 0x0806),)), ("send", (frame,)), ("send", (frame,)),
                          ("send", (frame,)), ("close", ())]
    assert sleeps == [0.25, 0.25]


def test_raw_sender_na(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_arp.RawSender, "socket_factory", staticmethod(Recorder))
    monkeypatch.setattr(_arp.RawSender, "sleep", staticmethod(lambda seconds: None))
    monkeypatch.setattr(_arp.RawSender, "if_nametoindex", staticmethod(lambda name: 7))
    packet = _arp.RawSender().send_na("eth0", MAC, ipaddress.IPv6Address("2001:db8::10"), 1, 0.2)
    sock = Recorder.last
    assert sock.args == (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    v6 = socket.IPPROTO_IPV6
    assert sock.calls == [
        ("setsockopt", (v6, socket.IPV6_MULTICAST_HOPS, 255)),
        ("setsockopt", (v6, socket.IPV6_UNICAST_HOPS, 255)),
        ("setsockopt", (v6, socket.IPV6_MULTICAST_IF, 7)),
        ("setsockopt", (v6, socket.IPV6_MULTICAST_LOOP, 0)),
        ("bind", (("2001:db8::10", 0, 0, 0),)),
        ("sendto", (packet, ("ff02::1", 0, 0, 7))),
        ("close", ()),
    ]


def test_raw_sender_closes_socket_on_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing(Recorder):
        def bind(self, address: Any) -> None:
            raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(_arp.RawSender, "socket_factory", staticmethod(Failing))
    with pytest.raises(PermissionError):
        _arp.RawSender().send_arp("eth0", MAC, ipaddress.IPv4Address("192.0.2.10"), 1, 0)
    assert Recorder.last.calls == [("close", ())]


# ------------------------------------------------------------------ command lines
def test_send_arp_argv() -> None:
    assert _arp.send_arp_argv("/usr/libexec/heartbeat/send_arp", "eth0",
                              ipaddress.IPv4Address("192.0.2.10"), 5, 0.2) == [
        "/usr/libexec/heartbeat/send_arp", "-i", "200", "-r", "5",
        "eth0", "192.0.2.10", "auto", "not_used", "not_used"]


@pytest.mark.parametrize(("interval", "step", "deadline"), [(0.2, 1, 6), (0, 1, 6), (1.0, 1, 6), (2.1, 3, 16)])
def test_arping_argv(interval: float, step: int, deadline: int) -> None:
    assert _arp.arping_argv("/usr/bin/arping", "eth0", ipaddress.IPv4Address("192.0.2.10"), 5, interval) == [
        "/usr/bin/arping", "-U", "-c", "5", "-i", str(step), "-w", str(deadline), "-I", "eth0", "192.0.2.10"]


def test_arping_flavour() -> None:
    assert _arp.is_iputils_arping("arping from iputils 20221126\n")
    assert not _arp.is_iputils_arping("ARPing 2.23, by Thomas Habets <thomas@habets.se>\n")


# ------------------------------------------------------------------ addresses and interfaces
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.10", "192.0.2.10"),
        (" 192.0.2.10/24 ", "192.0.2.10"),
        ("2001:DB8:0::10", "2001:db8::10"),
        ("2001:db8::10/64", "2001:db8::10"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_parse_address(text: str, expected: str) -> None:
    assert str(_arp.parse_address(text)) == expected


@pytest.mark.parametrize("text", ["192.0.2.300", "eth0", "", "2001:db8::g"])
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(_arp.ArpError):
        _arp.parse_address(text)


def test_parse_ip_addr_json() -> None:
    interface = _arp.parse_ip_addr_json((FIXTURES / "ip_addr_eth0.json").read_text(), "eth0")
    assert (interface.ifindex, interface.link_type, interface.mac) == (2, "ether", "52:54:00:12:34:56")
    assert interface.up and not interface.noarp
    assert [str(a.address) for a in interface.addresses] == [
        "192.0.2.11", "192.0.2.10", "2001:db8::10", "fe80::5054:ff:fe12:3456"]
    vip = interface.find(ipaddress.ip_address("192.0.2.10"))
    assert vip is not None and vip.label == "eth0:0" and vip.prefixlen == 24
    assert interface.find(ipaddress.ip_address("192.0.2.12")) is None
    # canonical comparison: the same IPv6 address written differently
    assert interface.find(_arp.parse_address("2001:0db8:0000::0010")) is not None


def test_parse_ip_addr_json_flags() -> None:
    interface = _arp.parse_ip_addr_json((FIXTURES / "ip_addr_eth0_tentative.json").read_text(), "eth0")
    tentative, failed = interface.addresses
    assert tentative.tentative and not tentative.dadfailed
    assert failed.dadfailed
    assert not _arp.parse_ip_addr_json((FIXTURES / "ip_addr_eth0_down.json").read_text(), "eth0").up
    assert _arp.parse_ip_addr_json((FIXTURES / "ip_addr_eth1_noarp.json").read_text(), "eth1").noarp


def test_parse_ip_addr_json_errors() -> None:
    with pytest.raises(_arp.ArpError, match="does not exist"):
        _arp.parse_ip_addr_json("[]", "eth0")
    with pytest.raises(_arp.ArpError, match="cannot parse"):
        _arp.parse_ip_addr_json('Device "eth0" does not exist.', "eth0")


def test_read_interface_mac(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_arp, "SYSFS_NET", str(FIXTURES / "sys" / "class" / "net"))
    assert _arp.read_interface_mac("eth1") == bytes.fromhex("525400abcdef")
    assert _arp.read_interface_mac("eth9", fallback="52:54:00:00:00:09") == bytes.fromhex("525400000009")
    with pytest.raises(_arp.ArpError, match="cannot read the MAC address of eth9"):
        _arp.read_interface_mac("eth9")


@pytest.mark.parametrize("text", ["52:54:00:12:34", "52-54-00-12-34-56", "zz:54:00:12:34:56"])
def test_parse_mac_rejects(text: str) -> None:
    with pytest.raises(_arp.ArpError):
        _arp.parse_mac(text)


def test_format_mac() -> None:
    assert _arp.format_mac(MAC) == "52:54:00:12:34:56"
