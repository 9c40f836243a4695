# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's tarball (ansible-galaxy collection build, galaxy.yml's build_ignore): the
collection, its documentation, examples and unit and sanity tests, with its licence; none of
the development harness."""
from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

from playbook_run import REPO

# RELIABILITY.md ships: it tells the operator what to do where the cluster cannot decide alone.
TOP_LEVEL = {"CHANGELOG.md", "FILES.json", "LICENSE", "MANIFEST.json", "README.md", "RELIABILITY.md", "changelogs", "docs",
             "inventories", "meta", "playbooks", "plugins", "roles", "tests"}
HARNESS = ("tests/lab/", "tests/stage", "tests/no_leftovers.py", "tests/docs_lint.py", "tests/output/", "molecule/", "benchmarks/",
           "inventories/lab/", "build/", ".venv", "Makefile", "requirements.txt", "ansible.cfg", "BENCHMARKS.md",
           "collections/")


def test_the_tarball_holds_the_collection_and_none_of_the_harness(tmp_path: Path) -> None:
    proc = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(REPO)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = tmp_path.glob("lvsha-cluster-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert {name.split("/")[0] for name in names} == TOP_LEVEL
    assert [name for name in names if name.startswith(HARNESS) or "__pycache__" in name] == []
    assert "plugins/modules/ipvs.py" in names and "tests/unit/catalogue/bad_input.yml" in names
    print(f"{tarball.name}: {tarball.stat().st_size} bytes, {len(names)} entries")
