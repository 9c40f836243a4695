# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab helpers' waits say what they saw when they give up: an SSH failure is reported as
one, never as a state of the cluster. A stand-in for labctl answers as ssh does (255 when the
connection fails); the lab itself is not needed."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
import lvslab  # noqa: E402


@pytest.fixture
def labctl(tmp_path, monkeypatch):
    """Make labctl exit with the status and print the text written to it."""
    script = tmp_path / "labctl"

    def answer(status: int, stdout: str = "", stderr: str = "") -> None:
        script.write_text(f"#!/bin/sh\nprintf '%s' '{stdout}'\nprintf '%s' '{stderr}' >&2\nexit {status}\n")
        script.chmod(0o755)

    monkeypatch.setattr(lvslab, "LABCTL", script)
    return answer


def test_an_ssh_failure_raises_even_unchecked(labctl):
    labctl(255, stderr="Connection refused")
    with pytest.raises(RuntimeError, match=r"lb1: .* SSH failed \(rc 255\): Connection refused"):
        lvslab.ssh("lb1", "ip addr", check=False)


def test_a_command_failure_unchecked_is_its_output(labctl):
    labctl(1, stdout="inactive")
    assert lvslab.ssh("lb1", "systemctl is-active mon", check=False) == "inactive"
    with pytest.raises(RuntimeError, match=r"failed \(rc 1\)"):
        lvslab.ssh("lb1", "systemctl is-active mon")


def test_a_wait_that_lost_ssh_says_so(labctl):
    labctl(255, stderr="No route to host")
    with pytest.raises(AssertionError) as raised:
        lvslab.wait_for("lb1 to hold the VIP", lambda: lvslab.holds_vip("lb1"), timeout=0.2, step=0.1)
    assert "the last check failed: lb1:" in str(raised.value)
    assert "No route to host" in str(raised.value)


def test_a_wait_that_saw_no_reports_what_the_nodes_show(labctl):
    labctl(0, stdout="3: eth1    inet 192.0.2.12/24 brd 192.0.2.255 scope global eth1")
    with pytest.raises(AssertionError) as raised:
        lvslab.wait_for("lb1 to hold the VIP", lambda: lvslab.holds_vip("lb1"), timeout=0.2, step=0.1,
                        seen=lvslab.directors_report)
    message = str(raised.value)
    assert "the last check answered no" in message
    assert "--- lb1\n3: eth1    inet 192.0.2.12/24" in message and "--- lb2\n" in message


def test_a_watch_tells_a_lost_session_from_a_condition_never_met(labctl):
    labctl(255, stderr="Broken pipe")
    with pytest.raises(AssertionError, match="lost its SSH session to lb1: Broken pipe"):
        lvslab.Watch("lb1", "true", 1).wait("mon to drain web1", seen=lambda: "table")
    labctl(1)
    with pytest.raises(AssertionError, match="waiting for mon to drain web1; lb1 shows:\ntable"):
        lvslab.Watch("lb1", "true", 1).wait("mon to drain web1", seen=lambda: "table")
    labctl(0)
    lvslab.Watch("lb1", "true", 1).wait("mon to drain web1", seen=lambda: "table")
