# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: reconciling IPVS tables with lvsha.cluster.ipvs in a real guest kernel.

    make bench-ipvs            (or: python3 benchmarks/ipvs_reconcile.py [--runs N])

Boots the ``lvs`` lab (warm), obtains the module's AnsiballZ payload on lb1 exactly as
Ansible ships it, and times in lb1, side by side in one run:
  (a) one ``ipvsadm -R`` of the full table (the floor),
  (b) the module process applying the full table to an empty kernel table,
  (c) one ``ipvsadm`` call per rule, as the field guides' scripts do,
  (d) the module on an unchanged table (no-op),
  (e) 100 changes into the largest table, against 100 changes into an empty one;
and, from the controller at 100 entries, one Ansible task per rule via ``loop:``.
Prints medians and ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABCTL = REPO / "tests" / "lab" / "labctl"
INVENTORY = REPO / "inventories" / "lab" / "hosts.yml"
HOST = "lb1"
GUEST_DIR = "/root/bench-ipvs"


def sh(*argv: str, stdin: str | None = None, env: dict | None = None) -> str:
    return subprocess.run(list(argv), input=stdin, text=True, capture_output=True, check=True,
                          env={**os.environ, **(env or {})}).stdout


def on_guest(command: str, stdin: str | None = None) -> str:
    return sh(str(LABCTL), "ssh", HOST, "--", command, stdin=stdin)


def fetch_payload() -> str:
    """Run the module once through Ansible, keeping the payload it left on the guest."""
    on_guest(f"rm -rf {GUEST_DIR} && mkdir -p {GUEST_DIR}/tmp")
    sh("ansible", HOST, "-i", str(INVENTORY), "-m", "lvsha.cluster.ipvs", "-a", '{"services": []}',
       env={"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_PIPELINING": "0",
            "ANSIBLE_REMOTE_TMP": f"{GUEST_DIR}/tmp"})
    payload = on_guest(f"ls {GUEST_DIR}/tmp/*/AnsiballZ_ipvs.py").split()[0]
    on_guest(f"python3 {payload} explode >/dev/null")
    return payload


def ansible_loop_per_rule(runs: int) -> list[float]:
    """At 100 entries: one Ansible task per rule via loop, as a playbook written by hand would."""
    rules = ["-A -t 203.0.113.2:80 -s wrr"] + [f"-a -t 203.0.113.2:80 -r 198.51.100.{i}:8080 -m -w 1"
                                               for i in range(1, 100)]
    play = [{
        "name": "One task per ipvsadm rule", "hosts": HOST, "gather_facts": False,
        "tasks": [
            {"name": "Clear the benchmark table", "ansible.builtin.command": {"argv": ["ipvsadm", "-C"]},
             "changed_when": True},
            {"name": "Add one rule", "ansible.builtin.command": {"argv": "{{ ['ipvsadm'] + item.split() }}"},
             "loop": rules, "changed_when": True},
            {"name": "Clear again", "ansible.builtin.command": {"argv": ["ipvsadm", "-C"]}, "changed_when": True},
        ],
    }]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        json.dump(play, fh)
    times = []
    try:
        for _run in range(runs):
            start = time.perf_counter()
            sh("ansible-playbook", "-i", str(INVENTORY), fh.name)
            times.append(time.perf_counter() - start)
    finally:
        os.unlink(fh.name)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--runs", type=int, default=5, help="runs of (a), (b), (d), (e) (default 5)")
    parser.add_argument("--per-rule-runs", type=int, default=3, help="runs of (c) (default 3)")
    parser.add_argument("--loop-runs", type=int, default=3, help="runs of the Ansible loop at 100 (default 3)")
    args = parser.parse_args()

    subprocess.run([str(LABCTL), "up", "lvs"], check=True)
    payload = fetch_payload()
    on_guest(f"cat > {GUEST_DIR}/guest.py", stdin=(REPO / "benchmarks" / "ipvs_reconcile_guest.py").read_text())
    started = time.perf_counter()
    raw = json.loads(on_guest(f"python3 {GUEST_DIR}/guest.py --payload {payload} --sizes {args.sizes} "
                              f"--runs {args.runs} --per-rule-runs {args.per_rule_runs}"))
    loop = ansible_loop_per_rule(args.loop_runs) if args.loop_runs else []
    med = {name: statistics.median(values) for name, values in raw["samples"].items()}
    sizes = [int(s) for s in args.sizes.split(",")]
    big = max(sizes)

    print(f"\nIPVS reconcile benchmark - guest kernel {raw['kernel']}, medians "
          f"({args.runs} runs; per-rule {args.per_rule_runs}; loop {args.loop_runs}), "
          f"{time.perf_counter() - started:.0f} s")
    print(f"{'entries':>8} {'(a) -R':>9} {'(b) module':>11} {'(c) per-rule':>13} {'(d) no-op':>10}"
          f" {'b/a':>6} {'c/a':>7} {'d/a':>6}")
    for size in sizes:
        a, b, c, d = (med.get(f"{k}/{size}") for k in ("a_restore", "b_module_full", "c_per_rule", "d_module_noop"))
        print(f"{size:>8} {a:>8.3f}s {b:>10.3f}s {c:>12.3f}s {d:>9.3f}s {b / a:>6.2f} {c / a:>7.1f} {d / a:>6.2f}")
    if loop:
        loop_med = statistics.median(loop)
        print(f"     100   Ansible loop, one task per rule: {loop_med:.1f} s "
              f"= {loop_med / med['b_module_full/100']:.0f}x the module (b)")
    e_big, e_empty = med[f"e_100_into/{big}"], med["e_100_into/0"]
    print(f"(e) 100 changes into {big} entries: {e_big:.3f} s; into an empty table: {e_empty:.3f} s; "
          f"ratio {e_big / e_empty:.2f}")
    print(f"peak RSS of (b) at {big}: {raw['peak_rss_kib'][f'b_module_full/{big}'] / 1024:.1f} MiB")
    print(f"targets: (b)/(a) <= 1.5 at {big}: {med[f'b_module_full/{big}'] / med[f'a_restore/{big}']:.2f}; "
          f"(d) <= (a) at {big}: {med[f'd_module_noop/{big}']:.3f} vs {med[f'a_restore/{big}']:.3f}; "
          f"(e) ratio <= 2: {e_big / e_empty:.2f}")
    print(json.dumps({"medians": med, "loop_100": loop, "raw": raw}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
