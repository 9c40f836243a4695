# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helpers for LVS tests and benchmarks in the running lab (labctl up lvs).

Traffic always comes from the client guest (tests/lab/http_probe.py runs there), never from a
director: what is measured is what a client on the public segment sees.
"""
from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Tuple

LAB_DIR = Path(__file__).resolve().parent
REPO = LAB_DIR.parents[1]
LABCTL = LAB_DIR / "labctl"
PROBE = LAB_DIR / "http_probe.py"
VIP_URL = "http://192.0.2.50/"
DIRECTORS = ("lb1", "lb2")


# ssh's own exit status: the connection failed and the command never ran.
SSH_FAILED = 255


def labctl(*args: str, check: bool = True, timeout: float = 900, stdin: Optional[str] = None) -> str:
    proc = subprocess.run([str(LABCTL), *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"labctl {' '.join(args)} failed (rc {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def ssh(node: str, command: str, check: bool = True, stdin: Optional[str] = None) -> str:
    """``command``'s output in ``node``. ``check=False`` accepts the command's own failure but
    never SSH's: a node that cannot be reached raises RuntimeError, so that no caller reads an
    unreachable node as a state of the cluster."""
    proc = subprocess.run([str(LABCTL), "ssh", node, "--", command], input=stdin, capture_output=True, text=True,
                          timeout=300, check=False)
    if proc.returncode == SSH_FAILED or (check and proc.returncode != 0):
        what = "SSH failed" if proc.returncode == SSH_FAILED else "failed"
        raise RuntimeError(f"{node}: {command[:60]!r} {what} (rc {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return proc.stdout


def playbook(name: str, example: str, extra: Optional[dict] = None, *options: str,
             plain: bool = False) -> subprocess.CompletedProcess:
    """playbooks/NAME.yml with inventories/example-EXAMPLE and the lab's inventory, optionally
    with extra variables; its output tail is printed for the test log. ``plain`` runs it the way
    users do, through Ansible's own ssh connection, even where the lab's runs go through Mitogen
    (the Makefile's LAB_ENV)."""
    import yaml  # only the tests that run playbooks need it

    inventories = ["-i", f"{REPO}/inventories/example-{example}/hosts.yml", "-i", f"{REPO}/inventories/lab/hosts.yml"]
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CONFIG": f"{REPO}/ansible.cfg"}
    if plain:
        env.pop("ANSIBLE_STRATEGY", None)
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump(extra or {}, handle)
    try:
        proc = subprocess.run(["ansible-playbook", *options, *inventories, "-e", f"@{handle.name}", f"{REPO}/playbooks/{name}.yml"],
                              capture_output=True, text=True, check=False, timeout=1200, env=env)
    finally:
        os.unlink(handle.name)
    print(proc.stdout[-3000:], proc.stderr[-1500:])
    return proc


def changed(proc: subprocess.CompletedProcess) -> dict:
    """Host -> changed count of a playbook run's recap."""
    return {host: int(count) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M)}


def role_tasks(proc: subprocess.CompletedProcess) -> List[str]:
    """The role tasks a run started ("TASK [lvsha.cluster.ROLE : name]"). Every task that touches
    a host is a role's: the deploy playbooks check the model on the controller first, so a
    refused model leaves this list empty."""
    return re.findall(r"^TASK \[(lvsha\.cluster\.\w+ : .*)\]", proc.stdout, re.M)


def wait_for(what: str, predicate: Callable[[], bool], timeout: float, step: float = 0.5,
             seen: Optional[Callable[[], str]] = None) -> float:
    """Seconds until ``predicate()`` held. After ``timeout`` an AssertionError names ``what``
    and says what the last check saw: an SSH failure, or ``seen()``'s account of the nodes."""
    started, failure = time.monotonic(), ""
    while True:
        try:
            if predicate():
                return time.monotonic() - started
            failure = ""
        except RuntimeError as error:
            failure = str(error)  # a node that is booting or gone does not answer SSH yet
        if time.monotonic() - started > timeout:
            last = f"the last check failed: {failure}" if failure else "the last check answered no"
            report = f"\n{describe(seen)}" if seen else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {last}{report}")
        time.sleep(step)


def describe(seen: Callable[[], str]) -> str:
    try:
        return seen()
    except RuntimeError as error:
        return f"(could not look: {error})"


def heartbeat_report(nodes: Tuple[str, ...], interface: str = "eth1", lines: int = 15) -> str:
    """Each node's addresses on ``interface``, heartbeat's state and its last log lines: what a
    test that waited in vain for a pair prints."""
    out = []
    for node in nodes:
        try:
            # dopd (storage pairs) logs a few debug lines at each of its frequent respawns:
            # heartbeat's own lines are the ones that say why a group did or did not move.
            text = ssh(node, f"ip -o -4 addr show dev {interface}; systemctl is-active heartbeat; "
                             "journalctl -u heartbeat --no-pager -o short-monotonic | grep -v 'dopd\\[' "
                             f"| tail -n {lines}", check=False)
        except RuntimeError as error:
            text = str(error)
        out.append(f"--- {node}\n{text.rstrip()}")
    return "\n".join(out)


class Watch:
    """A loop in ``node`` that exits 0 once the shell ``condition`` holds, 1 after ``timeout``.

    Checked once a second inside the guest: no SSH round trip blurs the moment, and an
    emulated guest has little CPU to spare for a tighter loop (mon runs there too).
    """

    def __init__(self, node: str, condition: str, timeout: float) -> None:
        self.node, self.timeout = node, int(timeout)
        script = (f"end=$(( $(date +%s) + {self.timeout} )); until {condition}; do "
                  f"[ $(date +%s) -ge $end ] && exit 1; sleep 1; done")
        self.proc = subprocess.Popen([str(LABCTL), "ssh", node, "--", script], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)

    def wait(self, what: str, seen: Callable[[], str]) -> None:
        """Return once the condition held; an AssertionError naming ``what`` otherwise, which
        tells a lost SSH session from a condition that never held (then ``seen()`` says what
        the guest shows)."""
        try:
            stderr = self.proc.communicate(timeout=self.timeout + 60)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError(f"{what}: the watch in {self.node} did not end {self.timeout + 60} s after it began")
        if self.proc.returncode == 0:
            return
        if self.proc.returncode == SSH_FAILED:
            raise AssertionError(f"{what}: the watch lost its SSH session to {self.node}: {stderr.strip()[-300:]}")
        raise AssertionError(f"timed out after {self.timeout} s waiting for {what}; {self.node} shows:\n{describe(seen)}")


def mon_report(node: str = "lb1") -> str:
    """A director's table and mon's last log lines: what a drain that did not come shows."""
    return ssh(node, "ipvsadm -Ln; systemctl is-active mon; journalctl -u mon -n 15 --no-pager -o short-monotonic",
               check=False)


def directors_report() -> str:
    return heartbeat_report(DIRECTORS)


def holds_vip(node: str, vip: str = "192.0.2.50", interface: str = "eth1") -> bool:
    return f" {vip}/" in ssh(node, f"ip -o -4 addr show dev {interface}")


@dataclass
class Sample:
    at: float
    ok: bool
    what: str


class Probe:
    """http_probe.py in the client guest, started and stopped by PID."""

    def __init__(self, url: str = VIP_URL, interval: float = 0.1, timeout: float = 0.5, node: str = "client"):
        self.node, self.url, self.interval, self.timeout = node, url, interval, timeout

    def start(self) -> None:
        ssh(self.node, "cat > /tmp/http_probe.py", stdin=PROBE.read_text())
        ssh(self.node, f"rm -f /tmp/probe.log; nohup python3 /tmp/http_probe.py {self.url} --interval {self.interval} "
                       f"--timeout {self.timeout} --out /tmp/probe.log >/dev/null 2>&1 & echo $! > /tmp/probe.pid")
        # The first line means the signal handlers are in place: SIGUSR1 before that would kill it.
        wait_for("the probe to start", lambda: bool(ssh(self.node, "head -c1 /tmp/probe.log", check=False)), 60)

    def mark(self) -> None:
        """Split the log here (a ``mark`` line)."""
        ssh(self.node, "kill -USR1 $(cat /tmp/probe.pid)")

    def samples(self) -> List[Sample]:
        return parse_samples(ssh(self.node, "cat /tmp/probe.log"))

    def answering(self) -> bool:
        """Whether the last request was answered."""
        served = [s for s in self.samples() if s.what != "mark"]
        return bool(served) and served[-1].ok

    def stop(self) -> List[Sample]:
        ssh(self.node, "kill $(cat /tmp/probe.pid); while kill -0 $(cat /tmp/probe.pid) 2>/dev/null; do sleep 0.1; done")
        return self.samples()


def parse_samples(text: str) -> List[Sample]:
    """Requests in order; a ``mark`` line becomes a Sample with ``what == "mark"``."""
    out = []
    for line in text.splitlines():
        at, status, what = (line.split(" ", 2) + ["", ""])[:3]
        out.append(Sample(float(at), status == "ok", "mark" if status == "mark" else what))
    return out


def after_mark(samples: List[Sample], index: int) -> List[Sample]:
    """The requests after the ``index``-th mark (0-based), up to the next mark."""
    marks = [i for i, s in enumerate(samples) if s.what == "mark"]
    start = marks[index] + 1
    end = marks[index + 1] if index + 1 < len(marks) else len(samples)
    return [s for s in samples[start:end] if s.what != "mark"]


def responders(samples: List[Sample]) -> dict:
    """Answered requests per answering host (the test page names it)."""
    counts: dict = {}
    for sample in samples:
        if sample.ok:
            counts[sample.what] = counts.get(sample.what, 0) + 1
    return counts


def before_mark(samples: List[Sample], index: int) -> List[Sample]:
    """The requests before the ``index``-th mark (0-based)."""
    marks = [i for i, s in enumerate(samples) if s.what == "mark"]
    return [s for s in samples[:marks[index]] if s.what != "mark"]


def span(samples: List[Sample]) -> float:
    """Seconds from the first to the last request: a window shorter than the outage it should
    contain means the probe stopped logging, and its gap would mean nothing."""
    return samples[-1].at - samples[0].at if samples else 0.0


def longest_gap(samples: List[Sample]) -> Tuple[float, int]:
    """The longest time between two answered requests, and the failed requests in it."""
    best, failed_in_best, last_ok, failed = 0.0, 0, None, 0
    for sample in samples:
        if sample.what == "mark":
            continue
        if not sample.ok:
            failed += 1
            continue
        if last_ok is not None and sample.at - last_ok > best:
            best, failed_in_best = sample.at - last_ok, failed
        last_ok, failed = sample.at, 0
    return best, failed_in_best


def requests_from_client(count: int, url: str = VIP_URL) -> List[Sample]:
    """``count`` requests in a row from the client guest (one Python process)."""
    ssh("client", "cat > /tmp/http_probe.py", stdin=PROBE.read_text())
    ssh("client", f"python3 /tmp/http_probe.py {url} --interval 0 --timeout 2 --count {count} --out /tmp/burst.log")
    return parse_samples(ssh("client", "cat /tmp/burst.log"))


def answers_from_client(hosts: Iterable[str], count: int = 400) -> dict:
    """``count`` requests from the client guest, each answered by one of ``hosts``: how many each
    host answered (printed for the test log)."""
    samples = requests_from_client(count)
    assert all(s.ok for s in samples), [s.what for s in samples if not s.ok][:5]
    counts = {name: sum(1 for s in samples if s.what == name) for name in hosts}
    print(f"\n{count} requests from the client: {counts}")
    assert sum(counts.values()) == len(samples), "an answer came from a host that is not a real server"
    return counts


def median(values: List[float]) -> float:
    return statistics.median(values)


def show() -> int:
    """``make demo``'s last step: which director holds the VIP, and who answers the client."""
    active = None

    def someone_holds_it() -> bool:
        nonlocal active
        active = next((node for node in DIRECTORS if holds_vip(node)), None)
        return active is not None

    took = wait_for("a director to hold the VIP", someone_holds_it, timeout=120,
                    seen=directors_report)
    print(f"{active} holds the VIP 192.0.2.50 (waited {took:.0f} s for heartbeat)")
    print(ssh(active, "ipvsadm -Ln"))
    samples = requests_from_client(40)
    counts: dict = {}
    for sample in samples:
        key = sample.what if sample.ok else f"failed ({sample.what})"
        counts[key] = counts.get(key, 0) + 1
    print("40 requests from the client guest to http://192.0.2.50/ were answered by:")
    for name, count in sorted(counts.items()):
        print(f"  {name:10} {count}")
    return 0 if all(s.ok for s in samples) and len(counts) > 1 else 1


if __name__ == "__main__":
    if sys.argv[1:] != ["show"]:
        sys.exit("usage: lvslab.py show")
    sys.exit(show())
