# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/validate.yml run by ansible-playbook on the controller alone: each run must
touch localhost only (see playbook_run)."""
from __future__ import annotations

from pathlib import Path

from playbook_run import REPO, recap, run_playbook


def validate(*extra: str):
    return run_playbook(REPO / "playbooks" / "validate.yml", *extra)


def test_the_examples_validate_without_contacting_a_host() -> None:
    proc = validate()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the cluster model is valid (clusters: web, nas, mirror)" in proc.stdout
    assert list(recap(proc.stdout)) == ["localhost"]


def test_every_error_is_reported_in_one_run_and_the_exit_is_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    # The mirror pair takes the LVS VIP (a floating address that the model checked: a VIP with a
    # bad prefix, like the storage one here, is not compared with the others).
    bad.write_text("lvsha_mirror_vip: {address: 192.0.2.50, prefix: 24}\nlvsha_storage_vip: {address: 192.0.2.60, prefix: 40}\n"
                   "lvsha_lvs_services: 5\nheartbeat_auth_method: crc\nheartbeat_auth_key: [leaked]\n")
    proc = validate("-e", f"@{bad}")
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    for message in ("host lb1: lvsha_lvs_services = 5: must be a list of virtual services",
                    "host nas1: lvsha_storage_vip.prefix = 40: must be 1..32",
                    "host mr1: lvsha_mirror_vip.address = '192.0.2.50': is already the floating address "
                    "lvsha_lvs_vips[0].address of lb1 (cluster web)",
                    "host nas2: heartbeat_auth_method = 'crc': must be a str, one of sha1, md5 (role heartbeat)",
                    "host lb1: heartbeat_auth_key = (not shown): must be a str (role heartbeat)"):
        assert message in out
    assert "leaked" not in out
    assert list(recap(proc.stdout)) == ["localhost"]
