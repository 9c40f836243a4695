# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the outage a client sees when the active LVS director dies and when it returns.

    make bench-failover        (or: python3 benchmarks/lvs_failover.py [--runs N])

Needs the lvs lab up with playbooks/lvs.yml converged (``make demo`` leaves it so). For each
run: the client guest requests the VIP every 100 ms (tests/lab/http_probe.py); lb1 is
powered off (``labctl kill``) and the longest gap between two answered requests is the
failover outage; lb1 is booted again, heartbeat gives the VIP back (auto_failback) and the
longest gap in that phase is the failback outage. Prints every run, the medians and the
heartbeat timings in force.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))
import lvslab  # noqa: E402


def one_run(index: int) -> tuple[float, int, float, int]:
    lvslab.wait_for("lb1 to hold the VIP", lambda: lvslab.holds_vip("lb1"), timeout=180, seen=lvslab.directors_report)
    probe = lvslab.Probe()
    probe.start()
    time.sleep(2)
    probe.mark()
    lvslab.labctl("kill", "lb1")
    took_over = lvslab.wait_for("lb2 to take the VIP", lambda: lvslab.holds_vip("lb2"), timeout=120, seen=lvslab.directors_report)
    lvslab.wait_for("the client to be served again", probe.answering, timeout=120)
    time.sleep(2)
    probe.mark()
    lvslab.labctl("start", "lb1")
    gave_back = lvslab.wait_for("lb1 to take the VIP back", lambda: lvslab.holds_vip("lb1"), timeout=300, seen=lvslab.directors_report)
    lvslab.wait_for("the client to be served again", probe.answering, timeout=120)
    time.sleep(3)
    samples = probe.stop()
    for which, waited, name in ((0, took_over, "failover"), (1, gave_back, "failback")):
        if lvslab.span(lvslab.after_mark(samples, which)) < waited:
            raise RuntimeError(f"run {index}: the probe stopped logging during the {name}")
    # Through the director the answers come from several real servers; from one host only, the
    # client is not going through the director and the failover gap below means nothing.
    print(f"run {index}: before the power cut answered by {lvslab.responders(lvslab.before_mark(samples, 0))}")
    over, over_failed = lvslab.longest_gap(lvslab.after_mark(samples, 0))
    back, back_failed = lvslab.longest_gap(lvslab.after_mark(samples, 1))
    print(f"run {index}: failover {over:6.2f} s ({over_failed} failed requests), "
          f"failback {back:6.2f} s ({back_failed} failed requests)", flush=True)
    return over, over_failed, back, back_failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    timings = lvslab.ssh("lb1", "grep -E '^(keepalive|warntime|deadtime|initdead|auto_failback)' /etc/ha.d/ha.cf")
    print("heartbeat: " + ", ".join(timings.split("\n")).strip(", "))
    results = [one_run(i + 1) for i in range(args.runs)]
    print(f"median of {args.runs}: failover {lvslab.median([r[0] for r in results]):.2f} s, "
          f"failback {lvslab.median([r[2] for r in results]):.2f} s "
          "(longest time between two answered requests, client polling every 0.1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
