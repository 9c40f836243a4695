# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CHANGELOG.md from changelogs/: the released versions as antsibull-changelog writes them
(changelogs/changelog.yaml; none yet) and, above them, the coming release from the fragments,
which antsibull-changelog itself only renders once they are released.

    python3 tests/unit/changelog_md.py > CHANGELOG.md     (make changelog)
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHANGELOGS = REPO / "changelogs"


def sections() -> list[tuple[str, ...]]:
    """The configured sections, in order: (key, title)."""
    config = yaml.safe_load((CHANGELOGS / "config.yaml").read_text(encoding="utf-8"))
    return [tuple(section) for section in config["sections"]]


def fragments() -> dict[str, list[str]]:
    """Every entry of the pending fragments, by section, in file name order."""
    found: dict[str, list[str]] = {}
    for path in sorted((CHANGELOGS / "fragments").glob("*.y*ml")):
        for section, entries in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            found.setdefault(section, []).extend([entries] if isinstance(entries, str) else entries)
    return found


def markdown_item(entry: str) -> str:
    # The fragments are RST: a literal is ``x`` there and `x` in Markdown.
    text = " ".join(re.sub(r"``([^`]+)``", r"`\1`", entry).split())
    return textwrap.fill(text, width=100, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False,
                         break_long_words=False)


def unreleased() -> str:
    version = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    pending = fragments()
    lines = [f"## {version} (unreleased)", "",
             "<!-- From changelogs/fragments/ by `make changelog`: a change adds a fragment there. -->"]
    for key, title in sections():
        if pending.get(key):
            lines += ["", f"### {title}", ""] + [markdown_item(entry) for entry in pending[key]]
    return "\n".join(lines) + "\n"


def released() -> str:
    """antsibull-changelog's own rendering of changelog.yaml, without its title: empty until a
    release is recorded there."""
    releases = yaml.safe_load((CHANGELOGS / "changelog.yaml").read_text(encoding="utf-8")).get("releases") or {}
    if not releases:
        return ""
    proc = subprocess.run(["antsibull-changelog", "generate", "--output", "/dev/stdout", "--output-format", "md"],
                          capture_output=True, text=True, check=True, cwd=REPO)
    return "\n" + proc.stdout.split("\n", 1)[1].lstrip("\n")


def changelog() -> str:
    return "# Changelog\n\n" + unreleased() + released()


if __name__ == "__main__":
    sys.stdout.write(changelog())
