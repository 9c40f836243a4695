"""Parsers and probes of plugins/module_utils/_drbd.py against fixtures."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils import _drbd

FIXTURES = Path(__file__).parents[1] / "modules" / "fixtures" / "drbd"


def proc(name: str) -> _drbd.ProcDrbd:
    return _drbd.parse_proc_drbd((FIXTURES / name).read_text())


# ------------------------------------------------------------------ /proc/drbd
def test_version_line_of_84_module() -> None:
    parsed = proc("proc_drbd_84_no_resources.txt")
    assert (parsed.version, parsed.api, parsed.proto, parsed.major) == ("8.4.11", 1, "86-101", 8)
    assert parsed.minors == {}


def test_version_line_of_drbd9_module() -> None:
    parsed = proc("proc_drbd_9.txt")
    assert (parsed.version, parsed.api, parsed.major) == ("9.2.8", 2, 9)
    assert parsed.minors == {}


def test_connected_minor() -> None:
    minor = proc("proc_drbd_84_primary.txt").minors[0]
    assert (minor.cstate, minor.role, minor.peer_role) == ("Connected", "Primary", "Secondary")
    assert (minor.disk_state, minor.peer_disk_state) == ("UpToDate", "UpToDate")
    assert (minor.protocol, minor.flags) == ("C", "r-----")
    assert minor.stats["oos"] == "0"
    assert minor.progress is None


def test_standalone_minor_has_no_protocol_letter() -> None:
    minor = proc("proc_drbd_84_standalone_outdated.txt").minors[0]
    assert (minor.cstate, minor.disk_state, minor.peer_disk_state) == ("StandAlone", "Outdated", "DUnknown")
    assert minor.protocol is None
    assert minor.flags == "r-----"


def test_unconfigured_minor() -> None:
    minor = proc("proc_drbd_84_unconfigured.txt").minors[0]
    assert minor.unconfigured
    assert minor.role is None


def test_syncsource_progress() -> None:
    progress = proc("proc_drbd_84_syncsource.txt").minors[0].progress
    assert progress is not None
    assert progress.as_dict() == {
        "kind": "sync'ed", "percent": 42.9, "left": 602112, "total": 1048576, "unit": "K",
        "finish": "0:03:20", "finish_seconds": 200, "speed_kib": 3012, "want_kib": None,
        "stalled": False,
        "text": "sync'ed: 42.9% (602112/1048576)K finish: 0:03:20 speed: 3012 K/sec",
    }


def test_synctarget_progress_has_want() -> None:
    progress = proc("proc_drbd_84_synctarget.txt").minors[0].progress
    assert progress is not None and progress.want_kib == 3072


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # > 4 GiB: /proc/drbd switches to MiB
        ("\t[>....................] sync'ed:  0.4% (409088/409600)M\n"
         "\tfinish: 38:47:27 speed: 2,996 (2,996) K/sec\n",
         {"percent": 0.4, "left": 409088, "total": 409600, "unit": "M", "finish_seconds": 139647,
          "speed_kib": 2996}),
        # drbd proc_details >= 1 prints two averages, "(a -- b)"
        ("\t[===================>] sync'ed:100.0% (0/65536)K\n"
         "\tfinish: 0:00:00 speed: 1,234,567 (1,000 -- 2,000) want: 10,240 K/sec (stalled)\n",
         {"percent": 100.0, "left": 0, "speed_kib": 1234567, "want_kib": 10240, "stalled": True}),
        ("\t[==>.................] verified: 15.2% (55616/65536)K\n"
         "\tfinish: 0:00:05 speed: 9,920 (9,920) K/sec\n",
         {"kind": "verified", "percent": 15.2, "finish": "0:00:05"}),
    ],
)
def test_progress_line_variants(lines: str, expected: dict[str, Any]) -> None:
    text = ("version: 8.4.11 (api:1/proto:86-101)\n"
            " 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----\n"
            "    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n" + lines)
    progress = _drbd.parse_proc_drbd(text).minors[0].progress
    assert progress is not None
    got = progress.as_dict()
    assert {key: got[key] for key in expected} == expected


def test_two_volumes_and_another_resource() -> None:
    parsed = proc("proc_drbd_84_two_volumes.txt")
    assert sorted(parsed.minors) == [0, 1, 3]
    status = _drbd.status_from_proc(parsed, "r0", [0, 1])
    assert status.configured and status.present and status.connected
    assert [v.minor for v in status.volumes] == [0, 1]
    assert status.cstate == "Connected"  # first volume
    assert status.progress is not None and status.progress.percent == 42.9
    assert not status.all_peer_disks("UpToDate")
    assert status.any_peer_disk("Inconsistent")
    other = _drbd.status_from_proc(parsed, "r1", [3])
    assert other.configured and not other.connected


def test_status_of_missing_and_half_configured_resource() -> None:
    missing = _drbd.status_from_proc(proc("proc_drbd_84_no_resources.txt"), "r0", [0])
    assert (missing.configured, missing.present, missing.cstate, missing.role) == (False, False, "Unconfigured", None)
    half = _drbd.status_from_proc(proc("proc_drbd_84_unconfigured.txt"), "r0", [0])
    assert (half.configured, half.present) == (False, True)
    partly = _drbd.status_from_proc(proc("proc_drbd_84_two_volumes.txt"), "r0", [0, 2])
    assert (partly.configured, partly.present, partly.volumes) == (False, True, [])


def test_summary_is_drbdadm_style() -> None:
    status = _drbd.status_from_proc(proc("proc_drbd_84_syncsource.txt"), "r0", [0])
    assert status.summary() == {"role": "Primary/Secondary", "cstate": "SyncSource", "dstate": "UpToDate/Inconsistent"}
    assert status.describe() == ("cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent, "
                                 "sync'ed: 42.9% (602112/1048576)K finish: 0:03:20 speed: 3012 K/sec")
    assert _drbd.ResourceStatus.down("r0", None).summary() == {
        "role": "Unconfigured", "cstate": "Unconfigured", "dstate": "Unconfigured"}


def test_connected_states_of_84() -> None:
    assert _drbd.status_from_proc(proc("proc_drbd_84_synctarget.txt"), "r0", [0]).connected
    assert not _drbd.status_from_proc(proc("proc_drbd_84_wfconnection.txt"), "r0", [0]).connected
    assert not _drbd.status_from_proc(proc("proc_drbd_84_standalone_outdated.txt"), "r0", [0]).connected


def test_garbage_is_rejected() -> None:
    with pytest.raises(_drbd.DrbdError, match="no 'version:' line"):
        _drbd.parse_proc_drbd("drbd: not loaded\n")


# ------------------------------------------------------------------ drbdsetup status --json
def status9(name: str) -> _drbd.ResourceStatus:
    return _drbd.parse_status_json((FIXTURES / name).read_text(), "r0", "9.2.8")


def test_status9_connected() -> None:
    status = status9("status9_connected.json")
    assert status.configured and status.connected
    assert (status.role, status.peer_role, status.cstate) == ("Secondary", "Secondary", "Connected")
    assert (status.disk_state, status.peer_disk_state) == ("UpToDate", "UpToDate")
    assert status.volumes[0].replication == "Established"
    assert status.progress is None


def test_status9_syncsource_progress() -> None:
    status = status9("status9_syncsource.json")
    assert status.volumes[0].replication == "SyncSource"
    progress = status.progress
    assert progress is not None
    assert (progress.percent, progress.finish, progress.finish_seconds) == (42.6, "0:03:22", 202)
    assert (progress.left, progress.speed_kib) == (602112, 2979)


def test_status9_connecting_is_not_connected() -> None:
    status = status9("status9_connecting.json")
    assert status.configured and not status.connected
    assert (status.cstate, status.peer_role, status.peer_disk_state) == ("Connecting", "Unknown", "DUnknown")


def test_status9_other_resource_means_down() -> None:
    status = _drbd.parse_status_json((FIXTURES / "status9_connected.json").read_text(), "r9", "9.2.8")
    assert not status.present and not status.configured


def test_status9_without_connections_is_standalone() -> None:
    text = '[{"name": "r0", "role": "Primary", "devices": [{"volume": 0, "minor": 0, "disk-state": "UpToDate"}], "connections": []}]'
    status = _drbd.parse_status_json(text, "r0", "9.2.8")
    assert (status.cstate, status.peer_role, status.peer_disk_state) == ("StandAlone", "Unknown", "DUnknown")


def test_status9_bad_json() -> None:
    with pytest.raises(_drbd.DrbdError, match="cannot parse"):
        _drbd.parse_status_json("r0: No such resource", "r0", None)


# ------------------------------------------------------------------ small parsers
def test_sh_outputs_and_adjust_plan() -> None:
    assert _drbd.parse_minors("3\n4\n") == [3, 4]
    with pytest.raises(_drbd.DrbdError):
        _drbd.parse_minors("'r0' not defined in your config (for this host).\n")
    assert _drbd.output_lines("/dev/vdb\n\n/dev/vdc\n") == ["/dev/vdb", "/dev/vdc"]
    assert _drbd.adjust_plan("") == []
    assert _drbd.adjust_plan("\n# comment\ndrbdsetup-84 disk-options 0 --al-extents=3389\n") == [
        "drbdsetup-84 disk-options 0 --al-extents=3389"]


def test_command_error_keeps_drbd_reason() -> None:
    error = _drbd.DrbdCommandError(
        ["/usr/sbin/drbdadm", "primary", "r0"], 17, "",
        "0: State change failed: (-2) Need access to UpToDate data\n"
        "Command 'drbdsetup-84 primary 0' terminated with exit code 17\n")
    assert error.msg == "/usr/sbin/drbdadm primary r0 failed (rc=17): 0: State change failed: (-2) Need access to UpToDate data"
    assert error.details["rc"] == 17


class FakeModule:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def get_bin_path(self, name: str, required: bool = False) -> str:
        return f"/sbin/{name}"

    def run_command(self, argv: list[str], **kwargs: Any) -> tuple[int, str, str]:
        self.calls.append((argv, kwargs))
        return 0, "0\n", ""


def test_runner_grammar_and_locale() -> None:
    module = FakeModule()
    runner = _drbd.DrbdRunner(module)
    assert runner.argv("drbdadm", "primary-force", "r0") == ["/sbin/drbdadm", "primary", "--force", "r0"]
    assert runner.argv("drbdadm", "new-current-uuid-clear-bitmap", "r0") == [
        "/sbin/drbdadm", "new-current-uuid", "--clear-bitmap", "r0"]
    assert runner.argv("drbdsetup", "status-json", "r0") == ["/sbin/drbdsetup", "status", "r0", "--json"]
    assert runner.describe("drbdadm", "adjust-dry-run", "r0") == "drbdadm -d adjust r0"
    runner.run("drbdadm", "sh-minor", "r0")
    assert module.calls == [(["/sbin/drbdadm", "sh-minor", "r0"],
                             {"environ_update": {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}})]


# ------------------------------------------------------------------ on-disk probes
def test_magic_sits_at_byte_60_of_both_superblock_layouts() -> None:
    # struct md_on_disk_08: u64 effective_size, u64 uuid[UI_SIZE=4], u64 device_uuid,
    # u64 reserved_u64_1, u32 flags, u32 magic
    v08 = struct.pack(">Q4QQQII", 1, 2, 3, 4, 5, 6, 7, 8, _drbd.DRBD_MD_MAGIC_08)
    # struct meta_data_on_disk_9: u64 effective_size, u64 current_uuid, u64 reserved[4],
    # u64 device_uuid, u32 flags, u32 magic
    v09 = struct.pack(">QQ4QQII", 1, 2, 3, 4, 5, 6, 7, 8, _drbd.DRBD_MD_MAGIC_09)
    assert struct.unpack_from(">I", v08, _drbd.MD_MAGIC_OFFSET)[0] == 0x8374026B
    assert struct.unpack_from(">I", v09, _drbd.MD_MAGIC_OFFSET)[0] == 0x8374026D
    assert _drbd.DRBD_MD_MAGIC_84_UNCLEAN == 0x8374026C


@pytest.mark.parametrize(
    ("size", "index", "offset"),
    [
        (1 << 30, "internal", (1 << 30) - 4096),
        ((1 << 30) + 3 * 512, "internal", (1 << 30) - 4096),  # not 4 KiB aligned: last aligned block
        ((1 << 30) + 4096, "internal", 1 << 30),
        (1 << 30, "flexible", 0),
        (1 << 30, "0", 0),
        (1 << 30, "2", 256 << 20),
    ],
)
def test_superblock_offset(size: int, index: str, offset: int) -> None:
    assert _drbd.md_superblock_offset(size, index) == offset


def test_superblock_offset_rejects_unknown_index() -> None:
    with pytest.raises(_drbd.DrbdError):
        _drbd.md_superblock_offset(1 << 30, "flex-ext")


def image(tmp_path: Path, size: int, writes: dict[int, bytes]) -> str:
    path = tmp_path / "dev.img"
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset, data in writes.items():
            handle.seek(offset)
            handle.write(data)
    return str(path)


@pytest.mark.parametrize(
    ("magic", "expected"),
    [
        (0x8374026B, "v08"),
        (0x8374026C, "v08 (unclean, activity log not applied)"),
        (0x8374026D, "v09"),
        (0x8374026A, None),  # DRBD 0.7 meta data is not accepted by 8.4
        (0, None),
    ],
)
def test_probe_finds_metadata(tmp_path: Path, magic: int, expected: str | None) -> None:
    size = (64 << 20) + 1536
    path = image(tmp_path, size, {(64 << 20) - 4096 + 60: struct.pack(">I", magic)})
    probe = _drbd.probe_device(_drbd.HostIO(), path, "internal")
    assert (probe.metadata, probe.size, probe.filesystem) == (expected, size, None)


@pytest.mark.parametrize(
    ("writes", "expected"),
    [
        ({1080: b"\x53\xef"}, "ext2/ext3/ext4"),
        ({0: b"XFSB"}, "xfs"),
        ({65600: b"_BHRfS_M"}, "btrfs"),
        ({4086: b"SWAPSPACE2"}, "swap"),
        ({512: b"LABELONE", 536: b"LVM2 001"}, "LVM2 physical volume"),
        ({512: b"EFI PART", 510: b"\x55\xaa"}, "GPT partition table"),
        ({510: b"\x55\xaa"}, "DOS partition table or boot sector"),
        ({}, None),
    ],
)
def test_probe_finds_data_signatures(tmp_path: Path, writes: dict[int, bytes], expected: str | None) -> None:
    probe = _drbd.probe_device(_drbd.HostIO(), image(tmp_path, 16 << 20, writes), "internal")
    assert probe.metadata is None
    assert probe.filesystem == expected


def test_probe_of_tiny_device_has_no_metadata(tmp_path: Path) -> None:
    probe = _drbd.probe_device(_drbd.HostIO(), image(tmp_path, 8192, {}), "internal")
    assert probe.metadata is None


def test_probe_of_indexed_external_metadata(tmp_path: Path) -> None:
    path = image(tmp_path, 512 << 20, {(128 << 20) + 60: struct.pack(">I", 0x8374026B)})
    assert _drbd.probe_device(_drbd.HostIO(), path, "1").metadata == "v08"
    assert _drbd.probe_device(_drbd.HostIO(), path, "0").metadata is None


def test_probe_of_missing_device() -> None:
    with pytest.raises(_drbd.DrbdError, match="cannot read meta-data device /nonexistent/dev"):
        _drbd.probe_device(_drbd.HostIO(), "/nonexistent/dev", "internal")


def test_host_reads_proc_drbd_from_its_path(tmp_path: Path) -> None:
    host = _drbd.HostIO()
    host.proc_drbd_path = str(tmp_path / "missing")
    assert host.read_proc_drbd() is None
    host.proc_drbd_path = str(FIXTURES / "proc_drbd_84_primary.txt")
    assert host.read_proc_drbd().startswith("version: 8.4.11")


# ------------------------------------------------------------------ waiting
class FakeClock(_drbd.HostIO):
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_wait_until_polls_and_times_out() -> None:
    clock = FakeClock()
    assert not _drbd.wait_until(clock, 5, lambda: False, lambda: None)
    assert clock.slept == [2.0, 2.0, 1.0]
    clock = FakeClock()
    ticks = iter([False, False, True])
    assert _drbd.wait_until(clock, 60, lambda: next(ticks), lambda: None)
    assert clock.slept == [2.0, 2.0]
