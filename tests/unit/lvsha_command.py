# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvsha command as the lvsha.cluster.host_package role installs it, under a test's directory.

``install(root)`` copies the package's modules (the *.py files of plugins/module_utils/lvsha_host,
as the role's copy task does) to ROOT/lib/lvsha_host and renders the role's launcher template
to ROOT/sbin/lvsha with ROOT/lib as its library directory. The interpreter line names this
test run's Python (the role's names /usr/bin/python3), with the template's ``-I``.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Optional

import jinja2

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "plugins" / "module_utils" / "lvsha_host"
ROLE = REPO / "roles" / "host_package"
TEMPLATE = ROLE / "templates" / "lvsha.j2"


def render_launcher(python: str, lib_dir: str) -> str:
    """templates/lvsha.j2 with Ansible's template settings (trim_blocks, trailing newline kept)."""
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                             autoescape=False)
    return env.from_string(TEMPLATE.read_text()).render(host_package__python=python, host_package__lib_dir=lib_dir)


def install(root: Path, python: Optional[str] = None) -> Path:
    """The package and the launcher under ``root``; returns the launcher's path."""
    lib = root / "lib"
    (lib / "lvsha_host").mkdir(parents=True)
    for module in sorted(PACKAGE.glob("*.py")):
        shutil.copyfile(module, lib / "lvsha_host" / module.name)
    launcher = root / "sbin" / "lvsha"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(render_launcher(python or sys.executable, str(lib)))
    launcher.chmod(0o755)
    return launcher
