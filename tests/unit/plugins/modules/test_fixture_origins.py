# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the unit-test data comes from, kept honest.

* every recording under fixtures/recorded/ is used by some test;
* every hand-written fixture is listed, with its origin, in its folder's README.md;
* hand-written files that claim to be cut from or derived from a recording still are.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List

import pytest

from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.recordings import (
    FIXTURES,
    RECORDED,
    handwritten,
    recorded_out,
)

UNIT_TESTS = Path(__file__).resolve().parents[2]
HANDWRITTEN_DIRS = ("ipvsadm", "drbd", "arp")


def recorded_names() -> List[str]:
    return sorted(f"{path.parent.name}/{path.stem}" for path in RECORDED.glob("*/*.rc"))


def test_recordings_are_complete() -> None:
    names = recorded_names()
    assert len(names) > 50
    for name in names:
        assert (RECORDED / f"{name}.txt").is_file(), f"{name}: no stdout file"
        assert int((RECORDED / f"{name}.rc").read_text()) >= 0


@pytest.mark.parametrize("name", recorded_names())
def test_every_recording_is_used(name: str) -> None:
    stem = name.split("/", 1)[1]
    pattern = re.compile(rf"(?<![\w]){re.escape(stem)}(?![\w])")
    sources = [path for path in UNIT_TESTS.rglob("*") if path.suffix in (".py", ".yaml")
               and path.name != Path(__file__).name and "fixtures" not in path.parts]
    assert any(pattern.search(path.read_text()) for path in sources), f"recording {name} is used by no test"


def readme_entries(folder: str) -> List[str]:
    text = (FIXTURES / folder / "README.md").read_text()
    return re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE)


@pytest.mark.parametrize("folder", HANDWRITTEN_DIRS)
def test_every_handwritten_fixture_has_its_origin_in_the_readme(folder: str) -> None:
    root = FIXTURES / folder
    files = sorted(path.relative_to(root).as_posix() for path in root.rglob("*")
                   if path.is_file() and path.name != "README.md")
    assert sorted(readme_entries(folder)) == files
    for line in (FIXTURES / folder / "README.md").read_text().splitlines():
        if line.startswith("| `"):
            assert "recorded" in line, f"{folder}: origin not stated: {line}"


def head(text: str, lines: int) -> str:
    return "".join(text.splitlines(keepends=True)[:lines])


def test_ipvsadm_excerpts_are_cut_from_the_recording() -> None:
    assert handwritten("ipvsadm", "save_web.txt") == head(recorded_out("ipvsadm", "save_mixed"), 3)
    assert handwritten("ipvsadm", "list_thresholds_web.txt") == head(recorded_out("ipvsadm", "list_mixed_thresholds"), 6)


@pytest.mark.parametrize("busy, recorded", [
    ("list_mixed_stats_busy.txt", "list_mixed_stats"),
    ("list_mixed_rate_busy.txt", "list_mixed_rate"),
])
def test_busy_listings_differ_from_the_recording_only_in_counters(busy: str, recorded: str) -> None:
    ours = handwritten("ipvsadm", busy).splitlines()
    real = recorded_out("ipvsadm", recorded).splitlines()
    assert len(ours) == len(real)
    changed = 0
    for mine, theirs in zip(ours, real):
        mine_tokens, their_tokens = mine.split(), theirs.split()
        if mine_tokens == their_tokens:
            assert mine == theirs
            continue
        changed += 1
        assert len(mine_tokens) == len(their_tokens)
        assert mine_tokens[:-5] == their_tokens[:-5]
        assert all(token.isdigit() for token in mine_tokens[-5:])
        # print_largenum(): right-aligned in 9 columns (wider numbers get one blank)
        assert mine.startswith(theirs[:33])
    assert changed >= 10


def test_drbd_fixtures_derived_from_recordings() -> None:
    primary = recorded_out("drbd", "proc_drbd_84_primary_uptodate")
    assert handwritten("drbd", "proc_drbd_84_connected.txt") == primary.replace(
        "ro:Primary/Secondary", "ro:Secondary/Secondary")
    header = head(recorded_out("drbd", "proc_drbd_84_no_resources"), 2)
    for name in ("proc_drbd_84_standalone_outdated.txt", "proc_drbd_84_unconfigured.txt",
                 "proc_drbd_84_two_volumes.txt"):
        assert handwritten("drbd", name).startswith(header), name

    def minor_lines(name: str, number: int) -> str:
        body = "".join(recorded_out("drbd", name).splitlines(keepends=True)[2:])
        return f" {number}:" + body[len(" 0:"):]

    assert handwritten("drbd", "proc_drbd_84_two_volumes.txt") == (
        header + minor_lines("proc_drbd_84_primary_uptodate", 0) + minor_lines("proc_drbd_84_syncsource", 1)
        + "\n" + minor_lines("proc_drbd_84_wfconnection_uptodate", 3))
