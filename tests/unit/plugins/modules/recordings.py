# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test data: tool output recorded in the lab guests, and the hand-written rest.

``fixtures/recorded/{ipvsadm,drbd}/NAME.txt|.err|.rc`` hold stdout, stderr (only when
non-empty) and exit status of one command, written by ``tests/lab/record-fixtures``
(Debian 12, kernel 6.1, ipvsadm 1.31, DRBD 8.4.11 with drbd-utils 9.22). Tests use them
wherever a recording of the situation exists.

``fixtures/{ipvsadm,drbd}/`` hold what was not recorded; each folder's README.md says
where every file comes from.

In YAML cases (module_cases.py format) a command step may say, instead of out/err/rc:

``recorded: NAME``
    stdout, stderr and exit status of ``fixtures/recorded/TOOL/NAME``.
``recorded: [NAME, NAME, ...]``
    Several recordings run one after the other, as ``ipvsadm -R`` runs its lines:
    stdout and stderr concatenated, the exit status of the last one.
``out_file: FILE`` / ``err_file: FILE``
    stdout / stderr from the hand-written ``fixtures/TOOL/FILE``.

With either, ``rc: N`` overrides the exit status (``ipvsadm -R`` exits with the status of
its last line, which may have succeeded after a recorded failure), and ``edit: {OLD: NEW}``
replaces text in stdout: a recording edited by hand into a state that was not recorded,
typically the table after a change.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORDED = FIXTURES / "recorded"


@dataclass(frozen=True)
class Recording:
    out: str
    err: str
    rc: int


def recording(tool: str, name: str) -> Recording:
    """stdout, stderr and exit status of one recorded command."""
    base = RECORDED / tool / name
    rc_file = Path(f"{base}.rc")
    if not rc_file.is_file():
        raise FileNotFoundError(f"no recording {tool}/{name} under {RECORDED}")
    err_file = Path(f"{base}.err")
    return Recording(
        out=Path(f"{base}.txt").read_text(),
        err=err_file.read_text() if err_file.is_file() else "",
        rc=int(rc_file.read_text().strip()),
    )


def recorded_out(tool: str, name: str) -> str:
    """stdout of a recorded command that succeeded."""
    rec = recording(tool, name)
    assert rec.rc == 0, f"{tool}/{name} exited {rec.rc}"
    return rec.out


def handwritten(tool: str, name: str) -> str:
    """A hand-written fixture (see fixtures/TOOL/README.md for its origin)."""
    return (FIXTURES / tool / name).read_text()


def resolve_step(step: Dict[str, Any], tool: str) -> Dict[str, Any]:
    """One command step with ``recorded``/``out_file``/``err_file`` turned into out/err/rc."""
    step = copy.deepcopy(step)
    names = step.pop("recorded", None)
    if names is not None:
        clash = {"out", "err", "out_file", "err_file"} & set(step)
        assert not clash, f"step {step['argv']}: 'recorded' cannot be combined with {sorted(clash)}"
        recs: List[Recording] = [recording(tool, name) for name in ([names] if isinstance(names, str) else names)]
        step["out"] = "".join(rec.out for rec in recs)
        step["err"] = "".join(rec.err for rec in recs)
        step.setdefault("rc", recs[-1].rc)
    for key in ("out", "err"):
        name = step.pop(f"{key}_file", None)
        if name is not None:
            assert key not in step, f"step {step['argv']}: both {key} and {key}_file"
            step[key] = handwritten(tool, name)
    for old, new in step.pop("edit", {}).items():
        assert old in step.get("out", ""), f"step {step['argv']}: {old!r} is not in the output to edit"
        step["out"] = step["out"].replace(old, new)
    return step


def resolve_case(case: Dict[str, Any], tool: str) -> Dict[str, Any]:
    """A copy of a YAML case with every command step resolved (see resolve_step)."""
    case = copy.deepcopy(case)
    case["commands"] = [resolve_step(step, tool) for step in case.get("commands", [])]
    return case


def od_bytes(text: str) -> bytes:
    """The bytes shown by ``od -A d -t x1 -v`` (decimal offset, then hex octets per line)."""
    data = bytearray()
    for line in text.splitlines():
        offset, *octets = line.split()
        assert int(offset) == len(data), f"od offset {offset} after {len(data)} bytes"
        data += bytes(int(octet, 16) for octet in octets)
    return bytes(data)


def recorded_superblock() -> bytes:
    """Start of the DRBD meta-data super block that drbdadm create-md wrote in the lab."""
    return od_bytes(recorded_out("drbd", "md_superblock_hex"))


def recorded_device_size() -> int:
    """Size of the lab's backing device /dev/vdb (blockdev --getsize64)."""
    return int(recorded_out("drbd", "blockdev_size"))
