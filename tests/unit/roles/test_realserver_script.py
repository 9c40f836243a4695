# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/realserver/files/lvsha-realserver reads its configuration as data: run with a fake ip
first in PATH, a hostile value is refused before any command runs, and none of it is run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "realserver" / "files" / "lvsha-realserver"
FAKE_IP = '''import json, os, sys
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ip.log"), "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
'''


def run(tmp_path: Path, conf: str, verb: str = "status") -> Tuple[subprocess.CompletedProcess, List[List[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "ip").write_text(f"#!{sys.executable}\n{FAKE_IP}")
    (bin_dir / "ip").chmod(0o755)
    (tmp_path / "realserver.conf").write_text(conf)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LVSHA_REALSERVER_CONF": str(tmp_path / "realserver.conf")}
    proc = subprocess.run(["sh", str(SCRIPT), verb], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    log = bin_dir / "ip.log"
    return proc, [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_values_are_read_as_written(tmp_path: Path) -> None:
    proc, calls = run(tmp_path, '# managed\nLO_VIPS="192.0.2.50 192.0.2.51"\nTUN_VIPS=""\nARP_INTERFACES="eth1"\nNAT_GATEWAY=""\n')
    # The fake ip shows no address: status stops at the first VIP it asks for.
    assert (proc.returncode, proc.stdout) == (3, "stopped: 192.0.2.50 is not on lo\n")
    assert calls == [["-o", "-4", "addr", "show", "dev", "lo"]]


@pytest.mark.parametrize("value", ["192.0.2.50$(touch pwned)", "192.0.2.50`touch pwned`", "192.0.2.50;touch pwned",
                                   "192.0.2.50|touch pwned", "192.0.2.50&touch pwned", "*", "192.0.2.50\" ; touch pwned ; \""])
def test_a_hostile_value_is_refused_and_nothing_of_it_runs(tmp_path: Path, value: str) -> None:
    proc, calls = run(tmp_path, f'LO_VIPS="{value}"\nARP_INTERFACES="eth1"\n')
    assert proc.returncode == 1
    assert "LO_VIPS holds a character that no address or interface has" in proc.stderr
    assert calls == [] and not (tmp_path / "pwned").exists()


def test_lines_that_set_anything_else_are_ignored(tmp_path: Path) -> None:
    proc, calls = run(tmp_path, 'PATH="/nonexistent"\nLO_VIPS="192.0.2.50"\nexport LO_VIPS=x\n')
    assert proc.returncode == 3 and calls == [["-o", "-4", "addr", "show", "dev", "lo"]]
