# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ansible-core range meta/runtime.yml claims is the range the tests run on: its lowest
line and every line up to its bound are in the Makefile's CORE_LINES (CORE_LINES_PY313) or
requirements.txt's pin."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def line(version: str) -> tuple:
    return tuple(int(part) for part in version.split(".")[:2])


def lines_under_test() -> set:
    others = [v for found in re.findall(r"^CORE_LINES\w*\s*:=\s*(.+)$", (REPO / "Makefile").read_text(), re.M)
              for v in found.split()]
    pinned = re.search(r"^ansible-core==(\S+)$", (REPO / "requirements.txt").read_text(), re.M).group(1)
    return {line(version) for version in [*others, pinned]}


def test_the_claimed_range_is_the_tested_one():
    claim = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["requires_ansible"]
    low, high = re.fullmatch(r">=(\d+\.\d+)\.0,<(\d+\.\d+)\.0", claim).groups()
    claimed = {(2, minor) for minor in range(line(low)[1], line(high)[1])}
    assert claimed == lines_under_test(), f"requires_ansible {claim!r} against the tested lines {sorted(lines_under_test())}"
