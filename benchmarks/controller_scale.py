# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the controller's cost on generated LVS inventories of many real servers, beside
Ansible's own floor over the same inventory, side by side in one run.

    make bench-controller   (or: python3 benchmarks/controller_scale.py [--sizes 10,100,...] [--runs N])

Each inventory has two directors and N real servers spread over up to 50 services of one
VIP, with addresses from 198.18.0.0/15 (RFC 2544's benchmarking range). No host is ever
contacted: every figure is a playbook that runs on the controller alone.
  floor     an empty play over every host (connection local): loading the inventory
  validate  playbooks/validate.yml
  deploy    the controller side of site.yml: the model check, the plan and the sort of the
            hosts into role groups (site.yml with no kind selected, so no role play has hosts)
  render    playbooks/render.yml (only at --render-sizes: it writes every host's files)
Prints each figure's median wall time, its ratio to the floor's median, and the peak memory
(RSS) of the largest process of the run.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
NETWORK = ipaddress.ip_network("198.18.0.0/15")
VIP = NETWORK[1]
MAX_SERVICES = 50
# The peak RSS (KiB) of the child's largest descendant, from the child's own rusage.
RUSAGE = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
          "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)")


def inventory(realservers: int) -> Dict[str, object]:
    """Two directors, N real servers, one VIP with min(50, N) services in round robin."""
    def address(index: int) -> str:
        return str(NETWORK[10 + index])

    names = [f"rs{index}" for index in range(realservers)]
    services = [{"name": f"svc{index}", "vip": str(VIP), "protocol": "tcp", "port": 8000 + index,
                 "scheduler": "wlc", "forwarding": "dr",
                 "realservers": [{"host": name} for name in names[index::min(MAX_SERVICES, realservers)]]}
                for index in range(min(MAX_SERVICES, realservers))]
    return {"all": {
        "vars": {"lvsha_public_interface": "eth1", "lvsha_private_interface": "eth2",
                 "lvsha_lvs_vips": [{"address": str(VIP), "prefix": NETWORK.prefixlen}],
                 "lvsha_lvs_services": services},
        "children": {
            "directors": {
                "vars": {"lvsha_cluster": {"name": "web", "kind": "lvs", "realservers": "realservers"}},
                "hosts": {f"lb{n}": {"lvsha_public_address": address(n - 3),
                                     "lvsha_private_address": f"203.0.113.{10 + n}"} for n in (1, 2)}},
            "realservers": {"hosts": {name: {"lvsha_public_address": address(index)}
                                      for index, name in enumerate(names)}},
        }}}


def timed(argv: List[str], env: Dict[str, str]) -> Tuple[float, int]:
    """Wall time (s) and peak RSS (MiB) of one playbook run; a failed run stops the benchmark."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", RUSAGE] + argv, env=env, cwd=REPO, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    took = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return took, int(proc.stderr.strip().splitlines()[-1]) // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="10,100,500,2000,10000", help="real servers per inventory")
    parser.add_argument("--render-sizes", default="10,100,2000", help="the sizes at which render.yml is timed too")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    render_sizes = {int(size) for size in args.render_sizes.split(",") if size}
    work = Path(tempfile.mkdtemp(prefix="lvsha-bench-controller-"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_HOST_KEY_CHECKING="False")
    try:
        floor = work / "floor.yml"
        floor.write_text("- hosts: all\n  gather_facts: false\n  connection: local\n  tasks: []\n")
        deploy = work / "deploy.yml"
        deploy.write_text(f"- ansible.builtin.import_playbook: {REPO}/playbooks/site.yml\n"
                          "  vars:\n    lvsha_site_kinds: []\n")
        print(f"{'real servers':>12} {'figure':>9} {'median s':>9} {'x floor':>8} {'peak MiB':>9}  runs (s)", flush=True)
        for size in sizes:
            hosts = work / f"hosts-{size}.json"
            hosts.write_text(json.dumps(inventory(size)))
            figures = {"floor": [str(floor)], "validate": [str(REPO / "playbooks" / "validate.yml")],
                       "deploy": [str(deploy)]}
            if size in render_sizes:
                figures["render"] = [str(REPO / "playbooks" / "render.yml"), "-e", f"render_dir={work / 'rendered'}"]
            times: Dict[str, List[float]] = {name: [] for name in figures}
            peak: Dict[str, int] = {name: 0 for name in figures}
            for _run in range(args.runs):
                # The figures in turn within each run, so that all see the same machine load.
                for name, argv in figures.items():
                    took, rss = timed(["ansible-playbook", "-i", str(hosts)] + argv, env)
                    times[name].append(took)
                    peak[name] = max(peak[name], rss)
            base = statistics.median(times["floor"])
            for name, runs in times.items():
                median = statistics.median(runs)
                print(f"{size:>12} {name:>9} {median:>9.1f} {median / base:>8.1f} {peak[name]:>9}  "
                      + ", ".join(f"{t:.1f}" for t in runs), flush=True)
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
