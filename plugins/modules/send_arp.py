#!/usr/bin/python
# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: send_arp
short_description: Announce a floating IP address with gratuitous ARP or unsolicited neighbour advertisements
version_added: 0.1.0
description:
  - Tells the hosts and switches of a segment that an address now lives at this host's MAC address,
    as heartbeat does when it takes over a floating IP.
  - Sends only when the address is configured on the given interface of this host (read with
    C(ip -j addr show dev IFACE) and compared canonically). Otherwise it reports that nothing was sent,
    without failing, so the same task can run on every node of a cluster.
  - IPv4 addresses are announced with gratuitous ARP requests, IPv6 addresses with unsolicited neighbour
    advertisements (ICMPv6 type 136 with the Override flag and the target link-layer address option,
    hop limit 255, to ff02::1 on the interface).
  - An address that is still tentative (IPv6 duplicate address detection running) or whose duplicate
    address detection failed is not announced.
author:
  - lvsha.cluster contributors (@lvsha)
extends_documentation_fragment:
  - lvsha.cluster.attributes
attributes:
  check_mode:
    support: full
    details: Checks ownership and the method, sends nothing, and reports V(changed=true) when it would send.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run that finds the address on the interface sends again and reports a change.
options:
  address:
    description:
      - IPv4 or IPv6 address to announce. A prefix length (V(192.0.2.10/24)) and an IPv6 zone
        (V(fe80::10%eth0)) are accepted and ignored.
    type: str
    required: true
  interface:
    description:
      - Interface that carries the address, for example V(eth0). Labels such as V(eth0:0) are not
        interfaces; use the interface name.
      - The module fails when the interface does not exist, is down, or cannot do ARP (loopback, C(NOARP)).
    type: str
    required: true
  count:
    description:
      - Number of announcements (heartbeat's IPaddr2 default is 5).
      - With O(method=send_arp) each announcement is a pair, an ARP request and an ARP reply.
    type: int
    default: 5
  interval:
    description:
      - Seconds between announcements (heartbeat's IPaddr2 default is 200 ms).
      - iputils C(arping) only takes whole seconds; the value is rounded up to at least 1 for it.
    type: float
    default: 0.2
  method:
    description:
      - How to send.
      - V(send_arp) runs heartbeat's C(send_arp) (C(/usr/libexec/heartbeat/send_arp), from resource-agents)
        as C(send_arp -i MS -r COUNT IFACE ADDRESS auto not_used not_used). IPv4 only.
      - V(arping) runs iputils C(arping -U -c COUNT -i SECONDS -w DEADLINE -I IFACE ADDRESS) (unsolicited ARP
        mode, sender and target address both ADDRESS). IPv4 only. Thomas Habets' C(arping) (Debian package
        C(arping)) has another command line and is not used.
      - V(send_ua) runs resource-agents' C(send_ua) (C(/usr/libexec/heartbeat/send_ua), what IPaddr2 uses for
        IPv6) as C(send_ua -i MS -c COUNT ADDRESS PREFIX IFACE). IPv6 only.
      - V(socket) builds the packets in Python and sends them through a raw socket. For IPv4 that is an Ethernet
        broadcast ARP request whose sender and target address are the address and whose sender MAC is the
        interface's (read from C(/sys/class/net/IFACE/address)); for IPv6 the neighbour advertisement described above.
      - V(auto) uses, for IPv4, V(send_arp) if it is installed, else iputils V(arping), else V(socket); for IPv6,
        V(send_ua) if it is installed, else V(socket).
    type: str
    choices: [auto, send_arp, arping, send_ua, socket]
    default: auto
requirements:
  - iproute2 (C(ip) with JSON output).
  - Root privileges (raw sockets).
notes:
  - V(changed=true) means packets were sent (or, in check mode, would be).
  - IPv6 advertisements sent through the raw socket have the Router flag clear and are sent from the advertised
    address itself.
seealso:
  - name: RFC 5227
    description: IPv4 address conflict detection, ARP announcements.
    link: https://www.rfc-editor.org/rfc/rfc5227
  - name: RFC 4861, section 7.2.6
    description: Sending unsolicited neighbour advertisements.
    link: https://www.rfc-editor.org/rfc/rfc4861#section-7.2.6
"""

EXAMPLES = r"""
- name: Announce the virtual IP on whichever director holds it
  lvsha.cluster.send_arp:
    address: 192.0.2.10
    interface: eth0

- name: Announce an IPv6 service address three times, one second apart
  lvsha.cluster.send_arp:
    address: 2001:db8::10
    interface: eth0
    count: 3
    interval: 1

- name: Use iputils arping explicitly
  lvsha.cluster.send_arp:
    address: 198.51.100.7/24
    interface: eth1
    method: arping
"""

RETURN = r"""
sent:
  description: Whether packets were sent (always V(false) in check mode).
  returned: always
  type: bool
  sample: true
count:
  description: Number of announcements requested.
  returned: always
  type: int
  sample: 5
method:
  description: Method used (or that would be used); the requested one when nothing was to be sent.
  returned: always
  type: str
  sample: send_arp
interface:
  description: Interface name.
  returned: always
  type: str
  sample: eth0
address:
  description: The address, in canonical form.
  returned: always
  type: str
  sample: 192.0.2.10
mac:
  description: MAC address of the interface, the one announced.
  returned: always
  type: str
  sample: "52:54:00:12:34:56"
cmd:
  description: Command that was run (or would be run) for O(method=send_arp), O(method=arping) and O(method=send_ua).
  returned: when an external tool is used
  type: list
  elements: str
  sample: ["/usr/libexec/heartbeat/send_arp", "-i", "200", "-r", "5", "eth0", "192.0.2.10", "auto", "not_used", "not_used"]
msg:
  description: What was done, or why nothing was sent.
  returned: always
  type: str
  sample: 192.0.2.10 is not configured on eth0; nothing sent
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvsha.cluster.plugins.module_utils._locale import c_locale_environ
from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._arp import (
    HEARTBEAT_LIBEXEC,
    ArpError,
    IPAddress,
    RawSender,
    arping_argv,
    format_mac,
    is_iputils_arping,
    parse_address,
    parse_ip_addr_json,
    read_interface_mac,
    send_arp_argv,
    send_ua_argv,
)


def run(module: AnsibleModule, argv: list[str]) -> tuple[int, str, str]:
    return module.run_command(argv, environ_update=c_locale_environ(module))


# The tools resource-agents installs in HEARTBEAT_LIBEXEC, as the messages name them.
LIBEXEC_TOOLS = {"send_arp": "heartbeat's send_arp", "send_ua": "resource-agents' send_ua"}


def libexec_tool(module: AnsibleModule, tool: str, requested: str) -> str | None:
    """The path of resource-agents' TOOL (send_arp, send_ua) when method auto or TOOL asks
    for it, else None; missing, it is an error only when TOOL itself was asked for."""
    if requested not in ("auto", tool):
        return None
    path = module.get_bin_path(tool, opt_dirs=[HEARTBEAT_LIBEXEC])
    if path is None and requested == tool:
        raise ArpError(f"{LIBEXEC_TOOLS[tool]} was found neither in {HEARTBEAT_LIBEXEC} nor in PATH "
                       "(Debian package resource-agents)")
    return path


def resolve_method(module: AnsibleModule, requested: str, address: IPAddress) -> tuple[str, str | None]:
    """The method to use and the path of its tool (None for the socket method)."""
    if address.version == 6:
        if requested in ("send_arp", "arping"):
            raise ArpError(f"method {requested} only sends IPv4 ARP; use method send_ua, socket or auto for {address}")
        # The raw socket stays the fallback where resource-agents is not installed.
        path = libexec_tool(module, "send_ua", requested)
        return ("send_ua", path) if path else ("socket", None)
    if requested == "send_ua":
        raise ArpError(f"method send_ua only sends IPv6 neighbour advertisements; use send_arp, arping, socket or "
                       f"auto for {address}")
    if requested == "socket":
        return "socket", None
    path = libexec_tool(module, "send_arp", requested)
    if path:
        return "send_arp", path
    path = module.get_bin_path("arping")
    if path:
        rc, out, err = run(module, [path, "-V"])
        if rc == 0 and is_iputils_arping(out + err):
            return "arping", path
        if requested == "arping":
            raise ArpError(f"{path} is not iputils arping (arping -V printed {(out + err).strip()!r}); "
                           "install iputils-arping or use method send_arp or socket")
    elif requested == "arping":
        raise ArpError("arping was not found (Debian package iputils-arping)")
    return "socket", None


def announce(module: AnsibleModule, result: dict[str, Any]) -> None:
    params = module.params
    name: str = params["interface"]
    address = parse_address(params["address"])
    result["address"] = str(address)

    ip = module.get_bin_path("ip", required=True)
    rc, out, err = run(module, [ip, "-j", "addr", "show", "dev", name])
    if rc != 0:
        if "does not exist" in err:
            raise ArpError(f"interface {name} does not exist", rc=rc, stderr=err)
        raise ArpError(f"'ip -j addr show dev {name}' failed (rc={rc}): {err.strip()}", rc=rc, stderr=err)
    interface = parse_ip_addr_json(out, name)
    result["mac"] = interface.mac

    entry = interface.find(address)
    if entry is None:
        result["msg"] = f"{address} is not configured on {name}; nothing sent"
        return
    if entry.dadfailed:
        result["msg"] = f"{address} on {name} failed duplicate address detection; nothing sent"
        return
    if entry.tentative:
        result["msg"] = f"{address} on {name} is still tentative (duplicate address detection); nothing sent"
        return
    if not interface.up:
        raise ArpError(f"interface {name} is down; cannot announce {address}")
    if interface.link_type != "ether":
        raise ArpError(f"interface {name} has link type {interface.link_type!r}; "
                       "announcements need an Ethernet interface")
    if address.version == 4 and interface.noarp:
        raise ArpError(f"interface {name} has ARP disabled (NOARP); not announcing {address}")

    mac = read_interface_mac(name, fallback=interface.mac)
    result["mac"] = format_mac(mac)
    method, path = resolve_method(module, params["method"], address)
    result["method"] = method
    count: int = params["count"]
    interval: float = params["interval"]
    argv: list[str] | None = None
    if method == "send_arp" and path:
        argv = send_arp_argv(path, name, address, count, interval)
    elif method == "send_ua" and path:
        argv = send_ua_argv(path, name, address, entry.prefixlen, count, interval)
    elif method == "arping" and path:
        argv = arping_argv(path, name, address, count, interval)
    if argv is not None:
        result["cmd"] = argv
    kind = "gratuitous ARP" if address.version == 4 else "unsolicited neighbour advertisement(s)"

    result["changed"] = True
    if module.check_mode:
        result["msg"] = f"would send {count} {kind} for {address} on {name} via {method}"
        return
    if argv is not None:
        rc, out, err = run(module, argv)
        if rc != 0:
            raise ArpError(f"{' '.join(argv)} failed (rc={rc}): {(err or out).strip()}",
                           rc=rc, stdout=out, stderr=err)
    else:
        sender = RawSender()
        try:
            if address.version == 4:
                sender.send_arp(name, mac, address, count, interval)
            else:
                sender.send_na(name, mac, address, count, interval)
        except OSError as exc:
            raise ArpError(f"sending on {name} through a raw socket failed: {exc}") from exc
    result["sent"] = True
    result["msg"] = f"sent {count} {kind} for {address} on {name} via {method}"


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            address=dict(type="str", required=True),
            interface=dict(type="str", required=True),
            count=dict(type="int", default=5),
            interval=dict(type="float", default=0.2),
            method=dict(type="str", default="auto", choices=["auto", "send_arp", "arping", "send_ua", "socket"]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["count"] < 1:
        module.fail_json(msg="count must be at least 1")
    if params["interval"] < 0:
        module.fail_json(msg="interval must not be negative")
    result: dict[str, Any] = {
        "changed": False, "sent": False, "count": params["count"], "method": params["method"],
        "interface": params["interface"], "address": params["address"], "mac": None, "msg": "",
    }
    try:
        announce(module, result)
    except ArpError as exc:
        result.update(exc.details)
        result["msg"] = exc.msg
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
