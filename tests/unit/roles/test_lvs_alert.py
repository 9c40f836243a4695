# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/mon/files/lvs.alert, run as mon runs it, with a fake sudo first in PATH; and the
sudo rule of roles/mon/templates/sudoers.j2 that lets it run its command."""
from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

ALERT = Path(__file__).resolve().parents[3] / "roles" / "mon" / "files" / "lvs.alert"
SUDOERS = ALERT.parents[1] / "templates" / "sudoers.j2"
LVSHA = "/usr/local/sbin/lvsha"

FAKE_SUDO = '''
"""A test double of sudo: appends its argv to sudo.log; FAKE_SUDO_RC and FAKE_SUDO_ERR say how it ends."""
import json
import os
import sys

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sudo.log"), "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.stderr.write(os.environ.get("FAKE_SUDO_ERR", ""))
sys.exit(int(os.environ.get("FAKE_SUDO_RC", "0")))
'''


class Mon:
    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        sudo = self.bin / "sudo"
        sudo.write_text(f"#!{sys.executable}\n{FAKE_SUDO.lstrip()}")
        sudo.chmod(0o755)
        self.log = self.bin / "sudo.log"

    def alert(self, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("MON_", "FAKE_SUDO_"))}
        base["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        return subprocess.run(["/bin/sh", str(ALERT), *args], env=dict(base, **env), capture_output=True,
                              text=True, check=False, timeout=60)

    def calls(self) -> List[List[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


@pytest.fixture
def mon(tmp_path: Path) -> Mon:
    return Mon(tmp_path)


def alert_env(alerttype: Optional[str], group: Optional[str] = "web1", service: Optional[str] = "www") -> Dict[str, str]:
    env = {"MON_ALERTTYPE": alerttype, "MON_GROUP": group, "MON_SERVICE": service}
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize("alerttype, status", [("failure", "down"), ("up", "up")])
def test_alert_changes_health(mon: Mon, alerttype: str, status: str) -> None:
    # mon passes its own arguments (-s service -g group -h hosts -l time, -u for up alerts).
    proc = mon.alert(alert_env(alerttype), "-s", "www", "-g", "web1", "-h", "192.0.2.21", "-l", "1700000000")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert mon.calls() == [["-n", LVSHA, "ipvs", "health", "www", "web1", status]]


@pytest.mark.parametrize("env", [
    alert_env("ack"),
    alert_env("startup"),
    alert_env("disable"),
    alert_env("trap"),
    alert_env(None),
    alert_env("failure", group=None),
    alert_env("failure", group=""),
    alert_env("failure", service=None),
], ids=["ack", "startup", "disable", "trap", "no-alerttype", "no-group", "empty-group", "no-service"])
def test_alert_that_changes_nothing(mon: Mon, env: Dict[str, str]) -> None:
    proc = mon.alert(env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert mon.calls() == []


def test_failing_sudo_fails_the_alert(mon: Mon) -> None:
    env = dict(alert_env("failure"), FAKE_SUDO_RC="1", FAKE_SUDO_ERR="sudo: a password is required\n")
    proc = mon.alert(env)
    assert proc.returncode == 1
    assert proc.stderr == (f"lvs.alert: sudo -n {LVSHA} ipvs health www web1 down: "
                           "sudo: a password is required\n")
    assert mon.calls() == [["-n", LVSHA, "ipvs", "health", "www", "web1", "down"]]


def test_unknown_real_server_status_is_passed_on(mon: Mon) -> None:
    env = dict(alert_env("up", group="web9"), FAKE_SUDO_RC="2",
               FAKE_SUDO_ERR="lvsha-ipvs: no real server web9 in service www\n")
    proc = mon.alert(env)
    assert proc.returncode == 2
    assert proc.stderr.endswith(": lvsha-ipvs: no real server web9 in service www\n")


def sudo_rule() -> List[str]:
    """The rule's command and its argument pattern."""
    rules = [line for line in SUDOERS.read_text().splitlines() if line.startswith("mon ")]
    assert len(rules) == 1, rules
    spec, command = rules[0].split(" NOPASSWD: ", 1)
    assert spec == "mon ALL=(root)"
    return command.split(" ", 1)


def admits(argv: List[str]) -> bool:
    """sudoers(5): a command's arguments are matched as one string, joined by spaces, with fnmatch
    wildcards (no FNM_PATHNAME: "*" matches "/" and spaces too)."""
    path, pattern = sudo_rule()
    return argv[0] == path and fnmatch.fnmatchcase(" ".join(argv[1:]), pattern)


@pytest.mark.parametrize("status", ["down", "up"])
def test_the_sudo_rule_admits_what_the_alert_runs(mon: Mon, status: str) -> None:
    assert sudo_rule() == [LVSHA, "ipvs health *"]
    mon.alert(alert_env("failure" if status == "down" else "up", group="web-2.a", service="api_1"))
    [call] = mon.calls()
    assert call[0] == "-n" and admits(call[1:])


@pytest.mark.parametrize("args", [
    [], ["--version"], ["ipvs"], ["ipvs", "health"], ["ipvs", "state"], ["ipvs", "apply"], ["ipvs", "reset"],
    ["ipvs", "remove"], ["ipvs", "sync", "--desired", "-"], ["mirror", "pull", "--force"], ["ipvsx", "health", "www"],
    ["ipvs", "healthy", "www"], ["ipvs", "sync", "health", "www"],
])
def test_the_sudo_rule_admits_no_other_verb(args: List[str]) -> None:
    assert not admits([LVSHA, *args])
    assert not admits(["/usr/local/sbin/lvsha-ipvs", "health", "www", "web1", "down"])
