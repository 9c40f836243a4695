"""Parsers and probes of plugins/module_utils/_drbd.py.

Fed with output recorded in the lab (fixtures/recorded/drbd/, DRBD 8.4.11 kernel module,
drbd-utils 9.22) wherever it exists; fixtures/drbd/README.md lists the hand-written rest.
"""
from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.lvsha.cluster.plugins.module_utils import _drbd
from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.recordings import (
    FIXTURES as ALL_FIXTURES,
    RECORDED,
    Recording,
    recorded_device_size,
    recorded_out,
    recorded_superblock,
    recording,
)

FIXTURES = ALL_FIXTURES / "drbd"


def proc(name: str) -> _drbd.ProcDrbd:
    """A hand-written /proc/drbd (fixtures/drbd/NAME)."""
    return _drbd.parse_proc_drbd((FIXTURES / name).read_text())


def recorded_proc(name: str) -> _drbd.ProcDrbd:
    """A recorded /proc/drbd (fixtures/recorded/drbd/NAME.txt)."""
    return _drbd.parse_proc_drbd(recorded_out("drbd", name))


# ------------------------------------------------------------------ /proc/drbd
def test_version_line_of_84_module() -> None:
    parsed = recorded_proc("proc_drbd_84_no_resources")
    assert (parsed.version, parsed.api, parsed.proto, parsed.major) == ("8.4.11", 1, "86-101", 8)
    assert parsed.minors == {}


def test_version_line_of_drbd9_module() -> None:
    parsed = proc("proc_drbd_9.txt")
    assert (parsed.version, parsed.api, parsed.major) == ("9.2.8", 2, 9)
    assert parsed.minors == {}


# Every recorded /proc/drbd with a minor: (cs, ro, ds, protocol, flags, oos, connected)
RECORDED_STATES = {
    "proc_drbd_84_wfconnection": (
        "WFConnection", "Secondary/Unknown", "Inconsistent/DUnknown", "C", "r----s", "262100", False),
    "proc_drbd_84_connected_inconsistent": (
        "Connected", "Secondary/Secondary", "Inconsistent/Inconsistent", "C", "r-----", "262100", True),
    "proc_drbd_84_syncsource": (
        "SyncSource", "Primary/Secondary", "UpToDate/Inconsistent", "C", "r-----", "255848", True),
    "proc_drbd_84_synctarget": (
        "SyncTarget", "Secondary/Primary", "Inconsistent/UpToDate", "C", "r-----", "251564", True),
    "proc_drbd_84_primary_uptodate": (
        "Connected", "Primary/Secondary", "UpToDate/UpToDate", "C", "r-----", "0", True),
    "proc_drbd_84_secondary_uptodate": (
        "Connected", "Secondary/Primary", "UpToDate/UpToDate", "C", "r-----", "0", True),
    "proc_drbd_84_wfconnection_uptodate": (
        "WFConnection", "Secondary/Unknown", "UpToDate/DUnknown", "C", "r-----", "0", False),
}


@pytest.mark.parametrize("name", sorted(RECORDED_STATES))
def test_recorded_minor_states(name: str) -> None:
    cstate, roles, disks, protocol, flags, oos, connected = RECORDED_STATES[name]
    parsed = recorded_proc(name)
    assert (parsed.version, list(parsed.minors)) == ("8.4.11", [0])
    minor = parsed.minors[0]
    assert minor.cstate == cstate
    assert f"{minor.role}/{minor.peer_role}" == roles
    assert f"{minor.disk_state}/{minor.peer_disk_state}" == disks
    assert (minor.protocol, minor.flags, minor.stats["oos"]) == (protocol, flags, oos)
    assert (minor.progress is not None) == (cstate in ("SyncSource", "SyncTarget"))
    status = _drbd.status_from_proc(parsed, "r0", [0])
    assert (status.configured, status.present, status.connected) == (True, True, connected)
    assert status.summary() == {"role": roles, "cstate": cstate, "dstate": disks}


def test_recorded_drbdadm_role_cstate_dstate_agree_with_proc() -> None:
    """drbdadm role/cstate/dstate, recorded in the same states, say what /proc/drbd says."""
    pairs = [
        ("proc_drbd_84_wfconnection", "drbdadm_role_wfconnection", "drbdadm_cstate_wfconnection",
         "drbdadm_dstate_wfconnection"),
        ("proc_drbd_84_primary_uptodate", "drbdadm_role_primary", None, "drbdadm_dstate_uptodate"),
        ("proc_drbd_84_connected_inconsistent", None, None, "drbdadm_dstate_inconsistent"),
        ("proc_drbd_84_syncsource", None, "drbdadm_cstate_syncsource", None),
    ]
    for proc_name, role, cstate, dstate in pairs:
        summary = _drbd.status_from_proc(recorded_proc(proc_name), "r0", [0]).summary()
        for key, rec in (("role", role), ("cstate", cstate), ("dstate", dstate)):
            if rec is not None:
                assert _drbd.output_lines(recorded_out("drbd", rec)) == [summary[key]], (proc_name, rec)


def test_connected_minor_stats() -> None:
    minor = recorded_proc("proc_drbd_84_primary_uptodate").minors[0]
    assert minor.stats == {"ns": "262100", "nr": "0", "dw": "0", "dr": "262100", "al": "8", "bm": "0",
                           "lo": "0", "pe": "0", "ua": "0", "ap": "0", "ep": "1", "wo": "f", "oos": "0"}
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


SYNCSOURCE_PROGRESS = {
    "kind": "sync'ed", "percent": 3.2, "left": 255848, "total": 262100, "unit": "K",
    "finish": "0:01:59", "finish_seconds": 119, "speed_kib": 2084, "want_kib": None,
    "stalled": False,
    "text": "sync'ed: 3.2% (255848/262100)K finish: 0:01:59 speed: 2084 K/sec",
}


def test_syncsource_progress() -> None:
    progress = recorded_proc("proc_drbd_84_syncsource").minors[0].progress
    assert progress is not None
    assert progress.as_dict() == SYNCSOURCE_PROGRESS


def test_synctarget_progress_has_want() -> None:
    # the SyncTarget prints "want:" before "K/sec": "speed: 2,104 (2,104) want: 3,960 K/sec"
    progress = recorded_proc("proc_drbd_84_synctarget").minors[0].progress
    assert progress is not None
    assert progress.as_dict() == {
        "kind": "sync'ed", "percent": 4.7, "left": 251564, "total": 262100, "unit": "K",
        "finish": "0:01:56", "finish_seconds": 116, "speed_kib": 2104, "want_kib": 3960,
        "stalled": False,
        "text": "sync'ed: 4.7% (251564/262100)K finish: 0:01:56 speed: 2104 K/sec",
    }


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # Not recorded; written from drbd_syncer_progress() of the 8.4 module.
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
    head = "".join(recorded_out("drbd", "proc_drbd_84_synctarget").splitlines(keepends=True)[:4])
    progress = _drbd.parse_proc_drbd(head + lines).minors[0].progress
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
    assert status.progress is not None and status.progress.percent == 3.2
    assert not status.all_peer_disks("UpToDate")
    assert status.any_peer_disk("Inconsistent")
    other = _drbd.status_from_proc(parsed, "r1", [3])
    assert other.configured and not other.connected


def test_status_of_missing_and_half_configured_resource() -> None:
    missing = _drbd.status_from_proc(recorded_proc("proc_drbd_84_no_resources"), "r0", [0])
    assert (missing.configured, missing.present, missing.cstate, missing.role) == (False, False, "Unconfigured", None)
    half = _drbd.status_from_proc(proc("proc_drbd_84_unconfigured.txt"), "r0", [0])
    assert (half.configured, half.present) == (False, True)
    partly = _drbd.status_from_proc(proc("proc_drbd_84_two_volumes.txt"), "r0", [0, 2])
    assert (partly.configured, partly.present, partly.volumes) == (False, True, [])


def test_summary_is_drbdadm_style() -> None:
    status = _drbd.status_from_proc(recorded_proc("proc_drbd_84_syncsource"), "r0", [0])
    assert status.summary() == {"role": "Primary/Secondary", "cstate": "SyncSource", "dstate": "UpToDate/Inconsistent"}
    assert status.describe() == ("cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent, "
                                 "sync'ed: 3.2% (255848/262100)K finish: 0:01:59 speed: 2084 K/sec")
    assert _drbd.ResourceStatus.down("r0", None).summary() == {
        "role": "Unconfigured", "cstate": "Unconfigured", "dstate": "Unconfigured"}


def test_connected_states_of_84() -> None:
    assert _drbd.status_from_proc(recorded_proc("proc_drbd_84_synctarget"), "r0", [0]).connected
    assert not _drbd.status_from_proc(recorded_proc("proc_drbd_84_wfconnection"), "r0", [0]).connected
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
def test_recorded_sh_outputs() -> None:
    assert _drbd.output_lines(recorded_out("drbd", "drbdadm_sh_md_dev")) == ["/dev/vdb"]
    assert _drbd.output_lines(recorded_out("drbd", "drbdadm_sh_ll_dev")) == ["/dev/vdb"]
    assert _drbd.output_lines(recorded_out("drbd", "drbdadm_sh_md_idx")) == ["internal"]


def test_sh_minor_and_multi_volume_outputs() -> None:
    # not recorded (record-fixtures runs no sh-minor and has one volume): one value per line
    assert _drbd.parse_minors("3\n4\n") == [3, 4]
    with pytest.raises(_drbd.DrbdError):
        _drbd.parse_minors("'r0' not defined in your config (for this host).\n")
    assert _drbd.output_lines("/dev/vdb\n\n/dev/vdc\n") == ["/dev/vdb", "/dev/vdc"]


def test_recorded_adjust_dry_run() -> None:
    # nothing changed: drbdadm -d adjust prints nothing, which makes state=adjusted idempotent
    assert recording("drbd", "drbdadm_adjust_dry_nochange") == Recording(out="", err="", rc=0)
    assert _drbd.adjust_plan(recorded_out("drbd", "drbdadm_adjust_dry_nochange")) == []
    # after adding "disk { resync-rate 40M; }" to r0.res
    assert _drbd.adjust_plan(recorded_out("drbd", "drbdadm_adjust_dry_change")) == [
        "drbdsetup-84 disk-options 0 --set-defaults --resync-rate=40M"]
    assert _drbd.adjust_plan("\n# comment\ndrbdsetup-84 disk-options 0 --al-extents=3389\n") == [
        "drbdsetup-84 disk-options 0 --al-extents=3389"]


@pytest.mark.parametrize(
    ("name", "argv", "rc", "reason"),
    [
        ("drbdadm_role_unconfigured", ["drbdadm", "role", "r0"], 10,
         "0: Failure: (127) Device minor not allocated; additional info from kernel: unknown minor"),
        ("drbdadm_cstate_unconfigured", ["drbdadm", "cstate", "r0"], 10,
         "0: Failure: (127) Device minor not allocated; additional info from kernel: unknown minor"),
        ("drbdadm_dstate_unconfigured", ["drbdadm", "dstate", "r0"], 1, "No valid meta data found"),
        ("drbdadm_primary_refused", ["drbdadm", "primary", "r0"], 17,
         "0: State change failed: (-2) Need access to UpToDate data"),
        ("drbdadm_primary_second_refused", ["drbdadm", "primary", "r0"], 11,
         "0: State change failed: (-1) Multiple primaries not allowed by config"),
        ("drbdadm_dump_md_blank", ["drbdadm", "dump-md", "r0"], 1, "No valid meta data found"),
        ("drbdadm_dump_md_up", ["drbdadm", "dump-md", "r0"], 20,
         "open(/dev/vdb) failed: Device or resource busy; Exclusive open failed. Do it anyways?; "
         "stdin not a TTY, not waiting for confirmation"),
        ("drbdadm_dump_md_down", ["drbdadm", "dump-md", "r0"], 1,
         'Found meta data is "unclean", please apply-al first'),
        ("drbdadm_create_md_again", ["drbdadm", "create-md", "r0"], 1,
         "You want me to create a v08 style flexible-size internal meta data block.; "
         "There appears to be a v08 flexible-size internal meta data block; "
         "already in place on /dev/vdb at byte offset 268431360; "
         "Do you really want to overwrite the existing meta-data?; "
         "stdin not a TTY, not waiting for confirmation"),
        ("drbdsetup_status_json", ["drbdsetup", "status", "r0", "--json"], 20,
         "status: unrecognized option '--json'"),
    ],
)
def test_recorded_command_errors_keep_drbd_reason(name: str, argv: list[str], rc: int, reason: str) -> None:
    rec = recording("drbd", name)
    assert rec.rc == rc
    error = _drbd.DrbdCommandError(argv, rec.rc, rec.out, rec.err)
    assert error.msg == f"{' '.join(argv)} failed (rc={rc}): {reason}"
    assert (error.details["rc"], error.details["stdout"], error.details["stderr"]) == (rc, rec.out, rec.err)


def test_recorded_cancelled_prompts_say_so_on_stdout() -> None:
    # drbdmeta cannot ask on a pipe: create-md without --force and dump-md while up give up
    assert recording("drbd", "drbdadm_create_md_again").out == "Operation cancelled.\n"
    assert recording("drbd", "drbdadm_dump_md_up").out == "Operation canceled.\n"


def test_command_error_without_output() -> None:
    error = _drbd.DrbdCommandError(["drbdadm", "up", "r0"], 1, "", "")
    assert error.msg == "drbdadm up r0 failed (rc=1): exit code 1"


class FakeModule:
    def __init__(self, reply: tuple[int, str, str] = (0, "0\n", ""), locales: str = "C\nC.utf8\nPOSIX\n") -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.reply = reply
        self.locales = locales

    def get_bin_path(self, name: str, required: bool = False) -> str:
        return f"/sbin/{name}"

    def run_command(self, argv: list[str], **kwargs: Any) -> tuple[int, str, str]:
        self.calls.append((argv, kwargs))
        return (0, self.locales, "") if argv == ["/sbin/locale", "-a"] else self.reply

    def debug(self, msg: str) -> None:
        pass


def test_runner_grammar_and_locale() -> None:
    module = FakeModule()
    runner = _drbd.DrbdRunner(module)
    assert runner.argv("drbdadm", "primary-force", "r0") == ["/sbin/drbdadm", "primary", "--force", "r0"]
    assert runner.argv("drbdadm", "new-current-uuid-clear-bitmap", "r0") == [
        "/sbin/drbdadm", "new-current-uuid", "--clear-bitmap", "r0"]
    assert runner.argv("drbdsetup", "status-json", "r0") == ["/sbin/drbdsetup", "status", "r0", "--json"]
    assert runner.describe("drbdadm", "adjust-dry-run", "r0") == "drbdadm -d adjust r0"
    runner.run("drbdadm", "sh-minor", "r0")
    runner.run("drbdadm", "sh-md-dev", "r0")
    # The target's C locale, asked for once (ansible-core's get_best_parsable_locale).
    c_utf8 = {"environ_update": {"LANG": "C.utf8", "LC_ALL": "C.utf8", "LC_MESSAGES": "C.utf8"}}
    assert module.calls == [(["/sbin/locale", "-a"], {}), (["/sbin/drbdadm", "sh-minor", "r0"], c_utf8),
                            (["/sbin/drbdadm", "sh-md-dev", "r0"], c_utf8)]


@pytest.mark.parametrize(("locales", "chosen"), [
    ("C\nC.UTF-8\nPOSIX\n", "C.UTF-8"),
    ("C\nen_US.utf8\nPOSIX\n", "C"),  # never en_US, which ansible-core prefers to C
    ("C\nPOSIX\n", "C"),
    ("", "C"),  # locale -a told nothing
])
def test_runner_takes_the_best_c_locale_the_target_has(locales: str, chosen: str) -> None:
    module = FakeModule(locales=locales)
    _drbd.DrbdRunner(module).run("drbdadm", "sh-minor", "r0")
    assert module.calls[-1][1] == {"environ_update": {"LANG": chosen, "LC_ALL": chosen, "LC_MESSAGES": chosen}}


def test_runner_judges_by_exit_status_not_stderr() -> None:
    # create-md --force succeeds (rc 0) but writes "initializing bitmap (8 KB) to all zero" on stderr
    rec = recording("drbd", "drbdadm_create_md")
    assert (rec.rc, rec.err) == (0, "initializing bitmap (8 KB) to all zero\n")
    assert rec.out.splitlines()[-1] == "New drbd meta data block successfully created."
    result = _drbd.DrbdRunner(FakeModule((rec.rc, rec.out, rec.err))).run("drbdadm", "create-md", "r0")
    assert (result.argv, result.rc) == (["/sbin/drbdadm", "create-md", "--force", "r0"], 0)
    rec = recording("drbd", "drbdadm_primary_refused")
    with pytest.raises(_drbd.DrbdCommandError, match=r"\(rc=17\): 0: State change failed: \(-2\) Need access"):
        _drbd.DrbdRunner(FakeModule((rec.rc, rec.out, rec.err))).run("drbdadm", "primary", "r0")
    for name in ("drbdadm_up", "drbdadm_primary_force", "drbdadm_secondary", "drbdadm_down", "drbdadm_down_nas2"):
        assert recording("drbd", name) == Recording(out="", err="", rc=0), name


# ------------------------------------------------------------------ on-disk probes
def test_recorded_superblock_has_the_v08_magic_at_byte_60() -> None:
    # od of the last 4 KiB-aligned 4 KiB block of /dev/vdb right after drbdadm create-md
    block = recorded_superblock()
    assert len(block) == 128
    (flags, magic) = struct.unpack_from(">II", block, _drbd.MD_MAGIC_OFFSET - 4)
    assert magic == _drbd.DRBD_MD_MAGIC_08 == 0x8374026B
    assert _drbd.MD_MAGICS[magic] == "v08"
    assert flags == 0x80  # MDF_AL_CLEAN: create-md leaves a clean activity log (the probe ignores flags)


def test_recorded_superblock_offset() -> None:
    size = recorded_device_size()
    offset = _drbd.md_superblock_offset(size, "internal")
    assert (size, offset) == (268435456, 268431360)
    # drbdmeta names the same place when it refuses to overwrite the meta data
    assert f"already in place on /dev/vdb at byte offset {offset}\n" in recording("drbd", "drbdadm_create_md_again").err


def test_probe_reads_the_recorded_superblock(tmp_path: Path) -> None:
    size = recorded_device_size()
    md_index = _drbd.output_lines(recorded_out("drbd", "drbdadm_sh_md_idx"))[0]
    path = image(tmp_path, size, {_drbd.md_superblock_offset(size, md_index): recorded_superblock()})
    probe = _drbd.probe_device(_drbd.HostIO(), path, md_index)
    assert probe.as_dict() == {"device": path, "md_index": "internal", "size": 268435456,
                               "metadata": "v08", "filesystem": None}
    # the 8.4 kernel rewrites the super block with the "unclean" magic once attached
    # (drbd_md_write); recorded dump-md after down reports exactly that
    assert 'meta data is "unclean"' in recording("drbd", "drbdadm_dump_md_down").err
    unclean = bytearray(recorded_superblock())
    struct.pack_into(">I", unclean, _drbd.MD_MAGIC_OFFSET, _drbd.DRBD_MD_MAGIC_84_UNCLEAN)
    path = image(tmp_path, size, {_drbd.md_superblock_offset(size, md_index): bytes(unclean)})
    assert _drbd.probe_device(_drbd.HostIO(), path, md_index).metadata == "v08 (unclean, activity log not applied)"


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
    ("name", "expected"),
    [
        ("ext4", "ext4 at 0x438"),
        ("xfs", "xfs at 0x0"),
        ("btrfs", "btrfs at 0x10040"),
        ("swap1", "swap at 0xff6"),
        ("zfs", "zfs_member at 0x4000, zfs_member at 0x44000"),  # two of its labels
        ("luks1", "crypto_LUKS at 0x0"),
        ("luks2", "crypto_LUKS at 0x0"),
        ("lvm2", "LVM2_member at 0x218"),
        ("mdraid", "linux_raid_member at 0x9f0000"),  # md meta data 0.90, at the end of the device
        ("mdraid-1", "linux_raid_member at 0x1000"),  # 1.2, 4 KiB from the start
        ("bcache-B", "bcache at 0x1018"),
        ("drbd-v08", "drbd at 0x16703d"),  # another node's DRBD meta data where this one expects none
        ("gpt", "gpt at 0x200, gpt at 0x9ffe00, PMBR at 0x1fe"),
        ("two-signatures", "xfs at 0x0, ext4 at 0x438"),
        ("blank", None),
    ],
)
def test_data_signature_of_each_family(name: str, expected: str | None) -> None:
    """wipefs as recorded in the lab, one sample of each family: all but the blank device hold data."""
    rec = recording("wipefs", name)
    assert _drbd.data_signature("/dev/vdb", rec.rc, rec.out, rec.err) == expected


def test_blkid_alone_would_take_a_device_with_two_signatures_for_blank() -> None:
    """Why the probe is wipefs: Debian 13's blkid -p finds nothing on the same device."""
    blkid = recording("wipefs", "two-signatures-blkid")
    assert (blkid.rc, blkid.out) == (2, "")  # blkid(8): 2, "no (specified) devices could be identified"


@pytest.mark.parametrize(("rc", "out", "message"), [
    (1, "", r"wipefs exited 1: wipefs: error: /dev/vdb: probing initialization failed"),
    (0, "{\"signatures\": 3}", r"cannot read wipefs's list of the signatures on /dev/vdb"),
    (0, "not json", r"cannot read wipefs's list"),
])
def test_a_failed_probe_is_an_error_not_a_blank_device(rc: int, out: str, message: str) -> None:
    with pytest.raises(_drbd.DrbdError, match=message):
        _drbd.data_signature("/dev/vdb", rc, out, "wipefs: error: /dev/vdb: probing initialization failed\n")


def test_probe_lists_signatures_only_where_there_is_no_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []
    monkeypatch.setattr(_drbd.HostIO, "list_signatures", lambda host, path: asked.append(path) or (0, '{"signatures": []}', ""))
    size = 64 << 20
    path = image(tmp_path, size, {size - 4096 + 60: struct.pack(">I", 0x8374026B)})
    assert _drbd.probe_device(_drbd.HostIO(), path, "internal").metadata == "v08"
    assert asked == []
    path = image(tmp_path, 512 << 20, {})
    assert _drbd.probe_device(_drbd.HostIO(), path, "2").filesystem is None
    assert asked == [path]


def test_real_wipefs_finds_a_real_file_system_and_nothing_on_zeros(tmp_path: Path) -> None:
    path = image(tmp_path, 16 << 20, {})
    assert _drbd.probe_device(_drbd.HostIO(), path, "internal").filesystem is None
    subprocess.run(["mkfs.ext4", "-q", "-F", path], check=True, env=dict(os.environ, PATH=os.environ["PATH"] + ":/usr/sbin:/sbin"))
    probe = _drbd.probe_device(_drbd.HostIO(), path, "internal")
    assert (probe.metadata, probe.filesystem) == (None, "ext4 at 0x438")


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
    host.proc_drbd_path = str(RECORDED / "drbd" / "proc_drbd_84_primary_uptodate.txt")
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


@pytest.mark.parametrize("text, expected", [
    ("drbdsetup-84 net r0 ipv4:198.51.100.31:7789 ipv4:198.51.100.32:7789 --protocol=C --cram-hmac-alg=sha1 "
     "--shared-secret=k3yK3y --ping-int=3",
     "drbdsetup-84 net r0 ipv4:198.51.100.31:7789 ipv4:198.51.100.32:7789 --protocol=C --cram-hmac-alg=sha1 "
     "--shared-secret=******** --ping-int=3"),
    ('        shared-secret    "two words";', "        shared-secret    ********;"),
    ("shared-secret 'k3y';", "shared-secret ********;"),
    ("--protocol=C", "--protocol=C"),
])
def test_shared_secrets_are_masked(text: str, expected: str) -> None:
    assert _drbd.mask_secrets(text) == expected


# Secrets the model's grammar lets through (any printable character but a blank, a double quote
# and a backslash), one with a backslash and one with blanks, as an older node file may hold
# them and drbdadm may quote them.
@pytest.mark.parametrize("secret", ["k3y;rest-of-it", "k3y'q'x", "'a'b", "x$(id)`y`|z&", "#k3y", "k3y;", "a,b=c", "k3y\\rest"])
@pytest.mark.parametrize("form", ["--shared-secret={}", "--shared-secret='{}'", 'shared-secret "{}";', "--shared-secret='{} and more'"])
def test_no_part_of_a_secret_survives_the_mask(secret: str, form: str) -> None:
    line = f"drbdsetup-84 net r0 --cram-hmac-alg=sha1 {form.format(secret)} --ping-int=3"
    masked = _drbd.mask_secrets(line)
    assert secret not in masked and "rest" not in masked and "more" not in masked, masked
    assert masked.startswith("drbdsetup-84 net r0 --cram-hmac-alg=sha1 ") and masked.endswith(" --ping-int=3"), masked


def test_adjust_plan_and_command_errors_carry_no_secret() -> None:
    line = "drbdsetup-84 net r0 ipv4:a:7789 ipv4:b:7789 --cram-hmac-alg=sha1 --shared-secret=k3yK3y"
    assert _drbd.adjust_plan(line + "\n") == [line.replace("k3yK3y", "********")]
    error = _drbd.DrbdCommandError(["drbdadm", "adjust", "r0"], 10, "", f"Command '{line}' terminated with exit code 10\n")
    assert "k3yK3y" not in error.msg + repr(error.details)
