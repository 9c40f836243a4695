#!/usr/bin/python
# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report the live IPVS (LVS) table, timeouts and connection sync daemons."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_info
short_description: Report the IPVS (LVS) virtual server table
version_added: "0.1.0"
description:
  - Returns the live IPVS table as structured data, from C(ipvsadm -Ln) and C(ipvsadm -Ln --thresholds),
    with optional counters (C(--stats --exact)) and rates (C(--rate --exact)).
  - Always returns the connection timeouts (C(ipvsadm -Ln --timeout)) and the connection
    synchronisation daemons (C(ipvsadm -Ln --daemon)).
  - If the C(ip_vs) kernel module is not loaded, returns an empty table with RV(loaded=false) and
    does not load the module (C(ipvsadm) would load it on its own, so it is not even run).
author:
  - lvsha.cluster contributors (@lvsha)
requirements:
  - ipvsadm (1.31 tested) on the target
extends_documentation_fragment:
  - lvsha.cluster.attributes
  - lvsha.cluster.attributes.info_module
options:
  stats:
    description:
      - Add the counters of every service and real server (RV(services[].stats)).
    type: bool
    default: false
  rates:
    description:
      - Add the rates of every service and real server (RV(services[].rates)).
    type: bool
    default: false
  return_table:
    description:
      - When to return the whole table (RV(services)). V(auto) returns it when it holds at most 1,000 entries
        (services and real servers), V(always) at any size, V(never) not at all; RV(counts) is returned
        always.
      - At tens of thousands of entries, copying the table through Ansible's result costs more than reading
        it from the kernel.
    type: str
    choices: [auto, always, never]
    default: auto
seealso:
  - module: lvsha.cluster.ipvs
"""

EXAMPLES = r"""
- name: Read the IPVS table with counters
  lvsha.cluster.ipvs_info:
    stats: true
  register: ipvs

- name: Show the real servers of the web VIP and their active connections
  ansible.builtin.debug:
    msg: "{{ item.address }}: {{ item.activeconns }}"
  loop: "{{ (ipvs.services | selectattr('address', '==', '192.0.2.100') | first).realservers }}"
"""

RETURN = r"""
loaded:
  description: Whether IPVS is available (the C(ip_vs) kernel module is loaded).
  returned: always
  type: bool
  sample: true
version:
  description: IPVS version reported by the kernel, null if not loaded.
  returned: always
  type: str
  sample: 1.2.1
size:
  description: Size of the IPVS connection hash table, null if not loaded.
  returned: always
  type: int
  sample: 4096
counts:
  description: The number of services and of real servers in the table (zero if IPVS is not loaded).
  returned: always
  type: dict
  sample: {services: 1, realservers: 2}
services:
  description: Virtual services, sorted by family, protocol, address and port, fwmark services last.
  returned: as O(return_table) says (by default, a table of at most 1,000 entries; an empty list if IPVS is not loaded)
  type: list
  elements: dict
  contains:
    protocol:
      description: V(tcp), V(udp), V(sctp) or V(fwmark).
      type: str
      sample: tcp
    family:
      description: V(ipv4) or V(ipv6).
      type: str
      sample: ipv4
    address:
      description: Virtual address (null for fwmark services).
      type: str
      sample: 192.0.2.100
    port:
      description: Virtual port (null for fwmark services).
      type: int
      sample: 80
    fwmark:
      description: Firewall mark (null for address services).
      type: int
      sample: null
    scheduler:
      description: Scheduler.
      type: str
      sample: wrr
    scheduler_flags:
      description: Scheduler flags.
      type: list
      elements: str
      sample: [sh-fallback, sh-port]
    persistent:
      description: Persistence timeout in seconds, null if not persistent.
      type: int
      sample: 300
    netmask:
      description: Persistence netmask, null for the default (/32 or /128).
      type: str
      sample: 255.255.255.0
    ops:
      description: One-packet scheduling.
      type: bool
      sample: false
    persistence_engine:
      description: Persistence engine, null if none.
      type: str
      sample: null
    stats:
      description: Counters (with O(stats=true)).
      type: dict
      returned: when O(stats=true)
      sample: {conns: 1543, inpkts: 98211, outpkts: 0, inbytes: 10312345, outbytes: 0}
    rates:
      description: Rates per second (with O(rates=true)).
      type: dict
      returned: when O(rates=true)
      sample: {cps: 3, inpps: 61, outpps: 0, inbps: 6512, outbps: 0}
    realservers:
      description:
        - Real servers, with C(address), C(port), C(forwarding) (V(dr), V(nat), V(tun) or V(local)),
          C(weight), C(u_threshold), C(l_threshold), C(activeconns), C(inactconns), and C(stats) and
          C(rates) when requested.
      type: list
      elements: dict
      sample:
        - address: 192.0.2.11
          port: 80
          forwarding: dr
          weight: 1
          u_threshold: 0
          l_threshold: 0
          activeconns: 12
          inactconns: 40
timeouts:
  description: Connection timeouts in seconds (empty if not loaded).
  returned: always
  type: dict
  sample: {tcp: 900, tcpfin: 120, udp: 300}
daemons:
  description: Running connection synchronisation daemons (empty list if none).
  returned: always
  type: list
  elements: dict
  sample:
    - state: master
      mcast_interface: eth0
      syncid: 1
      maxlen: 1472
      group: 224.0.0.81
      port: 8848
      ttl: 1
"""

from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvsha.cluster.plugins.module_utils._locale import c_locale_environ
from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import (
    CommandError,
    IpvsadmRunner,
    IpvsError,
    IpvsNotLoaded,
    RETURN_TABLE_CHOICES,
    ipvs_loaded,
    table_result,
)


def _not_loaded() -> Dict[str, Any]:
    return {"changed": False, "loaded": False, "version": None, "size": None,
            "counts": {"services": 0, "realservers": 0}, "services": [], "timeouts": {}, "daemons": []}


def run_module(module: AnsibleModule) -> Dict[str, Any]:
    # ipvsadm loads ip_vs by itself when it is missing: an info module must not do that.
    if not ipvs_loaded():
        return _not_loaded()

    def run(argv: List[str], data: Optional[str] = None) -> Any:
        return module.run_command(argv, data=data, environ_update=c_locale_environ(module))

    runner = IpvsadmRunner(module.get_bin_path("ipvsadm", required=True), run)
    try:
        table = runner.list_table(stats=module.params["stats"], rates=module.params["rates"])
    except IpvsNotLoaded:
        return _not_loaded()
    return {
        "changed": False,
        "loaded": True,
        "version": table.info.get("version"),
        "size": table.info.get("size"),
        **table_result(table, "services", module.params["return_table"], tunnel=False),
        "timeouts": runner.timeouts(),
        "daemons": runner.daemons(),
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            stats=dict(type="bool", default=False),
            rates=dict(type="bool", default=False),
            return_table=dict(type="str", choices=list(RETURN_TABLE_CHOICES), default="auto"),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run_module(module))
    except (CommandError, IpvsNotLoaded) as exc:
        module.fail_json(msg=str(exc), cmd=exc.cmd, rc=exc.rc, stdout=exc.out, stderr=exc.err)
    except IpvsError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
