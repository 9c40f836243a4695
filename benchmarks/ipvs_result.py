# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the ipvs module's own cost around ipvsadm on a large unchanged table, with the
whole table in its result (return_table: always) and without it (the default above 1,000
entries), side by side in one run.

    python3 benchmarks/ipvs_result.py [--services 50] [--realservers 1000] [--runs 3] [--before CHECKOUT]

--before times a third case: the module of another checkout of the collection (its
build/collections set up by make setup), given the services only, as modules before
return_table were called.

The module runs as Ansible runs it on a host (its own Python process, arguments from a
file), here on the controller, against a stand-in ipvsadm that prints a saved table in
ipvsadm's own format (the unit tests' recordings give the format): what is timed is the
module's Python work (start, parse, diff, result), not the kernel's; make bench-ipvs times
the module in a guest kernel. Prints each run, the medians and their ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[1]


def table(services: int, realservers: int) -> List[Dict[str, Any]]:
    return [{"protocol": "tcp", "address": "192.0.2.100", "port": 1000 + s, "scheduler": "wlc",
             "realservers": [{"address": f"198.18.{r // 250}.{r % 250 + 1}", "weight": 1} for r in range(realservers)]}
            for s in range(services)]


def save_text(services: List[Dict[str, Any]]) -> str:
    lines = []
    for svc in services:
        vip = f"{svc['address']}:{svc['port']}"
        lines.append(f"-A -t {vip} -s {svc['scheduler']}")
        lines.extend(f"-a -t {vip} -r {rs['address']}:{svc['port']} -g -w {rs['weight']}" for rs in svc["realservers"])
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--realservers", type=int, default=1000, help="per service")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout whose module to time beside")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lvsha-bench-ipvs-result-"))
    try:
        services = table(args.services, args.realservers)
        (work / "save.txt").write_text(save_text(services))
        # The thresholds listing: none set, so an empty table's header is enough for the merge.
        (work / "thresholds.txt").write_text("IP Virtual Server version 1.2.1 (size=4096)\n")
        fake = work / "ipvsadm"
        fake.write_text(f"#!/bin/sh\ncase \"$*\" in\n  -Sn) exec cat {work}/save.txt ;;\n"
                        f"  *) exec cat {work}/thresholds.txt ;;\nesac\n")
        fake.chmod(0o755)
        timings: Dict[str, List[float]] = {"always": [], "auto": []}
        cases = {mode: (REPO, {"services": services, "return_table": mode}) for mode in timings}
        if args.before:
            timings["before"] = []
            cases["before"] = (args.before.resolve(), {"services": services})
        for mode, (_checkout, params) in cases.items():
            (work / f"{mode}.json").write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
        entries = args.services * (1 + args.realservers)
        for run in range(1, args.runs + 1):
            for mode, runs in timings.items():
                checkout = cases[mode][0]
                env = dict(os.environ, PATH=f"{work}:{os.environ['PATH']}", PYTHONPATH=str(checkout / "build" / "collections"))
                started = time.monotonic()
                proc = subprocess.run([sys.executable, str(checkout / "plugins" / "modules" / "ipvs.py"),
                                       str(work / f"{mode}.json")], env=env, capture_output=True, text=True, check=False)
                runs.append(time.monotonic() - started)
                result = json.loads(proc.stdout)
                if result.get("failed") or result.get("changed"):
                    raise RuntimeError(f"the module did not find the table unchanged: {proc.stdout[-2000:]}")
            print(f"run {run}: " + ", ".join(f"{mode} {runs[-1]:.2f} s" for mode, runs in timings.items()), flush=True)
        without = statistics.median(timings["auto"])
        print(f"median of {args.runs} at {entries} entries (auto: no table in the result, always: the whole table"
              f"{', before: the other checkout' if args.before else ''}):")
        for mode, runs in timings.items():
            print(f"  {mode:>7} {statistics.median(runs):.2f} s, {statistics.median(runs) / without:.1f}x auto")
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
