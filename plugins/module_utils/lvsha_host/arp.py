# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsha arp ADDRESS INTERFACE: announce a floating address that this host has just taken.

heartbeat's resource lvsha-address runs it once the address is on INTERFACE: gratuitous ARP
for an IPv4 address, unsolicited neighbour advertisements for an IPv6 one, from the send_arp
module's own sender (_arp.py), so that the segment's hosts and switches send to this host's
MAC address at once instead of waiting for their caches to expire. No other program runs.
"""
from __future__ import annotations

# A command-line program: it prints (pylint's ansible-bad-function is for Ansible modules).
# pylint: disable=ansible-bad-function

import argparse
import ipaddress
import re
import sys
from typing import List, Optional

from . import _arp

# A Linux interface name: at most 15 bytes, no "/" and no blank (dev_valid_name); "." and ".."
# are refused as well, since the name becomes a path under /sys/class/net.
INTERFACE_RE = re.compile(r"(?!\.\.?\Z)[^/\s:]{1,15}")


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 100")
    return value


def _interval(text: str) -> float:
    value = float(text)
    if not 0.01 <= value <= 10:
        raise argparse.ArgumentTypeError(f"{value} is not between 0.01 and 10 seconds")
    return value


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="lvsha arp", description=(__doc__ or "").split("\n\n", 1)[1])
    parser.add_argument("address", help="the address, as it is on INTERFACE (a /PREFIX is ignored)")
    parser.add_argument("interface", help="the interface that carries it")
    parser.add_argument("--count", type=_count, default=5, help="announcements to send (default 5, as IPaddr2)")
    parser.add_argument("--interval", type=_interval, default=0.2, help="seconds between them (default 0.2)")
    args = parser.parse_args(argv)
    if not INTERFACE_RE.fullmatch(args.interface):
        parser.error(f"interface {args.interface!r} is not an interface name")
    try:
        address = _arp.parse_address(args.address)
        mac = _arp.read_interface_mac(args.interface)
        sender = _arp.RawSender()
        if isinstance(address, ipaddress.IPv4Address):
            sender.send_arp(args.interface, mac, address, args.count, args.interval)
        else:
            sender.send_na(args.interface, mac, address, args.count, args.interval)
    except (_arp.ArpError, OSError) as error:
        print(f"lvsha arp: {args.address} on {args.interface}: {error}", file=sys.stderr)
        return 1
    print(f"lvsha arp: announced {address} on {args.interface} ({_arp.format_mac(mac)}), {args.count} times")
    return 0
