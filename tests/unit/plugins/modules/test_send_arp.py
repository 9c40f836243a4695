"""YAML cases for lvsha.cluster.send_arp (see module_cases.py for the case format).

Extra case keys understood here:

``out_fixture`` (in a command step)
    Take the command's stdout from that file under fixtures/arp/.
``socket``
    Expected use of the raw socket: ``{family: packet|inet6, bind: [...], setsockopt: [[level,
    option, value], ...], frames: [HEX, ...], sleeps: [...]}``. Without this key the case
    must not open a socket at all.

MAC addresses are read from fixtures/arp/sys/class/net/IFACE/address.
"""
from __future__ import annotations

import copy
import socket
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host import _arp
from ansible_collections.lvsha.cluster.plugins.modules import send_arp

from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.module_cases import load_cases, run_case

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "arp"

FAMILIES = {socket.AF_PACKET: "packet", socket.AF_INET6: "inet6"}


class FakeSocket:
    """Records what the module does with a raw socket; sends nothing."""

    opened: list[FakeSocket] = []

    def __init__(self, family: int, kind: int, proto: int) -> None:
        assert kind == socket.SOCK_RAW
        self.family = FAMILIES[family]
        self.proto = proto
        self.bound: Any = None
        self.options: list[list[int]] = []
        self.frames: list[bytes] = []
        self.destinations: list[Any] = []
        self.closed = False
        FakeSocket.opened.append(self)

    def bind(self, address: Any) -> None:
        self.bound = address

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options.append([level, option, value])

    def send(self, frame: bytes) -> int:
        self.frames.append(frame)
        return len(frame)

    def sendto(self, packet: bytes, destination: Any) -> int:
        self.frames.append(packet)
        self.destinations.append(destination)
        return len(packet)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def raw_socket(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    FakeSocket.opened = []
    sleeps: list[float] = []
    monkeypatch.setattr(_arp.RawSender, "socket_factory", staticmethod(FakeSocket))
    monkeypatch.setattr(_arp.RawSender, "if_nametoindex", staticmethod(lambda name: {"eth0": 2, "eth1": 3}[name]))
    monkeypatch.setattr(_arp.RawSender, "sleep", staticmethod(sleeps.append))
    monkeypatch.setattr(_arp, "SYSFS_NET", str(FIXTURES / "sys" / "class" / "net"))
    return {"sleeps": sleeps}


@pytest.mark.parametrize("case", load_cases(HERE / "test_send_arp.yaml"))
def test_send_arp(case: dict[str, Any], raw_socket: dict[str, Any]) -> None:
    case = copy.deepcopy(case)
    for step in case.get("commands", []):
        if "out_fixture" in step:
            step["out"] = (FIXTURES / step.pop("out_fixture")).read_text()
    run_case(send_arp.main, case)
    expected = case.get("socket")
    if expected is None:
        assert FakeSocket.opened == []
        return
    assert len(FakeSocket.opened) == 1
    sock = FakeSocket.opened[0]
    assert sock.closed
    assert sock.family == expected["family"]
    assert sock.proto == expected["proto"]
    assert list(sock.bound) == expected["bind"]
    assert sock.options == expected.get("setsockopt", [])
    assert [frame.hex() for frame in sock.frames] == expected["frames"]
    assert [list(d) for d in sock.destinations] == expected.get("destinations", [])
    assert raw_socket["sleeps"] == expected.get("sleeps", [])


def test_socket_constants_used_by_the_cases() -> None:
    """The YAML spells socket options as numbers; keep them tied to Linux's values."""
    assert socket.htons(0x0806) == 0x0608
    assert (socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, socket.IPV6_UNICAST_HOPS) == (41, 18, 16)
    assert (socket.IPV6_MULTICAST_IF, socket.IPV6_MULTICAST_LOOP, socket.IPPROTO_ICMPV6) == (17, 19, 58)
