# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/validate.yml run by ansible-playbook on the controller alone.

The example inventories name hosts that do not resolve here: a run that tried to reach one
would report it unreachable. Each run must touch localhost only.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[3]
INVENTORIES = [arg for name in ("lvs", "storage", "mirror")
               for arg in ("-i", str(REPO / "inventories" / f"example-{name}" / "hosts.yml"))]


def validate(*extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(["ansible-playbook", *INVENTORIES, *extra, str(REPO / "playbooks" / "validate.yml")],
                          capture_output=True, text=True, check=False, timeout=300, cwd=REPO, env=env)


def recap_hosts(out: str) -> List[str]:
    return re.findall(r"^(\S+)\s+: ok=", out, re.M)


def test_the_examples_validate_without_contacting_a_host() -> None:
    proc = validate()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the cluster model is valid (directors, realservers, storage, mirrors)" in proc.stdout
    assert recap_hosts(proc.stdout) == ["localhost"]


def test_every_error_is_reported_in_one_run_and_the_exit_is_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("lvsha_mirror_vip: {address: 192.0.2.60, prefix: 24}\nlvsha_storage_vip: {address: 192.0.2.60, prefix: 40}\n"
                   "lvsha_lvs_services: 5\n")
    proc = validate("-e", f"@{bad}")
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    for message in ("host lb1: lvsha_lvs_services = 5: must be a list of virtual services",
                    "host nas1: lvsha_storage_vip.prefix = 40: must be 1..32",
                    "host mr1: lvsha_mirror_vip.address = '192.0.2.60': is already the floating address"):
        assert message in out
    assert recap_hosts(proc.stdout) == ["localhost"]
