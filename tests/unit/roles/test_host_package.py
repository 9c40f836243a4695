# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvsha_host package, its launcher and the lvsha.cluster.host_package role that installs them.

The role's own tasks run on the controller (connection local) with its two paths moved under
tmp_path by extra variables: install, a second run without change, check mode, and the
version check failing with what the command answered.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from ansible_collections.lvsha.cluster.plugins.module_utils import lvsha_host
from ansible_collections.lvsha.cluster.plugins.module_utils.lvsha_host import cli
from lvsha_command import PACKAGE, REPO, install, render_launcher
from playbook_run import recap, words

SHADOW_INIT = '__version__ = "shadow"\n'
SHADOW_CLI = 'def main():\n    print("shadow lvsha_host")\n    return 0\n'
SITECUSTOMIZE = 'import sys\nsys.stderr.write("sitecustomize from PYTHONPATH ran\\n")\n'


def test_the_package_version_is_the_collection_s() -> None:
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert lvsha_host.__version__ == galaxy["version"]


def test_the_package_is_standard_library_only() -> None:
    """Nothing in it imports Ansible or the collection by name: it runs as a top-level package."""
    for module in PACKAGE.glob("*.py"):
        text = module.read_text()
        assert "import ansible" not in text and "from ansible" not in text, module.name


def test_the_launcher_is_python3_in_isolated_mode() -> None:
    text = render_launcher("/usr/bin/python3", "/usr/local/lib/lvsha")
    assert text.splitlines()[0] == "#!/usr/bin/python3 -I"
    assert 'sys.path.insert(0, "/usr/local/lib/lvsha")\n' in text
    assert text.endswith("sys.exit(main())\n")


def shadow(root: Path) -> Path:
    """A directory that would shadow the package and run code at start-up, were it in sys.path."""
    (root / "lvsha_host").mkdir(parents=True)
    (root / "lvsha_host" / "__init__.py").write_text(SHADOW_INIT)
    (root / "lvsha_host" / "cli.py").write_text(SHADOW_CLI)
    (root / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return root


def test_the_launcher_runs_the_installed_package_whatever_the_environment(tmp_path: Path) -> None:
    launcher = install(tmp_path / "host")
    evil = shadow(tmp_path / "evil")
    # The script's directory and the current one are not in sys.path either.
    shadow(launcher.parent)
    env = dict(os.environ, PYTHONPATH=str(evil))
    proc = subprocess.run([str(launcher), "--version"], env=env, cwd=evil, capture_output=True, text=True,
                          check=False, timeout=60, stdin=subprocess.DEVNULL)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, lvsha_host.__version__ + "\n", "")
    # Without -I the same environment runs its own code: the test above can fail.
    proc = subprocess.run([sys.executable, str(launcher), "--version"], env=env, cwd=evil, capture_output=True,
                          text=True, check=False, timeout=60, stdin=subprocess.DEVNULL)
    assert "sitecustomize from PYTHONPATH ran" in proc.stderr


@pytest.mark.parametrize("argv, rc, out, err", [
    (["--version"], 0, lvsha_host.__version__ + "\n", ""),
    ([], 2, "", "lvsha: error: a command is required\n"),
    (["ipvs-apply"], 2, "", "lvsha: error: unknown command 'ipvs-apply'\n"),
    (["ipvs health"], 2, "", "lvsha: error: unknown command 'ipvs health'\n"),
])
def test_the_command_line(capsys: pytest.CaptureFixture, argv: List[str], rc: int, out: str, err: str) -> None:
    assert cli.main(argv) == rc
    captured = capsys.readouterr()
    assert captured.out == out
    assert captured.err.endswith(err)


def test_each_command_has_its_verbs_and_help(tmp_path: Path) -> None:
    launcher = install(tmp_path)
    for command, verbs in (("ipvs", "apply,remove,reset,state,health,sync"), ("mirror", "init,pull,status,resource")):
        proc = subprocess.run([str(launcher), command, "--help"], capture_output=True, text=True, check=False,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"usage: lvsha {command} [-h] {{{verbs}}}")
    proc = subprocess.run([str(launcher), "--help"], capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0 and "lvsha ipvs VERB" in proc.stdout and "lvsha mirror VERB" in proc.stdout


# ------------------------------------------------------------------ the role, run on the controller

PLAYBOOK = """
- name: The host_package role on the controller
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Install the lvsha command
      ansible.builtin.import_role:
        name: lvsha.cluster.host_package
"""


class Host:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.lib = root / "usr/local/lib/lvsha"
        self.command = root / "usr/local/sbin/lvsha"
        self.playbook = root / "play.yml"
        self.playbook.write_text(PLAYBOOK)
        (root / "usr/local/sbin").mkdir(parents=True)

    def run(self, *options: str, **extra: str) -> subprocess.CompletedProcess:
        variables = {"host_package__lib_dir": str(self.lib), "host_package__command": str(self.command), **extra}
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
               "ANSIBLE_NOCOLOR": "1"}
        return subprocess.run(["ansible-playbook", "-i", "localhost,", "-e", json.dumps(variables), *options,
                               str(self.playbook)], capture_output=True, text=True, check=False, timeout=300,
                              cwd=REPO, env=env)

    def counters(self, proc: subprocess.CompletedProcess) -> Dict[str, int]:
        return recap(proc.stdout)["localhost"]

    def installed(self) -> None:
        if not self.command.exists():
            proc = self.run()
            assert proc.returncode == 0, proc.stdout[-3000:]

    def version(self) -> str:
        return subprocess.run([str(self.command), "--version"], capture_output=True, text=True, check=True,
                              timeout=60).stdout


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Host:
    if os.geteuid() != 0:
        pytest.skip("the role installs files owned by root")
    if not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("the launcher's interpreter /usr/bin/python3 is not here")
    return Host(tmp_path_factory.mktemp("host"))


def test_check_mode_on_a_host_without_it_reports_a_change_and_passes(host: Host) -> None:
    proc = host.run("--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert host.counters(proc)["changed"] >= 3 and host.counters(proc)["failed"] == 0
    assert not host.command.exists() and not host.lib.exists()


def test_install_then_nothing_to_change(host: Host) -> None:
    if host.command.exists():
        pytest.skip("installed by an earlier test of this module")
    proc = host.run()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert host.counters(proc)["changed"] >= 3
    # The package's modules, not the checkout's __pycache__ (the one there is the host's own).
    assert sorted(p.name for p in (host.lib / "lvsha_host").iterdir() if p.name != "__pycache__") == sorted(
        p.name for p in PACKAGE.glob("*.py"))
    assert format(host.command.stat().st_mode & 0o777, "o") == "755"
    assert host.command.read_text().startswith("#!/usr/bin/python3 -I\n")
    assert host.version() == lvsha_host.__version__ + "\n"
    for options in ((), ("--check", "--diff")):
        proc = host.run(*options)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert host.counters(proc)["changed"] == 0, proc.stdout[-3000:]


def test_another_version_fails_with_what_the_command_answered(host: Host) -> None:
    host.installed()
    proc = host.run(host_package__version="9.9.9")
    assert proc.returncode != 0
    assert host.counters(proc)["failed"] == 1
    assert (f'{host.command} --version answered "{lvsha_host.__version__}" (rc 0), not 9.9.9, the version of the '
            f"lvsha_host package installed in {host.lib}/lvsha_host: check its interpreter /usr/bin/python3") in words(
        proc.stdout)


def test_check_mode_over_another_version_leaves_the_check_to_the_run(host: Host) -> None:
    host.installed()
    module = host.lib / "lvsha_host" / "__init__.py"
    module.write_text(module.read_text().replace(f'"{lvsha_host.__version__}"', '"0.0.1"'))
    assert host.version() == "0.0.1\n"
    proc = host.run("--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert host.counters(proc)["changed"] == 1  # the module that differs
    assert re.search(r"Check that the lvsha command is this collection's version\] \**\nskipping: \[localhost\]",
                     proc.stdout), proc.stdout[-3000:]
    assert host.version() == "0.0.1\n"
    proc = host.run()
    assert proc.returncode == 0 and host.counters(proc)["changed"] == 1, proc.stdout[-3000:]
    assert host.version() == lvsha_host.__version__ + "\n"
