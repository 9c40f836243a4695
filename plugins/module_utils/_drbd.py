# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private helpers for the drbd_resource module: one drbdadm/drbdsetup runner, parsers
for ``/proc/drbd`` (DRBD 8.4) and ``drbdsetup status --json`` (DRBD 9), and an on-disk
probe for DRBD meta data and, through wipefs, any other data signature.

Everything that touches the host outside of a command goes through :class:`HostIO`, so
unit tests can point it at fixtures instead of ``/proc`` and block devices.
"""
from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

from ansible_collections.lvsha.cluster.plugins.module_utils._locale import c_locale_environ

# --------------------------------------------------------------------------------------
# Host access (the only place that reads /proc or block devices, or sleeps)
# --------------------------------------------------------------------------------------


class HostIO:
    """File system, device and clock access used by the module.

    Unit tests replace these methods (on the class) with fixture-backed fakes.
    """

    proc_drbd_path = "/proc/drbd"
    poll_interval = 2.0

    def read_proc_drbd(self) -> str | None:
        """Text of /proc/drbd, or None when the drbd kernel module is not loaded."""
        try:
            with open(self.proc_drbd_path, encoding="ascii", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def open_device(self, path: str) -> BinaryIO:
        """Open a block device (or image file) read-only, unbuffered."""
        return open(path, "rb", buffering=0)

    def list_signatures(self, path: str) -> tuple[int, str, str]:
        """Exit status, stdout and stderr of ``wipefs --no-act --json path``: every signature
        libblkid finds on the device (file systems, RAID and LVM members, LUKS, ZFS, bcache,
        partition tables, ...), each on its own. blkid -p names at most one, and from
        util-linux 2.41 (Debian 13) it reports nothing at all for a device with two."""
        argv = ["wipefs", "--no-act", "--json", path]
        env = dict(os.environ, LC_ALL="C", PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class DrbdError(Exception):
    """A condition the module reports with fail_json; ``details`` go into the result."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


# The secret as drbdadm prints it in a drbdsetup command (--shared-secret=VALUE, the whole
# argument: quoted chunks, which may hold blanks, and any other characters up to a blank), and
# as a configuration dump writes it (shared-secret "VALUE"; the ; is the syntax's).
SECRET_RE = re.compile(r"(--shared-secret=)(?:'[^']*'|\"[^\"]*\"|\S)+"
                       r"|(shared-secret\s+)(?:\"[^\"]*\"|'[^']*'|[^\s;]+)")


def mask_secrets(text: str) -> str:
    """``text`` with every net shared-secret value replaced: drbdadm prints them in the
    drbdsetup commands it runs or plans, and results and errors end up in logs."""
    return SECRET_RE.sub(lambda match: (match.group(1) or match.group(2)) + "********", text)


class DrbdCommandError(DrbdError):
    def __init__(self, cmd: list[str], rc: int, stdout: str, stderr: str) -> None:
        stdout, stderr = mask_secrets(stdout), mask_secrets(stderr)
        lines = [line.strip() for line in (stderr or stdout).splitlines() if line.strip()]
        # drbdadm ends with "Command 'drbdsetup-84 ...' terminated with exit code N";
        # the lines before it carry the reason DRBD gave.
        reasons: list[str] = []
        for line in lines:
            if line.startswith("Command '"):
                continue
            if reasons and reasons[-1].endswith(":"):
                # "additional info from kernel:" introduces the next line ("unknown minor")
                reasons[-1] += " " + line
            else:
                reasons.append(line)
        reason = "; ".join(reasons or lines) or f"exit code {rc}"
        super().__init__(f"{' '.join(cmd)} failed (rc={rc}): {reason}",
                         cmd=cmd, rc=rc, stdout=stdout, stderr=stderr)


# --------------------------------------------------------------------------------------
# Runner: the whole drbdadm / drbdsetup argv grammar used by the collection, declared once
# --------------------------------------------------------------------------------------

# tool -> command key -> argv after the binary; "{res}" is the resource name.
DRBD_GRAMMAR: dict[str, dict[str, tuple[str, ...]]] = {
    "drbdadm": {
        # read-only, answered from the configuration file
        "sh-minor": ("sh-minor", "{res}"),
        "sh-md-dev": ("sh-md-dev", "{res}"),
        "sh-md-idx": ("sh-md-idx", "{res}"),
        # read-only, compares configuration and kernel; prints the commands adjust would run
        "adjust-dry-run": ("-d", "adjust", "{res}"),
        # state changes
        "create-md": ("create-md", "--force", "{res}"),
        "up": ("up", "{res}"),
        "adjust": ("adjust", "{res}"),
        "down": ("down", "{res}"),
        "primary": ("primary", "{res}"),
        "primary-force": ("primary", "--force", "{res}"),
        "secondary": ("secondary", "{res}"),
        "new-current-uuid-clear-bitmap": ("new-current-uuid", "--clear-bitmap", "{res}"),
    },
    "drbdsetup": {
        "status-json": ("status", "{res}", "--json"),
    },
}


@dataclass
class CommandResult:
    argv: list[str]
    rc: int
    out: str
    err: str


class DrbdRunner:
    """Runs drbdadm/drbdsetup commands of :data:`DRBD_GRAMMAR` with the C locale."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self._paths: dict[str, str] = {}

    def binary(self, tool: str) -> str:
        if tool not in self._paths:
            self._paths[tool] = self.module.get_bin_path(tool, required=True)
        return self._paths[tool]

    def argv(self, tool: str, command: str, resource: str) -> list[str]:
        words = DRBD_GRAMMAR[tool][command]
        return [self.binary(tool)] + [word.format(res=resource) for word in words]

    def describe(self, tool: str, command: str, resource: str) -> str:
        """Human form of a command for the ``commands`` result (no absolute path)."""
        words = DRBD_GRAMMAR[tool][command]
        return " ".join([tool] + [word.format(res=resource) for word in words])

    def run(self, tool: str, command: str, resource: str, check: bool = True) -> CommandResult:
        argv = self.argv(tool, command, resource)
        rc, out, err = self.module.run_command(argv, environ_update=c_locale_environ(self.module))
        if check and rc != 0:
            raise DrbdCommandError(argv, rc, out, err)
        return CommandResult(argv, rc, out, err)


def output_lines(text: str) -> list[str]:
    """Non-empty stripped lines (drbdadm sh-* print one value per volume)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def adjust_plan(text: str) -> list[str]:
    """Commands printed by ``drbdadm -d adjust RES``; empty means nothing to change."""
    return [line for line in output_lines(mask_secrets(text)) if not line.startswith("#")]


# --------------------------------------------------------------------------------------
# Status model shared by DRBD 8.4 and DRBD 9
# --------------------------------------------------------------------------------------

# DRBD 8.4 connection states (drbd_conn_str) in which the peer is connected.
CONNECTED_STATES_84 = frozenset({
    "Connected", "StartingSyncS", "StartingSyncT", "WFBitMapS", "WFBitMapT",
    "WFSyncUUID", "SyncSource", "SyncTarget", "VerifyS", "VerifyT",
    "PausedSyncS", "PausedSyncT", "Ahead", "Behind",
})


@dataclass
class SyncProgress:
    """Resync or online-verify progress of one volume."""

    kind: str  # "sync'ed" or "verified"
    percent: float
    left: int | None = None  # amount still to go, in ``unit``
    total: int | None = None
    unit: str = "K"  # K or M, as /proc/drbd prints
    finish: str | None = None  # h:mm:ss estimate
    finish_seconds: int | None = None
    speed_kib: int | None = None  # K/sec, recent average
    want_kib: int | None = None
    stalled: bool = False

    def text(self) -> str:
        parts = [f"{self.kind}: {self.percent:.1f}%"]
        if self.left is not None and self.total is not None:
            parts.append(f"({self.left}/{self.total}){self.unit}")
        if self.finish is not None:
            parts.append(f"finish: {self.finish}")
        if self.speed_kib is not None:
            parts.append(f"speed: {self.speed_kib} K/sec")
        if self.stalled:
            parts.append("(stalled)")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "percent": self.percent, "left": self.left,
            "total": self.total, "unit": self.unit, "finish": self.finish,
            "finish_seconds": self.finish_seconds, "speed_kib": self.speed_kib,
            "want_kib": self.want_kib, "stalled": self.stalled, "text": self.text(),
        }


@dataclass
class VolumeStatus:
    volume: int
    minor: int | None
    cstate: str
    role: str | None = None
    peer_role: str | None = None
    disk_state: str | None = None
    peer_disk_state: str | None = None
    replication: str | None = None  # DRBD 9 replication state of the peer device
    progress: SyncProgress | None = None
    connected: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "volume": self.volume, "minor": self.minor, "cstate": self.cstate,
            "role": self.role, "peer_role": self.peer_role,
            "disk_state": self.disk_state, "peer_disk_state": self.peer_disk_state,
            "replication": self.replication,
            "progress": self.progress.as_dict() if self.progress else None,
        }


UNCONFIGURED = "Unconfigured"


@dataclass
class ResourceStatus:
    """State of one resource. ``configured``: every volume is attached/connected as far as
    DRBD is concerned (not ``Unconfigured``); ``present``: the kernel knows the resource at
    all (a half-configured resource is present but not configured)."""

    name: str
    version: str | None
    configured: bool
    present: bool
    volumes: list[VolumeStatus] = field(default_factory=list)

    @classmethod
    def down(cls, name: str, version: str | None) -> ResourceStatus:
        return cls(name=name, version=version, configured=False, present=False)

    def _first(self, attr: str) -> Any:
        return getattr(self.volumes[0], attr) if self.configured and self.volumes else None

    @property
    def role(self) -> str | None:
        return self._first("role")

    @property
    def peer_role(self) -> str | None:
        return self._first("peer_role")

    @property
    def cstate(self) -> str:
        return self._first("cstate") or UNCONFIGURED

    @property
    def disk_state(self) -> str | None:
        return self._first("disk_state")

    @property
    def peer_disk_state(self) -> str | None:
        return self._first("peer_disk_state")

    @property
    def progress(self) -> SyncProgress | None:
        for volume in self.volumes:
            if volume.progress is not None:
                return volume.progress
        return None

    @property
    def connected(self) -> bool:
        return self.configured and bool(self.volumes) and all(v.connected for v in self.volumes)

    def all_disks(self, *states: str) -> bool:
        return self.configured and bool(self.volumes) and all(v.disk_state in states for v in self.volumes)

    def all_peer_disks(self, *states: str) -> bool:
        return self.configured and bool(self.volumes) and all(v.peer_disk_state in states for v in self.volumes)

    def any_peer_disk(self, *states: str) -> bool:
        return any(v.peer_disk_state in states for v in self.volumes)

    def summary(self) -> dict[str, str]:
        """drbdadm role/cstate/dstate style view, used for the diff."""
        if not self.configured:
            return {"role": UNCONFIGURED, "cstate": UNCONFIGURED, "dstate": UNCONFIGURED}
        # check-mode predictions may not know every field yet
        return {
            "role": f"{self.role or 'Unknown'}/{self.peer_role or 'Unknown'}",
            "cstate": self.cstate,
            "dstate": f"{self.disk_state or 'DUnknown'}/{self.peer_disk_state or 'DUnknown'}",
        }

    def describe(self) -> str:
        if not self.configured:
            return "cs:Unconfigured"
        text = f"cs:{self.cstate} ro:{self.role}/{self.peer_role} ds:{self.disk_state}/{self.peer_disk_state}"
        if self.progress is not None:
            text += f", {self.progress.text()}"
        return text


# --------------------------------------------------------------------------------------
# /proc/drbd (DRBD 8.4; DRBD 9 only prints the version there)
# --------------------------------------------------------------------------------------

_VERSION_RE = re.compile(r"^version:\s+(?P<version>\d+\.\d+\.\d+\S*)\s+\(api:(?P<api>\d+)/proto:(?P<proto>[\d-]+)\)")
_MINOR_RE = re.compile(
    r"^\s*(?P<minor>\d+):\s+cs:(?P<cs>\w+)"
    r"(?:\s+ro:(?P<role>\w+)/(?P<peer_role>\w+)\s+ds:(?P<ds>\w+)/(?P<pds>\w+)"
    r"(?:\s+(?P<proto>[A-C]))?\s+(?P<flags>\S{6}))?\s*$"
)
_STATS_RE = re.compile(r"^\s+ns:")
_BAR_RE = re.compile(
    r"^\s*\[[=>.]*\]\s+(?P<kind>sync'ed|verified):\s*(?P<pct>\d+\.\d)%"
    r"(?:\s+\((?P<left>\d+)/(?P<total>\d+)\)(?P<unit>[KM]))?"
)
_FINISH_RE = re.compile(
    r"^\s*finish:\s+(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})\s+speed:\s+(?P<speed>[\d,]+)"
    r"\s+\([^)]*\)(?:\s+want:\s+(?P<want>[\d,]+))?\s+K/sec(?P<stalled>\s+\(stalled\))?"
)


@dataclass
class ProcMinor:
    minor: int
    cstate: str
    role: str | None = None
    peer_role: str | None = None
    disk_state: str | None = None
    peer_disk_state: str | None = None
    protocol: str | None = None
    flags: str | None = None
    stats: dict[str, str] = field(default_factory=dict)
    progress: SyncProgress | None = None

    @property
    def unconfigured(self) -> bool:
        return self.cstate == UNCONFIGURED


@dataclass
class ProcDrbd:
    version: str
    api: int
    proto: str
    minors: dict[int, ProcMinor] = field(default_factory=dict)

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def parse_proc_drbd(text: str) -> ProcDrbd:
    """Parse /proc/drbd as printed by drbd_seq_show() of the 8.4 kernel module."""
    lines = text.splitlines()
    head = _VERSION_RE.match(lines[0]) if lines else None
    if head is None:
        raise DrbdError("cannot parse /proc/drbd: no 'version:' line", proc_drbd=text)
    proc = ProcDrbd(version=head["version"], api=int(head["api"]), proto=head["proto"])
    current: ProcMinor | None = None
    for line in lines[1:]:
        minor = _MINOR_RE.match(line)
        if minor:
            current = ProcMinor(
                minor=int(minor["minor"]), cstate=minor["cs"], role=minor["role"],
                peer_role=minor["peer_role"], disk_state=minor["ds"],
                peer_disk_state=minor["pds"], protocol=minor["proto"], flags=minor["flags"],
            )
            proc.minors[current.minor] = current
            continue
        if current is None:
            continue  # srcversion:/GIT-hash:/Transports lines
        if _STATS_RE.match(line):
            current.stats = dict(item.split(":", 1) for item in line.split() if ":" in item)
            continue
        progress_bar = _BAR_RE.match(line)
        if progress_bar:
            current.progress = SyncProgress(
                kind=progress_bar["kind"], percent=float(progress_bar["pct"]),
                left=int(progress_bar["left"]) if progress_bar["left"] else None,
                total=int(progress_bar["total"]) if progress_bar["total"] else None,
                unit=progress_bar["unit"] or "K",
            )
            continue
        finish = _FINISH_RE.match(line)
        if finish and current.progress is not None:
            progress = current.progress
            progress.finish = f"{int(finish['h'])}:{finish['m']}:{finish['s']}"
            progress.finish_seconds = int(finish["h"]) * 3600 + int(finish["m"]) * 60 + int(finish["s"])
            progress.speed_kib = _number(finish["speed"])
            progress.want_kib = _number(finish["want"]) if finish["want"] else None
            progress.stalled = bool(finish["stalled"])
    return proc


def status_from_proc(proc: ProcDrbd, name: str, minors: list[int]) -> ResourceStatus:
    """Status of the resource whose volumes use ``minors`` (from ``drbdadm sh-minor``)."""
    volumes: list[VolumeStatus] = []
    present = False
    configured = bool(minors)
    for index, number in enumerate(minors):
        entry = proc.minors.get(number)
        if entry is None:
            configured = False
            continue
        present = True
        if entry.unconfigured:
            configured = False
            continue
        volumes.append(VolumeStatus(
            volume=index, minor=number, cstate=entry.cstate, role=entry.role,
            peer_role=entry.peer_role, disk_state=entry.disk_state,
            peer_disk_state=entry.peer_disk_state, progress=entry.progress,
            connected=entry.cstate in CONNECTED_STATES_84,
        ))
    if not configured:
        volumes = []
    return ResourceStatus(name=name, version=proc.version, configured=configured,
                          present=present, volumes=volumes)


def parse_minors(text: str) -> list[int]:
    """``drbdadm sh-minor RES`` prints one minor number per volume."""
    try:
        return [int(line) for line in output_lines(text)]
    except ValueError as exc:
        raise DrbdError(f"unexpected 'drbdadm sh-minor' output: {text!r}") from exc


# --------------------------------------------------------------------------------------
# drbdsetup status --json (DRBD 9)
# --------------------------------------------------------------------------------------


def _format_seconds(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _progress_9(peer_device: dict[str, Any]) -> SyncProgress | None:
    if "percent-resync-done" not in peer_device:
        return None
    kind = "verified" if peer_device.get("has-online-verify-details") else "sync'ed"
    progress = SyncProgress(kind=kind, percent=round(float(peer_device["percent-resync-done"]), 1))
    eta = peer_device.get("estimated-seconds-to-finish")
    # drbdsetup prints 987654321 when it has no rate to estimate from yet
    if eta is not None and 0 <= float(eta) < 987654321:
        progress.finish_seconds = int(round(float(eta)))
        progress.finish = _format_seconds(progress.finish_seconds)
    if "out-of-sync" in peer_device:
        progress.left = int(peer_device["out-of-sync"])
    if peer_device.get("db1/dt1 [MiB/s]") is not None:
        progress.speed_kib = int(float(peer_device["db1/dt1 [MiB/s]"]) * 1024)
    if peer_device.get("want"):
        progress.want_kib = int(float(peer_device["want"]) * 1024)
    return progress


def parse_status_json(text: str, name: str, version: str | None) -> ResourceStatus:
    """Parse ``drbdsetup status RES --json`` (drbd-utils 9)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DrbdError(f"cannot parse 'drbdsetup status {name} --json' output: {exc}") from exc
    resource = next((item for item in data if item.get("name") == name), None)
    if resource is None:
        return ResourceStatus.down(name, version)
    connections = resource.get("connections") or []
    # A two-node resource has one connection; with more peers the first one is reported.
    connection = connections[0] if connections else None
    volumes: list[VolumeStatus] = []
    for device in resource.get("devices") or []:
        peer = None
        if connection is not None:
            peer = next((pd for pd in connection.get("peer_devices") or []
                         if pd.get("volume") == device.get("volume")), None)
        cstate = connection.get("connection-state", "StandAlone") if connection else "StandAlone"
        volumes.append(VolumeStatus(
            volume=int(device.get("volume", 0)), minor=device.get("minor"),
            cstate=cstate, role=resource.get("role"),
            peer_role=connection.get("peer-role", "Unknown") if connection else "Unknown",
            disk_state=device.get("disk-state"),
            peer_disk_state=peer.get("peer-disk-state", "DUnknown") if peer else "DUnknown",
            replication=peer.get("replication-state") if peer else None,
            progress=_progress_9(peer) if peer else None,
            connected=cstate == "Connected",
        ))
    configured = bool(volumes)
    return ResourceStatus(name=name, version=version, configured=configured, present=True,
                          volumes=volumes)


# --------------------------------------------------------------------------------------
# On-disk probes: DRBD meta-data super block and file system signatures
# --------------------------------------------------------------------------------------

DRBD_MAGIC = 0x83740267
DRBD_MD_MAGIC_08 = DRBD_MAGIC + 4  # 0x8374026b
DRBD_MD_MAGIC_84_UNCLEAN = DRBD_MAGIC + 5  # 0x8374026c
DRBD_MD_MAGIC_09 = DRBD_MAGIC + 6  # 0x8374026d
MD_MAGICS = {
    DRBD_MD_MAGIC_08: "v08",
    DRBD_MD_MAGIC_84_UNCLEAN: "v08 (unclean, activity log not applied)",
    DRBD_MD_MAGIC_09: "v09",
}
# struct md_on_disk_08 / meta_data_on_disk_9: u64 size, 4 (v08) or 1+4 (v09) u64 uuids,
# u64 device_uuid, u64 reserved (v08 only), u32 flags, then the big-endian u32 magic.
MD_MAGIC_OFFSET = 60
MD_SUPERBLOCK_SIZE = 4096
MD_INDEXED_SLOT = 128 << 20  # external indexed meta data: 128 MiB per index
MIN_DEVICE_SIZE = 64 * 1024  # libblkid: smaller devices cannot carry DRBD meta data


def md_superblock_offset(size: int, md_index: str) -> int:
    """Byte offset of the meta-data super block (drbdmeta v07_style_md_get_byte_offset).

    internal: the last 4 KiB-aligned 4096-byte block of the device; flexible external:
    offset 0 of the meta-data device; indexed external ``N``: N * 128 MiB.
    """
    if md_index == "internal":
        return (size - MD_SUPERBLOCK_SIZE) & ~(MD_SUPERBLOCK_SIZE - 1)
    if md_index == "flexible":
        return 0
    try:
        return int(md_index) * MD_INDEXED_SLOT
    except ValueError as exc:
        raise DrbdError(f"unknown meta-data index {md_index!r} from 'drbdadm sh-md-idx'") from exc


def data_signature(device: str, rc: int, out: str, err: str) -> str | None:
    """What ``wipefs --no-act --json`` found on ``device``: None for no signature at all, else
    every one it lists ("xfs at 0x0, ext4 at 0x438"). The drbd role's test for a blank volume
    is the same."""
    if rc != 0:
        raise DrbdError(f"cannot probe {device} for data signatures: wipefs exited {rc}: {err.strip()}")
    try:
        signatures = json.loads(out)["signatures"] if out.strip() else []
        return ", ".join(f"{found['type']} at {found['offset']}" for found in signatures) or None
    except (ValueError, KeyError, TypeError) as exc:
        raise DrbdError(f"cannot read wipefs's list of the signatures on {device}: {exc}: {out[:200]!r}") from None


@dataclass
class DeviceProbe:
    device: str
    md_index: str
    size: int
    metadata: str | None  # "v08", "v09", ... or None when there is no DRBD meta data
    filesystem: str | None  # the data signatures wipefs lists (probed only where there is no meta data)

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "md_index": self.md_index, "size": self.size,
                "metadata": self.metadata, "filesystem": self.filesystem}


def _read_at(handle: BinaryIO, offset: int, length: int) -> bytes:
    handle.seek(offset)
    chunks = b""
    while len(chunks) < length:
        chunk = handle.read(length - len(chunks))
        if not chunk:
            break
        chunks += chunk
    return chunks


def probe_device(host: HostIO, device: str, md_index: str) -> DeviceProbe:
    """Read the meta-data super block of ``device``; where there is none, list the data
    signatures on it. For indexed meta data that is the whole meta-data device, which then
    holds nothing but DRBD's slots: a file system on it would lose the slot's 128 MiB."""
    try:
        with host.open_device(device) as handle:
            size = handle.seek(0, os.SEEK_END)
            metadata = None
            if size >= MIN_DEVICE_SIZE:
                offset = md_superblock_offset(size, md_index)
                block = _read_at(handle, offset, MD_SUPERBLOCK_SIZE)
                if len(block) >= MD_MAGIC_OFFSET + 4:
                    (magic,) = struct.unpack_from(">I", block, MD_MAGIC_OFFSET)
                    metadata = MD_MAGICS.get(magic)
    except OSError as exc:
        raise DrbdError(f"cannot read meta-data device {device}: {exc.strerror or exc}") from exc
    signature = None if metadata else data_signature(device, *host.list_signatures(device))
    return DeviceProbe(device=device, md_index=md_index, size=size, metadata=metadata, filesystem=signature)


# --------------------------------------------------------------------------------------
# Waiting
# --------------------------------------------------------------------------------------


def wait_until(host: HostIO, timeout: float, condition: Callable[[], bool],
               refresh: Callable[[], None]) -> bool:
    """Poll ``refresh()`` until ``condition()`` holds; False when ``timeout`` ran out."""
    deadline = host.monotonic() + timeout
    while not condition():
        remaining = deadline - host.monotonic()
        if remaining <= 0:
            return False
        host.sleep(min(host.poll_interval, remaining))
        refresh()
    return True
