# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: one converged playbook run (changed=0) through Ansible's own ssh connection and
through Mitogen for Ansible, the lab's two transports (Makefile LAB_ENV).

    make bench-transport     (or: python3 benchmarks/lab_transport.py [--example storage] [--runs N])

Needs the example's lab up and converged (for example `make demo-storage`). Each run takes the
two transports in turn, so that both see the same machine load; the figure is the wall time
of ansible-playbook from start to exit. Prints every run, the medians and their ratio. A run
that changes anything, or fails, stops the benchmark with its output tail.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))
import lvslab  # noqa: E402


def timed_run(example: str, plain: bool) -> float:
    started = time.monotonic()
    proc = lvslab.playbook(example, example, None, plain=plain)
    took = time.monotonic() - started
    changed = lvslab.changed(proc)
    if proc.returncode != 0 or any(changed.values()):
        raise RuntimeError(f"the run was not a converged one (rc {proc.returncode}, changed {changed})")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--example", default="storage", choices=["lvs", "storage", "mirror"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if os.environ.get("ANSIBLE_STRATEGY") != "mitogen_linear":
        parser.error("run it through the Makefile (make bench-transport), which sets the lab's Mitogen environment")
    plain, mitogen = [], []
    for index in range(1, args.runs + 1):
        plain.append(timed_run(args.example, plain=True))
        mitogen.append(timed_run(args.example, plain=False))
        print(f"run {index}: Ansible's ssh {plain[-1]:.1f} s, Mitogen {mitogen[-1]:.1f} s", flush=True)
    print(f"median of {args.runs} ({args.example}, changed=0): Ansible's ssh {statistics.median(plain):.1f} s, "
          f"Mitogen {statistics.median(mitogen):.1f} s, ratio {statistics.median(plain) / statistics.median(mitogen):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
