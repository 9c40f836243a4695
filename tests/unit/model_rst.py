# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster model guide of the documentation site (docs/docsite/rst/model.rst) from
docs/model.md, which is generated from the schema: the same text in reStructuredText.

    python3 tests/unit/model_rst.py > docs/docsite/rst/model.rst     (make docs)

docs/model.md uses headings, paragraphs, tables and inline literals only; anything else is
refused here rather than passed through wrong.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODEL_MD = REPO / "docs" / "model.md"
UNDERLINES = {1: "=", 2: "-", 3: "~"}


def inline(text: str) -> str:
    # A Markdown literal `x` is ``x`` in reStructuredText; a literal ending in a backslash or
    # next to a word character would need escapes that model.md never has.
    return re.sub(r"`([^`]+)`", r"``\1``", text)


def table(rows: list[str]) -> list[str]:
    cells = [[cell.strip() for cell in row.strip().strip("|").split(" | ")] for row in rows]
    header, body = cells[0], cells[2:]
    if set(rows[1].replace("|", "").split()) != {"---"} or any(len(row) != len(header) for row in body):
        raise ValueError(f"not a simple table: {rows[0]}")
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header] + body:
        out.append(f"   * - {inline(row[0])}")
        out.extend(f"     - {inline(cell)}" for cell in row[1:])
    return out


def convert(markdown: str) -> str:
    out = [".. Generated from docs/model.md by `make docs`; do not edit.", "", ".. _ansible_collections.lvsha.cluster.docsite.model:", ""]
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or (line.startswith("<!--") and line.endswith("-->")):
            i += 1
            continue
        heading = re.match(r"^(#{1,3}) (.+)$", line)
        if heading:
            title = inline(heading.group(2))
            out += [title, UNDERLINES[len(heading.group(1))] * len(title), ""]
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].strip() and not lines[i].startswith("#"):
            block.append(lines[i])
            i += 1
        if block[0].startswith("|"):
            out += table(block) + [""]
        elif any(re.match(r"^\s*([-*+]|\d+\.)\s", row) or row.startswith("|") for row in block):
            raise ValueError(f"unexpected Markdown: {block[0]}")
        else:
            out += [inline(row) for row in block] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def model_rst() -> str:
    return convert(MODEL_MD.read_text(encoding="utf-8"))


if __name__ == "__main__":
    sys.stdout.write(model_rst())
