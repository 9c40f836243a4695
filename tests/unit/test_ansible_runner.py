# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate.yml and render.yml through ansible-runner, as AWX, AAP and ansible-navigator run
them: a private data dir of its own (project/ with the playbooks alone, inventory/, env/), no
ansible.cfg of the checkout, and the collection found through the collections path only."""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import ansible_runner
import pytest

from playbook_run import EXAMPLES, REPO


def collections_root() -> str:
    """The directory that holds ansible_collections/lvsha/cluster for this run (conftest's, or
    ansible-test's copy)."""
    spec = importlib.util.find_spec("ansible_collections.lvsha.cluster")
    assert spec is not None and spec.submodule_search_locations
    return str(Path(list(spec.submodule_search_locations)[0]).parents[2])


@pytest.fixture(autouse=True)
def no_ansible_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-runner passes this process's environment on: none of the test run's ANSIBLE_*
    (its ANSIBLE_CONFIG would find the collection through the checkout's ansible.cfg)."""
    for name in [name for name in os.environ if name.startswith("ANSIBLE_")]:
        monkeypatch.delenv(name)


def data_dir(tmp_path: Path) -> tuple[Path, list[str]]:
    """A private data dir: the playbooks as the project, the example inventories beside it."""
    private = tmp_path / "runner"
    shutil.copytree(REPO / "playbooks", private / "project" / "playbooks")
    inventories = []
    for name in EXAMPLES:
        shutil.copytree(REPO / "inventories" / f"example-{name}", private / "inventory" / name)
        inventories.append(str(private / "inventory" / name / "hosts.yml"))
    return private, inventories


def run(private: Path, inventories: list[str], playbook: str, **extravars: Any) -> ansible_runner.Runner:
    return ansible_runner.run(private_data_dir=str(private), playbook=playbook, inventory=inventories,
                              extravars=extravars, quiet=True, timeout=600,
                              envvars={"ANSIBLE_COLLECTIONS_PATH": collections_root(), "ANSIBLE_NOCOLOR": "1"})


def hosts_contacted(runner: ansible_runner.Runner) -> set[str]:
    """The inventory hosts a task ran for, other than the controller itself."""
    return {event["event_data"]["host"] for event in runner.events
            if event.get("event", "").startswith("runner_on_") and "host" in event.get("event_data", {})} - {"localhost"}


def test_validate_runs_from_a_private_data_dir(tmp_path: Path) -> None:
    private, inventories = data_dir(tmp_path)
    runner = run(private, inventories, "playbooks/validate.yml")
    assert (runner.status, runner.rc) == ("successful", 0), runner.stdout.read()
    assert hosts_contacted(runner) == set()
    # No failure and no host reached: validate.yml stays on the controller.
    assert runner.stats["failures"] == {} and runner.stats["dark"] == {}, runner.stats
    assert set(runner.stats["ok"]) == {"localhost"}, runner.stats


def test_render_runs_from_a_private_data_dir(tmp_path: Path) -> None:
    private, inventories = data_dir(tmp_path)
    rendered = tmp_path / "rendered"
    runner = run(private, inventories, "playbooks/render.yml", render_dir=str(rendered))
    assert (runner.status, runner.rc) == ("successful", 0), runner.stdout.read()
    assert runner.stats["failures"] == {} and runner.stats["dark"] == {}, runner.stats
    assert (rendered / "nas1" / "etc" / "drbd.d" / "r0.res").is_file()
    assert (rendered / "lb1" / "etc" / "mon" / "mon.cf").is_file()
    assert (rendered / "mr2" / "etc" / "rsyncd.conf").is_file()
