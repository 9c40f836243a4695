# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""antsibull-docs lint-collection-docs on the collection (plugins, roles, the guides of
docs/docsite, every reference), failing on any message but those listed in
docs/docsite/lint-known.txt, each with the reason it is there; a listed message that the lint
no longer reports fails too, so the list only ever shrinks to what is still true.

    python3 tests/docs_lint.py COLLECTION_DIR
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

KNOWN = Path(__file__).resolve().parents[1] / "docs" / "docsite" / "lint-known.txt"


def known() -> set[str]:
    return {line for line in KNOWN.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = Path(argv[0])
    proc = subprocess.run(["antsibull-docs", "lint-collection-docs", "--plugin-docs", "--check-extra-docs-refs",
                           "--validate-collection-refs", "all", str(root)], capture_output=True, text=True, check=False)
    # Messages name files under the directory given: compare them as paths in the collection.
    messages = {re.sub(r"^" + re.escape(str(root).rstrip("/") + "/"), "", line)
                for line in (proc.stdout + proc.stderr).splitlines() if line.strip()}
    listed = known()
    new, gone = sorted(messages - listed), sorted(listed - messages)
    for line in new:
        print(f"docs lint: {line}")
    for line in gone:
        print(f"docs lint: no longer reported, remove it from {KNOWN.name}: {line}")
    if proc.returncode not in (0, 3) or (proc.returncode == 3 and not messages):
        print(f"docs lint: antsibull-docs exited {proc.returncode}", file=sys.stderr)
        return 1
    print(f"docs lint: {len(messages)} message(s), {len(messages & listed)} of them known")
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
