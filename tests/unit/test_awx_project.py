# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repository as an AWX / Automation Controller project, and as a fresh clone: a copy of
its tracked and new files (no build/ from `make setup`, no ANSIBLE_CONFIG) runs validate.yml
with its own ansible.cfg, both as it is and the way AWX runs it: the project sync installs
collections/requirements.yml from the project's root, and the job puts what it installed ahead
of ansible.cfg's collections path. Once AWX found no filter lvsha.cluster.cluster_model_errors
(ansible.cfg named build/collections, which only `make setup` makes)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from playbook_run import REPO, words

VALIDATE = ["ansible-playbook", "-i", "inventories/example-lvs/hosts.yml", "playbooks/validate.yml"]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(f"tar --null -T - -cf - | tar -xf - -C {project}", shell=True, cwd=REPO, input=files, check=True)
    assert not (project / "build").exists()
    return project


def run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    # Nothing of the test run's own configuration: the project's ansible.cfg decides.
    base = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return subprocess.run(argv, cwd=cwd, env={**base, "ANSIBLE_NOCOLOR": "1", **env}, capture_output=True, text=True,
                          check=False, timeout=600)


def test_a_fresh_clone_runs_validate_with_nothing_installed(clone: Path) -> None:
    proc = run(VALIDATE, clone)
    assert proc.returncode == 0, words(proc.stdout + proc.stderr)
    assert "Check the cluster model" in proc.stdout


def test_the_project_runs_as_awx_runs_it(clone: Path, tmp_path: Path) -> None:
    installed = tmp_path / "requirements_collections"
    # The sync sets the collections path to where it installs (else ansible-galaxy would find the
    # collection already there, through ansible.cfg's path, and install nothing).
    sync = run(["ansible-galaxy", "collection", "install", "-r", "collections/requirements.yml", "-p", str(installed)],
               clone, ANSIBLE_COLLECTIONS_PATH=str(installed))
    assert sync.returncode == 0, words(sync.stdout + sync.stderr)
    manifest = installed / "ansible_collections" / "lvsha" / "cluster" / "MANIFEST.json"
    assert manifest.is_file() and not manifest.is_symlink()
    # The job: what the sync installed first, then ansible.cfg's path (AWX's own order).
    proc = run(VALIDATE + ["-v"], clone, ANSIBLE_COLLECTIONS_PATH=f"{installed}:collections")
    out = words(proc.stdout + proc.stderr)
    assert proc.returncode == 0, out
    assert "Check the cluster model" in proc.stdout
