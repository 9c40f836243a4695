# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an execution environment that holds the collection gets from it: ansible-builder's
introspection (the step an EE build runs) of the installed tarball lists no Python package and
only the controller-side tools of render.yml's checks (meta/execution-environment.yml)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from playbook_run import REPO

BUILDER = Path(sys.executable).with_name("ansible-builder")


def test_an_execution_environment_gets_only_the_runtime_dependencies(tmp_path: Path) -> None:
    built = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(REPO)],
                           capture_output=True, text=True, check=False, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (tarball,) = tmp_path.glob("lvsha-cluster-*.tar.gz")
    installed = subprocess.run(["ansible-galaxy", "collection", "install", "--force", "-p", str(tmp_path / "collections"), str(tarball)],
                               capture_output=True, text=True, check=False, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    proc = subprocess.run([str(BUILDER), "introspect", str(tmp_path / "collections")], capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = yaml.safe_load(proc.stdout)
    assert found["python"] == [], found
    assert sorted(line.split()[0] for line in found["system"]) == ["drbd-utils", "mon", "nftables", "rsync"], found
    shutil.rmtree(tmp_path / "collections")


def test_the_example_execution_environment_builds_a_context(tmp_path: Path) -> None:
    """docs/examples/execution-environment.yml is one that ansible-builder accepts: its build
    context asks for the collection and for no Python package of the collection's own."""
    context = tmp_path / "context"
    proc = subprocess.run([str(BUILDER), "create", "-f", str(REPO / "docs/examples/execution-environment.yml"),
                           "--context", str(context), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": "lvsha.cluster"}]}, requirements
    # The image installs what introspection finds, from the collections' own metadata.
    assert "introspect" in (context / "Containerfile").read_text()
    assert not (context / "_build" / "requirements.txt").exists()
