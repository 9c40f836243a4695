#!/usr/bin/python
# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: drbd_resource
short_description: Bring a DRBD resource up, down, to a role, or to its configured state
version_added: 0.1.0
description:
  - Drives one DRBD resource through C(drbdadm) as an idempotent state machine.
  - Works with the DRBD 8.4 kernel module that Debian's kernel ships (C(drbdadm) of
    drbd-utils 9 runs its 8.4 back end against it) and with a DRBD 9 kernel module.
    The kernel version is read from the first line of C(/proc/drbd).
  - With DRBD 8.4 the state comes from C(/proc/drbd), whose minor numbers are mapped to the
    resource with C(drbdadm sh-minor). With DRBD 9 it comes from C(drbdsetup status RES --json).
  - Every change is made only when the current state differs, and nothing is changed in
    check mode, which reports the commands it would run.
  - The resource itself must already be defined in the DRBD configuration
    (C(/etc/drbd.d/*.res)); this module does not write configuration files.
author:
  - lvsha.cluster contributors (@lvsha)
extends_documentation_fragment:
  - lvsha.cluster.attributes
attributes:
  check_mode:
    support: full
    details: Reads state (C(/proc/drbd), C(drbdadm sh-*), C(drbdadm -d adjust), backing devices) and predicts the changes; never waits.
  diff_mode:
    support: full
    details: The diff shows role, connection state and disk states before and after, as C(drbdadm role/cstate/dstate) print them.
  idempotent:
    support: full
    details: >-
      A second run with the same arguments runs no state-changing command. For O(state=adjusted) this holds as long
      as C(drbdadm -d adjust) prints nothing for an unchanged configuration.
options:
  name:
    description:
      - Name of the DRBD resource, as in its C(resource NAME { ... }) section.
    type: str
    required: true
  state:
    description:
      - V(up) attaches the backing disk and starts connecting to the peer (C(drbdadm up)), after
        creating meta data when needed (see O(create_metadata)). A resource that the kernel knows but
        that is only half configured is completed with C(drbdadm adjust).
      - V(secondary) is V(up) plus demotion (C(drbdadm secondary)) if this node is Primary.
      - V(primary) is V(up) plus promotion (C(drbdadm primary)). See O(initial_primary) for the
        first promotion of a brand-new pair.
      - V(down) runs C(drbdadm down) when the kernel knows the resource. A Primary whose device is in use
        cannot be taken down; the module reports DRBD's error.
      - V(adjusted) applies a changed configuration file with C(drbdadm adjust), but only when
        C(drbdadm -d adjust) reports something to do. A resource that is not up is brought up as with V(up).
    type: str
    choices: [up, down, primary, secondary, adjusted]
    default: up
  initial_primary:
    description:
      - Set on exactly one node of a brand-new pair, the node whose data wins the first synchronisation.
      - When this node must be promoted and its disk is C(Inconsistent), promotion is forced
        (C(drbdadm primary --force)). That is only done when no C(UpToDate) data exists anywhere, so the peer
        must be connected and its disk C(Inconsistent) too. If the peer is not connected yet, the module
        waits for the connection for up to O(timeout) seconds.
      - The module refuses, and changes nothing, when the peer is connected with C(UpToDate) data (forcing
        would make this node's unsynchronised disk the sync source and overwrite the peer's good data), when the
        peer's disk is C(Outdated) or C(Consistent), when the peer cannot be reached, or when the local disk is
        C(Outdated), C(Consistent), C(Diskless) or failed (forcing would declare possibly stale data current and
        can cause a split brain).
      - When the local disk is already C(UpToDate), promotion is a normal C(drbdadm primary), so the option is
        harmless on later runs.
    type: bool
    default: false
  skip_initial_sync:
    description:
      - For brand-new, empty backing devices only. On the O(initial_primary) node, while the pair is
        C(Connected), both C(Secondary) and both disks C(Inconsistent), run
        C(drbdadm new-current-uuid --clear-bitmap RES) so that both disks become C(UpToDate) at once
        without a full initial resynchronisation.
      - Never use it on devices that hold data. The two replicas are not compared, so they only match if
        both were empty (an online verify will report every differing block).
      - Requires O(initial_primary=true). Waits up to O(timeout) seconds for the peer to connect. Refuses
        when the peer already has C(UpToDate) data.
    type: bool
    default: false
  create_metadata:
    description:
      - Before bringing the resource up, create DRBD meta data (C(drbdadm create-md --force RES)) when the
        meta-data device holds none.
      - The decision is made by reading the meta-data super block from the device itself (internal meta
        data sits in the last 4 KiB-aligned 4096-byte block of the backing device); the magic number
        of DRBD 8.4 (C(v08)) or DRBD 9 (C(v09)) meta data counts as present. Existing meta data is never recreated.
      - If the device carries no meta data but C(wipefs --no-act) lists any signature on it (a file system,
        swap, an md RAID, LVM or ZFS member, LUKS, bcache, a partition table, ...; the same rule as the drbd
        role's test for a blank volume), the module refuses unless O(force_create_md=true). For indexed
        external meta data that is the whole meta-data device.
      - C(--force) only suppresses drbdmeta's interactive confirmation, which cannot be answered here; the
        checks above are made by the module first.
    type: bool
    default: true
  force_create_md:
    description:
      - Create meta data even when wipefs lists a file system or another data signature on the device.
      - B(This can destroy data.) Internal meta data is written over the last part of the backing device,
        where the file system keeps data, and the data is then overwritten again by the initial
        synchronisation unless this node is the O(initial_primary) one.
    type: bool
    default: false
  wait_for:
    description:
      - After reaching O(state), wait until the peer is connected (V(connected)) or until both disks are
        C(UpToDate), that is, until the initial or a pending resynchronisation has finished (V(uptodate)).
      - On timeout the module fails; the result carries the resynchronisation progress
        (the C(sync'ed) percentage and the finish estimate from C(/proc/drbd), or the same from C(drbdsetup status)).
      - Not allowed with O(state=down). Not done in check mode.
    type: str
    choices: [none, connected, uptodate]
    default: none
  timeout:
    description:
      - Seconds to wait for O(wait_for), and for the peer connection that O(initial_primary) and
        O(skip_initial_sync) need.
    type: int
    default: 300
notes:
  - The state is polled every 2 seconds while waiting.
  - Commands run with the C locale.
seealso:
  - name: drbdadm(8)
    description: The DRBD administration tool.
    link: https://linbit.com/man/v84/?linbitman=drbdadm.8.html
  - name: drbdsetup(8), new-current-uuid
    description: Skipping the initial resynchronisation on just-created meta data.
    link: https://linbit.com/man/v84/?linbitman=drbdsetup.8.html
"""

EXAMPLES = r"""
- name: Bring r0 up on both nodes (creates meta data on empty devices)
  lvsha.cluster.drbd_resource:
    name: r0
    state: up

- name: First promotion of a brand-new pair, on one node only
  lvsha.cluster.drbd_resource:
    name: r0
    state: primary
    initial_primary: "{{ inventory_hostname == groups['storage'][0] }}"
    wait_for: connected
    timeout: 120

- name: New empty disks on both nodes, skip the initial full resync
  lvsha.cluster.drbd_resource:
    name: r0
    state: primary
    initial_primary: true
    skip_initial_sync: true
  when: inventory_hostname == groups['storage'][0]

- name: Wait until the resynchronisation has finished
  lvsha.cluster.drbd_resource:
    name: r0
    state: secondary
    wait_for: uptodate
    timeout: 3600

- name: Apply an edited r0.res
  lvsha.cluster.drbd_resource:
    name: r0
    state: adjusted

- name: Stop r0
  lvsha.cluster.drbd_resource:
    name: r0
    state: down
"""

RETURN = r"""
commands:
  description: State-changing commands that were run (in check mode, that would be run), in order.
  returned: always
  type: list
  elements: str
  sample: ["drbdadm create-md --force r0", "drbdadm up r0", "drbdadm primary --force r0"]
version:
  description: Version of the loaded DRBD kernel module, V(null) when it is not loaded.
  returned: always
  type: str
  sample: 8.4.11
role:
  description: Local role (first volume), V(null) when the resource is not configured.
  returned: always
  type: str
  sample: Primary
peer_role:
  description: Role of the peer, V(Unknown) when not connected.
  returned: always
  type: str
  sample: Secondary
cstate:
  description: Connection state, V(Unconfigured) when the resource is down.
  returned: always
  type: str
  sample: SyncSource
disk_state:
  description: Local disk state.
  returned: always
  type: str
  sample: UpToDate
peer_disk_state:
  description: Peer's disk state.
  returned: always
  type: str
  sample: Inconsistent
progress:
  description: Resynchronisation or online-verify progress, V(null) when none is running.
  returned: always
  type: dict
  sample:
    kind: "sync'ed"
    percent: 42.5
    left: 602112
    total: 1048576
    unit: K
    finish: "0:03:20"
    finish_seconds: 200
    speed_kib: 3012
    want_kib: null
    stalled: false
    text: "sync'ed: 42.5% (602112/1048576)K finish: 0:03:20 speed: 3012 K/sec"
volumes:
  description: Per-volume state.
  returned: always
  type: list
  elements: dict
  sample:
    - volume: 0
      minor: 0
      cstate: Connected
      role: Primary
      peer_role: Secondary
      disk_state: UpToDate
      peer_disk_state: UpToDate
      replication: null
      progress: null
adjust_plan:
  description: What C(drbdadm -d adjust) printed; empty when the running resource matches its configuration.
  returned: when O(state=adjusted) and the resource was up
  type: list
  elements: str
  sample: ["drbdsetup-84 net-options r0 ipv4:192.0.2.11:7789 ipv4:192.0.2.12:7789 --max-buffers=8000"]
metadata:
  description: What was found on the meta-data devices when the resource had to be brought up.
  returned: when meta data was checked
  type: list
  elements: dict
  sample:
    - device: /dev/vdb
      md_index: internal
      size: 67108864
      metadata: null
      filesystem: null
"""

from typing import Any, Callable

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvsha.cluster.plugins.module_utils._drbd import (
    DrbdError,
    DrbdRunner,
    HostIO,
    ResourceStatus,
    VolumeStatus,
    adjust_plan,
    output_lines,
    parse_minors,
    parse_proc_drbd,
    parse_status_json,
    probe_device,
    status_from_proc,
    wait_until,
)


class DrbdResource:
    """One resource; one method per target state. Mutations are skipped in check mode."""

    def __init__(self, module: AnsibleModule, runner: DrbdRunner, host: HostIO) -> None:
        self.module = module
        self.runner = runner
        self.host = host
        self.params = module.params
        self.name: str = module.params["name"]
        self.check_mode = module.check_mode
        self.commands: list[str] = []
        self.warnings: list[str] = []
        self.extra: dict[str, Any] = {}
        self._minors: list[int] | None = None
        self.status = self.read_status()
        self.before = self.status

    # ---------------------------------------------------------------- reading state
    def read_status(self) -> ResourceStatus:
        text = self.host.read_proc_drbd()
        if text is None:
            return ResourceStatus.down(self.name, None)
        proc = parse_proc_drbd(text)
        if proc.major >= 9:
            result = self.runner.run("drbdsetup", "status-json", self.name, check=False)
            if result.rc == 10 and "No such resource" in result.err:
                return ResourceStatus.down(self.name, proc.version)
            if result.rc != 0:
                self.runner.run("drbdsetup", "status-json", self.name)  # raises with the details
            return parse_status_json(result.out, self.name, proc.version)
        if self._minors is None:
            self._minors = parse_minors(self.runner.run("drbdadm", "sh-minor", self.name).out)
        return status_from_proc(proc, self.name, self._minors)

    def refresh(self) -> None:
        self.status = self.read_status()

    # ---------------------------------------------------------------- changing state
    def change(self, command: str, predict: Callable[[ResourceStatus], ResourceStatus] | None,
               reread: bool = True) -> None:
        self.commands.append(self.runner.describe("drbdadm", command, self.name))
        if self.check_mode:
            if predict is not None:
                self.status = predict(self.status)
            return
        self.runner.run("drbdadm", command, self.name)
        if reread:
            self.refresh()

    def _predicted(self, **changes: Any) -> Callable[[ResourceStatus], ResourceStatus]:
        """Check-mode prediction: the current volumes with some fields replaced."""
        def predict(current: ResourceStatus) -> ResourceStatus:
            volumes = current.volumes or [VolumeStatus(volume=0, minor=None, cstate="Unknown")]
            new = [VolumeStatus(**{**volume.__dict__, **changes}) for volume in volumes]
            return ResourceStatus(name=current.name, version=current.version, configured=True,
                                  present=True, volumes=new)
        return predict

    # ---------------------------------------------------------------- building blocks
    def ensure_metadata(self) -> None:
        devices = output_lines(self.runner.run("drbdadm", "sh-md-dev", self.name).out)
        indexes = output_lines(self.runner.run("drbdadm", "sh-md-idx", self.name).out)
        if not devices or len(devices) != len(indexes):
            raise DrbdError(f"cannot map the meta-data devices of {self.name}: "
                            f"sh-md-dev printed {devices}, sh-md-idx printed {indexes}")
        probes = [probe_device(self.host, device, index) for device, index in zip(devices, indexes)]
        self.extra["metadata"] = [probe.as_dict() for probe in probes]
        missing = [probe for probe in probes if probe.metadata is None]
        if not missing:
            return
        if len(missing) != len(probes):
            raise DrbdError(
                f"{self.name}: some volumes have DRBD meta data and some have none "
                f"({', '.join(p.device for p in missing)} have none); refusing to run "
                "'drbdadm create-md' on the whole resource, create it per volume by hand",
                metadata=self.extra["metadata"])
        with_data = [probe for probe in missing if probe.filesystem]
        if with_data and not self.params["force_create_md"]:
            found = ", ".join(f"{p.device} holds {p.filesystem}" for p in with_data)
            raise DrbdError(
                f"{self.name}: no DRBD meta data found, but {found}. Creating meta data could destroy "
                "it; set force_create_md=true if this data may be overwritten",
                metadata=self.extra["metadata"])
        self.change("create-md", predict=None, reread=False)

    def ensure_up(self) -> None:
        if self.status.configured:
            return
        if self.params["create_metadata"]:
            self.ensure_metadata()
        # a resource the kernel knows only in part: adjust completes it, up would fail
        command = "adjust" if self.status.present else "up"
        self.change(command, predict=self._predicted(
            cstate="WFConnection", role="Secondary", peer_role="Unknown", disk_state=None,
            peer_disk_state="DUnknown", progress=None))

    def wait_for_peer(self, purpose: str) -> bool:
        """Wait for the connection needed to judge the peer's data. False: could not tell."""
        if self.status.connected:
            return True
        if self.check_mode:
            self.warnings.append(f"the peer of {self.name} is not connected; a real run waits up to "
                                 f"{self.params['timeout']}s for it before deciding on {purpose}")
            return False
        return wait_until(self.host, self.params["timeout"], lambda: self.status.connected, self.refresh)

    def maybe_skip_initial_sync(self) -> None:
        if not self.params["skip_initial_sync"]:
            return
        status = self.status
        if status.all_disks("UpToDate"):
            return
        if self.check_mode and status.disk_state is None:
            self.warnings.append(f"{self.name} is not up yet; the clear-bitmap step is predicted, "
                                 "not verified")
            self.change("new-current-uuid-clear-bitmap", predict=self._predicted(
                disk_state="UpToDate", peer_disk_state="UpToDate"))
            return
        if not self.wait_for_peer("skip_initial_sync"):
            if self.check_mode:
                self.change("new-current-uuid-clear-bitmap", predict=self._predicted(
                    disk_state="UpToDate", peer_disk_state="UpToDate"))
                return
            raise DrbdError(
                f"skip_initial_sync: the peer of {self.name} did not connect within {self.params['timeout']}s "
                f"({self.status.describe()}); both sides must be Connected and Inconsistent")
        status = self.status
        if status.any_peer_disk("UpToDate"):
            raise DrbdError(
                f"skip_initial_sync refused: the peer of {self.name} already holds UpToDate data "
                f"({status.describe()}); clearing the bitmap is only for a brand-new pair")
        if not (status.all_disks("Inconsistent") and status.all_peer_disks("Inconsistent")):
            raise DrbdError(
                f"skip_initial_sync refused: {self.name} is {status.describe()}; it needs "
                "Inconsistent/Inconsistent, i.e. just-created meta data on both nodes")
        if status.role != "Secondary" or status.peer_role != "Secondary":
            raise DrbdError(f"skip_initial_sync refused: both nodes must be Secondary ({status.describe()})")
        self.change("new-current-uuid-clear-bitmap", predict=self._predicted(
            disk_state="UpToDate", peer_disk_state="UpToDate"))

    def forced_promotion_needed(self) -> bool:
        """Decide between 'primary' and 'primary --force' for initial_primary, or refuse."""
        status = self.status
        if status.all_disks("UpToDate"):
            return False
        if self.check_mode and status.disk_state is None:
            self.warnings.append(f"{self.name} is not up yet; forced promotion is predicted, not verified")
            return True
        if not status.all_disks("Inconsistent"):
            raise DrbdError(
                f"initial_primary refused: the local disk of {self.name} is {status.disk_state} "
                f"({status.describe()}). Forcing promotion is only safe while this disk is Inconsistent on a "
                "brand-new pair; forcing Outdated or Consistent data to UpToDate could discard newer writes "
                "held by the peer and cause a split brain, and a Diskless or failed disk has no data to force")
        if not self.wait_for_peer("the forced promotion"):
            if self.check_mode:
                return True
            raise DrbdError(
                f"initial_primary refused: the peer of {self.name} did not connect within "
                f"{self.params['timeout']}s ({self.status.describe()}), so it cannot be verified that it "
                "holds no UpToDate data; bring the peer up (state=up) and run again")
        status = self.status
        if status.all_disks("UpToDate"):
            return False  # became UpToDate while connecting (the peer synced us)
        if status.any_peer_disk("UpToDate"):
            raise DrbdError(
                f"initial_primary refused: the peer of {self.name} is connected and holds UpToDate data "
                f"({status.describe()}). A forced promotion would make this node's Inconsistent disk the "
                "sync source and overwrite the peer's good data. initial_primary is only for a brand-new "
                "pair; promote without it (DRBD serves reads from the peer until the resync is done)")
        if not status.all_peer_disks("Inconsistent"):
            raise DrbdError(
                f"initial_primary refused: the peer's disk of {self.name} is {status.peer_disk_state} "
                f"({status.describe()}); a forced promotion is only done when both disks are Inconsistent")
        return True

    # ---------------------------------------------------------------- target states
    def state_up(self) -> None:
        self.ensure_up()
        self.maybe_skip_initial_sync()

    def state_secondary(self) -> None:
        self.state_up()
        if self.status.role == "Primary":
            self.change("secondary", predict=self._predicted(role="Secondary"))

    def state_primary(self) -> None:
        self.state_up()
        if self.status.role == "Primary":
            return
        if self.params["initial_primary"] and self.forced_promotion_needed():
            self.change("primary-force", predict=self._predicted(role="Primary", disk_state="UpToDate"))
        else:
            self.change("primary", predict=self._predicted(role="Primary"))

    def state_down(self) -> None:
        if self.status.present:
            self.change("down", predict=lambda current: ResourceStatus.down(current.name, current.version))

    def state_adjusted(self) -> None:
        if not self.status.configured:
            self.state_up()
            return
        plan = adjust_plan(self.runner.run("drbdadm", "adjust-dry-run", self.name).out)
        self.extra["adjust_plan"] = plan
        if plan:
            self.change("adjust", predict=None)
        self.maybe_skip_initial_sync()

    def wait(self, what: str) -> None:
        if what == "none":
            return
        if self.check_mode:
            self.warnings.append(f"check mode does not wait for {what}")
            return

        def condition() -> bool:
            status = self.status
            if what == "connected":
                return status.connected
            return status.connected and status.all_disks("UpToDate") and status.all_peer_disks("UpToDate")

        if not wait_until(self.host, self.params["timeout"], condition, self.refresh):
            raise DrbdError(f"timed out after {self.params['timeout']}s waiting for {self.name} to be "
                            f"{what}: {self.status.describe()}")

    # ---------------------------------------------------------------- result
    def result(self) -> dict[str, Any]:
        status = self.status
        progress = status.progress
        result: dict[str, Any] = {
            "changed": bool(self.commands),
            "commands": self.commands,
            "version": status.version,
            "role": status.role,
            "peer_role": status.peer_role,
            "cstate": status.cstate,
            "disk_state": status.disk_state,
            "peer_disk_state": status.peer_disk_state,
            "progress": progress.as_dict() if progress else None,
            "volumes": [volume.as_dict() for volume in status.volumes],
        }
        result.update(self.extra)
        if self.module._diff:
            result["diff"] = {"before": self.before.summary(), "after": status.summary()}
        return result


STATES = {
    "up": DrbdResource.state_up,
    "down": DrbdResource.state_down,
    "primary": DrbdResource.state_primary,
    "secondary": DrbdResource.state_secondary,
    "adjusted": DrbdResource.state_adjusted,
}


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="up", choices=list(STATES)),
            initial_primary=dict(type="bool", default=False),
            skip_initial_sync=dict(type="bool", default=False),
            create_metadata=dict(type="bool", default=True),
            force_create_md=dict(type="bool", default=False),
            wait_for=dict(type="str", default="none", choices=["none", "connected", "uptodate"]),
            timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["skip_initial_sync"] and not params["initial_primary"]:
        module.fail_json(msg="skip_initial_sync requires initial_primary=true (run it on the initial primary only)")
    if params["state"] == "down" and params["wait_for"] != "none":
        module.fail_json(msg="wait_for cannot be used with state=down")
    if params["timeout"] < 0:
        module.fail_json(msg="timeout must not be negative")

    resource: DrbdResource | None = None
    try:
        resource = DrbdResource(module, DrbdRunner(module), HostIO())
        STATES[params["state"]](resource)
        resource.wait(params["wait_for"])
    except DrbdError as exc:
        details: dict[str, Any] = {}
        if resource is not None:
            details = resource.result()
            details.pop("diff", None)
        details.update(exc.details)
        module.fail_json(msg=exc.msg, **details)
    for warning in resource.warnings:
        module.warn(warning)
    module.exit_json(**resource.result())


if __name__ == "__main__":
    main()
