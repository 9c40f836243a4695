#!/usr/bin/python
# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declare the IPVS (LVS) virtual service table, or a part of it."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs
short_description: Manage the IPVS (LVS) virtual server table
version_added: "0.1.0"
description:
  - Declares IPVS virtual services and their real servers, or a part of the table.
  - Reads the live table once (C(ipvsadm -Sn), plus C(ipvsadm -Ln --thresholds) because
    C(ipvsadm -S) does not print thresholds), computes the difference and applies only the
    difference in one C(ipvsadm -R) run. The table is never flushed.
  - A change of scheduler, scheduler flags, persistence, netmask or one-packet scheduling
    edits the service in place (C(-E)); a change of forwarding, weight or thresholds edits the
    real server in place (C(-e)). Established connections survive both.
  - After applying, the table is read again and compared with the request, because
    C(ipvsadm -R) only reports the status of its last line.
  - C(ipvsadm) loads the C(ip_vs) kernel module by itself when it is missing. If C(ipvsadm) still cannot reach
    IPVS, the module runs C(modprobe ip_vs) once and reports its error.
author:
  - lvsha.cluster contributors (@lvsha)
requirements:
  - ipvsadm (1.31 tested) on the target
  - Linux with the ip_vs kernel module
extends_documentation_fragment:
  - lvsha.cluster.attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    details: Predicts the change and the resulting table; runs no C(ipvsadm -R), no C(modprobe), writes no file.
  diff_mode:
    support: full
    details: Shows the whole table before and after in C(ipvsadm -Sn) form, and the O(save_path) file.
  idempotent:
    support: full
options:
  services:
    description:
      - Virtual services to manage. Services not listed are left alone unless O(purge=true).
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description:
          - Protocol of the virtual service. V(fwmark) selects packets by firewall mark instead of address and port.
        type: str
        choices: [tcp, udp, sctp, fwmark]
        default: tcp
      address:
        description:
          - Virtual IPv4 or IPv6 address. Required for V(tcp), V(udp) and V(sctp); not allowed for V(fwmark).
        type: str
      port:
        description:
          - Virtual port, 1 to 65535. Required for V(tcp), V(udp) and V(sctp); not allowed for V(fwmark).
        type: int
      fwmark:
        description:
          - Firewall mark, 1 to 4294967295. Required with O(services[].protocol=fwmark).
        type: int
      family:
        description:
          - Address family of a fwmark service (default V(ipv4)).
          - For address services it is derived from O(services[].address) and, if given, must match it.
        type: str
        choices: [ipv4, ipv6]
      scheduler:
        description:
          - Scheduling algorithm, one of V(rr), V(wrr), V(lc), V(wlc), V(lblc), V(lblcr), V(dh), V(sh),
            V(sed), V(nq), V(fo), V(ovf), V(mh) or V(twos) (V(twos) needs Linux 6.2 or later).
        type: str
        default: wlc
      scheduler_flags:
        description:
          - Scheduler flags (C(ipvsadm -b)), from V(flag-1), V(flag-2), V(flag-3), V(sh-fallback), V(sh-port)
            (scheduler V(sh) only), V(mh-fallback), V(mh-port) (scheduler V(mh) only).
          - The kernel stores bits, so V(flag-1) on V(sh) is the same as V(sh-fallback).
        type: list
        elements: str
        default: []
      persistent:
        description:
          - Persistence timeout in seconds (1 to 2678400). Omitted or null means not persistent.
        type: int
      netmask:
        description:
          - Persistence granularity. IPv4 services take a dotted netmask such as V(255.255.255.0) (or a prefix
            length, converted); IPv6 services take a prefix length such as V(64).
          - Needs O(services[].persistent). Omitted means a single client address (/32 or /128).
        type: str
      ops:
        description:
          - One-packet scheduling (C(ipvsadm -o)); only for V(udp) and V(fwmark) services.
        type: bool
        default: false
      state:
        description:
          - V(absent) deletes the service with all its real servers.
        type: str
        choices: [present, absent]
        default: present
      realservers:
        description:
          - Real servers of this service. Real servers not listed are left alone unless O(purge_realservers=true).
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description:
              - IPv4 or IPv6 address of the real server. It must have the family of the service, except with
                O(services[].realservers[].forwarding=tun).
            type: str
            required: true
          port:
            description:
              - Port on the real server. Defaults to the service port (0 for fwmark services).
              - Only V(nat) can map to a port other than the service port.
            type: int
          forwarding:
            description:
              - Packet forwarding method, V(dr) (direct routing, C(-g)), V(nat) (masquerading, C(-m)) or
                V(tun) (tunnelling, C(-i)).
            type: str
            choices: [dr, nat, tun]
            default: dr
          weight:
            description:
              - Weight, 0 to 65535. Weight 0 sends no new connections.
            type: int
            default: 1
          u_threshold:
            description:
              - Upper connection threshold (C(-x)); 0 means none.
            type: int
            default: 0
          l_threshold:
            description:
              - Lower connection threshold (C(-y)); 0 means none.
            type: int
            default: 0
          tun_type:
            description:
              - Tunnel type for V(tun) forwarding. Omitted keeps the current type of an existing real server
                (V(ipip), the kernel default, for a new one).
            type: str
            choices: [ipip, gue, gre]
          tun_port:
            description:
              - Destination UDP port of V(gue) tunnels; required with O(services[].realservers[].tun_type=gue).
            type: int
          tun_checksum:
            description:
              - Tunnel checksum mode for V(gue) and V(gre) tunnels (V(remcsum) is V(gue) only). Default V(nocsum).
            type: str
            choices: [nocsum, csum, remcsum]
          state:
            description:
              - V(drained) keeps the real server with weight 0, so established connections finish and no new
                ones arrive (it overrides O(services[].realservers[].weight)). V(absent) removes it.
            type: str
            choices: [present, drained, absent]
            default: present
  purge:
    description:
      - Delete every live service that O(services) does not list.
      - With O(services=[]) this empties the table, one C(-D) per service.
    type: bool
    default: false
  purge_realservers:
    description:
      - Within each listed service, delete the live real servers that the service does not list.
    type: bool
    default: false
  return_table:
    description:
      - When to return the whole table (RV(table)). V(auto) returns it when it holds at most 1,000 entries
        (services and real servers), V(always) at any size, V(never) not at all; RV(counts) and
        RV(commands) are returned always.
      - At tens of thousands of entries, copying the table through Ansible's result costs more than the
        kernel's work.
    type: str
    choices: [auto, always, never]
    default: auto
  save_path:
    description:
      - Also write the whole resulting table to this file in C(ipvsadm-save -n) format (plus C(-x)/C(-y) for
        non-zero thresholds), for example V(/etc/ipvsadm.rules) read by the ipvsadm service at boot.
      - Written atomically, mode 0644 for a new file unless O(mode) says otherwise, only when the content
        differs.
      - O(mode), O(owner), O(group), the SELinux options and O(attributes) apply to this file (as the
        M(ansible.builtin.file) module sets them) and need it.
    type: path
notes:
  - Persistence engines (C(--pe)) and tunnel settings that are not declared are preserved on edits.
  - Thresholds are read with C(ipvsadm -Ln --thresholds) because C(ipvsadm -S) does not print them.
  - Above 1,000 requested entries (services and real servers) the arguments echoed in the result
    (C(invocation), shown at C(-vvv)) give the number of services and real servers instead of O(services).
  - In diff mode the result holds one diff (the table) or, with O(save_path), a list of two (the table
    and the file).
  - C(ipvsadm) itself tries C(modprobe ip_vs) when IPVS is missing, so in check mode the module does not
    run C(ipvsadm) at all when C(/proc/net/ip_vs) is absent.
seealso:
  - module: lvsha.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: Web VIP with two direct-routing real servers
  lvsha.cluster.ipvs:
    services:
      - protocol: tcp
        address: 192.0.2.100
        port: 80
        scheduler: wrr
        realservers:
          - address: 192.0.2.11
            weight: 1
          - address: 192.0.2.12
            weight: 2

# A declared service is declared in full: settings left out take their defaults
# (scheduler wlc, not persistent), so restate them when touching one real server.
- name: Drain a real server before maintenance (existing connections finish)
  lvsha.cluster.ipvs:
    services:
      - address: 192.0.2.100
        port: 80
        scheduler: wrr
        realservers:
          - address: 192.0.2.12
            state: drained

- name: Persistent HTTPS per /24, an IPv6 DNS service and a fwmark service; remove everything else
  lvsha.cluster.ipvs:
    purge: true
    purge_realservers: true
    save_path: /etc/ipvsadm.rules
    services:
      - address: 192.0.2.100
        port: 443
        scheduler: rr
        persistent: 300
        netmask: 255.255.255.0
        realservers:
          - address: 192.0.2.11
          - address: 192.0.2.12
      - protocol: udp
        address: "2001:db8::10"
        port: 53
        realservers:
          - address: "2001:db8::21"
      - protocol: fwmark
        fwmark: 7
        scheduler: sh
        scheduler_flags: [sh-fallback, sh-port]
        realservers:
          - address: 198.51.100.11
            forwarding: nat

- name: Remove a service
  lvsha.cluster.ipvs:
    services:
      - address: 192.0.2.100
        port: 8080
        state: absent
"""

RETURN = r"""
commands:
  description: The lines fed to C(ipvsadm -R) (in check mode, the lines that would be fed); empty if none.
  returned: always
  type: list
  elements: str
  sample:
    - "-A -t 192.0.2.100:80 -s wrr"
    - "-a -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 1"
counts:
  description: The number of services and of real servers in the table after the run (in check mode, predicted).
  returned: always
  type: dict
  sample: {services: 1, realservers: 2}
table:
  description:
    - The whole IPVS table after the run, sorted (in check mode, the predicted table).
  returned: as O(return_table) says (by default, a table of at most 1,000 entries)
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
      description: Scheduler flags, named as C(ipvsadm) names them for this scheduler.
      type: list
      elements: str
      sample: []
    persistent:
      description: Persistence timeout, null if not persistent.
      type: int
      sample: null
    netmask:
      description: Persistence netmask, null for the default (/32 or /128).
      type: str
      sample: null
    ops:
      description: One-packet scheduling.
      type: bool
      sample: false
    persistence_engine:
      description: Persistence engine (C(--pe)), null if none.
      type: str
      sample: null
    realservers:
      description: Real servers, sorted by address and port.
      type: list
      elements: dict
      sample:
        - address: 192.0.2.11
          port: 80
          forwarding: dr
          weight: 1
          u_threshold: 0
          l_threshold: 0
          tun_type: null
          tun_port: null
          tun_checksum: null
"""

import os
import tempfile
from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvsha.cluster.plugins.module_utils._locale import c_locale_environ
from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host._ipvs import (
    CommandError,
    IpvsadmRunner,
    IpvsError,
    IpvsNotLoaded,
    RETURN_TABLE_CHOICES,
    TABLE_LIMIT,
    Table,
    ValidationError,
    compute,
    desired_from_params,
    ipvs_loaded,
    render_save,
    table_result,
    verify,
)

MAX_PROBLEMS = 20
# add_file_common_args' options: they describe save_path and mean nothing without it.
FILE_OPTIONS = ("mode", "owner", "group", "seuser", "serole", "selevel", "setype", "attributes")

SERVICE_OPTIONS: Dict[str, Any] = dict(
    protocol=dict(type="str", choices=["tcp", "udp", "sctp", "fwmark"], default="tcp"),
    address=dict(type="str"),
    port=dict(type="int"),
    fwmark=dict(type="int"),
    family=dict(type="str", choices=["ipv4", "ipv6"]),
    scheduler=dict(type="str", default="wlc"),
    scheduler_flags=dict(type="list", elements="str", default=[]),
    persistent=dict(type="int"),
    netmask=dict(type="str"),
    ops=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    # Real servers are documented with suboptions but validated by desired_from_params()
    # (same types, choices and defaults, plus unknown keys): AnsibleModule's sub-spec
    # validation costs more than the whole diff at thousands of real servers.
    realservers=dict(type="list", elements="dict", default=[]),
)

ARGUMENT_SPEC: Dict[str, Any] = dict(
    services=dict(type="list", elements="dict", default=[], options=SERVICE_OPTIONS),
    purge=dict(type="bool", default=False),
    purge_realservers=dict(type="bool", default=False),
    return_table=dict(type="str", choices=list(RETURN_TABLE_CHOICES), default="auto"),
    save_path=dict(type="path"),
)


def _runner(module: AnsibleModule) -> IpvsadmRunner:
    def run(argv: List[str], data: Optional[str] = None) -> Any:
        # C locale: the error texts matched in _ipvs (NOT_LOADED_MARKERS) are ipvsadm's English ones
        return module.run_command(argv, data=data, binary_data=True, environ_update=c_locale_environ(module))

    return IpvsadmRunner(module.get_bin_path("ipvsadm", required=True), run)


def _read_live(module: AnsibleModule, runner: IpvsadmRunner) -> Table:
    """Read the live table, loading ip_vs once if ipvsadm cannot reach IPVS."""
    not_loaded = ("the ip_vs kernel module is not loaded; check mode assumes an empty IPVS table "
                  "(a real run loads the module)")
    # ipvsadm itself runs modprobe when IPVS is missing: in check mode, do not even ask it.
    if module.check_mode and not ipvs_loaded():
        module.warn(not_loaded)
        return Table()
    try:
        return runner.read_table()
    except IpvsNotLoaded:
        if module.check_mode:
            module.warn(not_loaded)
            return Table()
    modprobe = module.get_bin_path("modprobe", required=True)
    argv = [modprobe, "ip_vs"]
    rc, out, err = module.run_command(argv, environ_update=c_locale_environ(module))
    if rc != 0:
        raise CommandError(f"ip_vs kernel module is not loadable: {(err or out).strip()}", argv, rc, out, err)
    return runner.read_table()


def _problems(problems: List[str]) -> str:
    text = "; ".join(problems[:MAX_PROBLEMS])
    if len(problems) > MAX_PROBLEMS:
        text += f"; and {len(problems) - MAX_PROBLEMS} more"
    return text


def _read_file(module: AnsibleModule, path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        module.fail_json(msg=f"cannot read save_path {path}: {exc}")
    return None  # not reached


def _write_file(module: AnsibleModule, path: str, content: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg=f"cannot write save_path {path}: directory {directory} does not exist")
    creating = not os.path.exists(path)
    fd, tmp = tempfile.mkstemp(prefix=".ipvs-", suffix=".rules", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        module.atomic_move(tmp, path)  # keeps an existing file's mode and owner
        if creating:
            # atomic_move gives a new file 0666 & ~umask (a chmod of the temporary file is lost),
            # so set the mode here: the rules are not secret and are read at boot.
            os.chmod(path, 0o644)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run_module(module: AnsibleModule) -> Dict[str, Any]:
    params = module.params
    if not params["save_path"] and any(params.get(name) is not None for name in FILE_OPTIONS):
        raise ValidationError(f"{', '.join(n for n in FILE_OPTIONS if params.get(n) is not None)} apply to save_path, "
                              "which is not set")
    purge, purge_rs = params["purge"], params["purge_realservers"]
    desired = desired_from_params(params["services"])
    runner = _runner(module)
    live = _read_live(module, runner)
    planned = compute(live, desired, purge, purge_rs)
    lines = planned.lines
    after = planned.after
    if lines and not module.check_mode:
        rc, out, err = runner.restore(lines)
        after = runner.read_table()
        problems = verify(after, desired, purge, purge_rs)
        # ipvsadm -R exits with the status of its last line only: rc 0 proves little,
        # and the stderr of earlier failing lines is all there is to say which failed
        # (one line per failed rule, e.g. "Service already exists"; joined into one message).
        said = "; ".join(line.strip() for line in (err or out).splitlines() if line.strip())
        if rc != 0:
            msg = f"ipvsadm -R failed (rc {rc}): {said}"
            if problems:
                msg += f"; the kernel table differs from the request: {_problems(problems)}"
            raise CommandError(msg, runner.argv("restore"), rc, out, err, commands=lines)
        if problems:
            msg = f"ipvsadm -R succeeded but the kernel table differs from the request: {_problems(problems)}"
            if said:
                msg += f" (ipvsadm -R said: {said})"
            raise CommandError(msg, runner.argv("restore"), rc, out, err, commands=lines)

    result: Dict[str, Any] = {"changed": bool(lines), "commands": lines, **table_result(after, "table", params["return_table"])}
    diffs: List[Dict[str, str]] = []
    if module._diff:
        diffs.append({"before": render_save(live), "after": render_save(after)})
    path = params["save_path"]
    if path:
        content = render_save(after)
        current = _read_file(module, path)
        if current != content:
            result["changed"] = True
            if not module.check_mode:
                _write_file(module, path, content)
        # In check mode a file that is not there yet has nothing to compare: it is changed already.
        if os.path.exists(path):
            file_args = module.load_file_common_arguments(params, path=path)
            result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
        if module._diff:
            diffs.append({"before": current or "", "after": content, "before_header": path, "after_header": path})
    if diffs:
        result["diff"] = diffs if path else diffs[0]
    requested = sum(1 + len(svc.get("realservers") or []) for svc in params["services"])
    if requested > TABLE_LIMIT:
        # Ansible echoes a module's arguments in its result (invocation): for a large request
        # that copy costs more than the whole run, so the services are summarised there.
        result["invocation"] = {"module_args": dict(
            params, services=f"{len(params['services'])} services with {requested - len(params['services'])} real servers "
                             f"(not echoed above {TABLE_LIMIT} entries)")}
    return result


def main() -> None:
    # mode, owner, group, SELinux context and attributes of save_path (ansible.builtin.files).
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, add_file_common_args=True)
    try:
        module.exit_json(**run_module(module))
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    except CommandError as exc:
        extra = {"commands": exc.commands} if exc.commands is not None else {}
        module.fail_json(msg=str(exc), cmd=exc.cmd, rc=exc.rc, stdout=exc.out, stderr=exc.err, **extra)
    except IpvsNotLoaded as exc:
        module.fail_json(msg=str(exc), cmd=exc.cmd, rc=exc.rc, stdout=exc.out, stderr=exc.err)
    except IpvsError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
