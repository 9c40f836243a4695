# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest side of benchmarks/ipvs_reconcile.py: times IPVS table loads in a real kernel.

Runs as root inside a lab director guest, next to an exploded AnsiballZ payload of
lvsha.cluster.ipvs (``AnsiballZ_ipvs.py explode``), and prints one JSON document.
Every case is measured in the same run, alternating, so that a noisy host affects
all cases alike; the driver on the controller reports medians and ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

VIP_NET = "203.0.113"
RS_NET = "198.51.100"
PER_SERVICE = 100


def table(entries: int, port_base: int = 1000) -> list[dict]:
    """`entries` real-server entries: services of 100 real servers each."""
    services = []
    for index in range((entries + PER_SERVICE - 1) // PER_SERVICE):
        count = min(PER_SERVICE, entries - index * PER_SERVICE)
        services.append({
            "protocol": "tcp", "address": f"{VIP_NET}.1", "port": port_base + index, "scheduler": "wrr",
            "realservers": [{"address": f"{RS_NET}.{rs + 1}", "port": 8080, "forwarding": "nat", "weight": 1}
                            for rs in range(count)],
        })
    return services


def rules(services: list[dict]) -> list[str]:
    lines = []
    for svc in services:
        vip = f"{svc['address']}:{svc['port']}"
        lines.append(f"-A -t {vip} -s {svc['scheduler']}")
        lines += [f"-a -t {vip} -r {rs['address']}:{rs['port']} -m -w {rs['weight']}" for rs in svc["realservers"]]
    return lines


def clear() -> None:
    # The benchmark owns this guest's table; the module itself never flushes.
    subprocess.run(["ipvsadm", "-C"], check=True)


def timed(argv: list[str], stdin: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


class Module:
    """Runs the exploded module payload the way Ansible runs it on a host."""

    def __init__(self, payload: str) -> None:
        self.payload = payload
        self.args_path = os.path.join(os.path.dirname(payload), "debug_dir", "args")
        with open(self.args_path, encoding="utf-8") as fh:
            self.template = json.load(fh)

    def run(self, services: list[dict], purge: bool = False) -> tuple[float, int, dict]:
        args = json.loads(json.dumps(self.template))
        args["ANSIBLE_MODULE_ARGS"].update({"services": services, "purge": purge})
        with open(self.args_path, "w", encoding="utf-8") as fh:
            json.dump(args, fh)
        # A wrapper process reports the module process's peak RSS (its only child).
        probe = ("import resource, subprocess, sys, time\n"
                 "t = time.perf_counter()\n"
                 "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                 "t = time.perf_counter() - t\n"
                 "print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                 "print(p.stdout)\n")
        out = subprocess.run([sys.executable, "-c", probe, sys.executable, self.payload, "execute"],
                             capture_output=True, text=True, check=True).stdout
        head, _sep, body = out.partition("\n")
        seconds, rss_kib = head.split()
        result = json.loads(body)
        if result.get("failed"):
            raise SystemExit(f"module failed: {result.get('msg')}")
        return float(seconds), int(rss_kib), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payload", required=True, help="AnsiballZ_ipvs.py, already exploded")
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--per-rule-runs", type=int, default=3)
    args = parser.parse_args()
    module = Module(args.payload)
    sizes = [int(s) for s in args.sizes.split(",")]
    samples: dict[str, list[float]] = {}
    peak: dict[str, int] = {}

    def add(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    for run in range(args.runs):
        for size in sizes:
            services = table(size)
            restore = "\n".join(rules(services)) + "\n"
            with tempfile.NamedTemporaryFile("w", suffix=".rules", delete=False) as fh:
                fh.write(restore)
            clear()
            with open(fh.name, encoding="utf-8") as rules_file:
                start = time.perf_counter()
                subprocess.run(["ipvsadm", "-R"], stdin=rules_file, check=True)
                add(f"a_restore/{size}", time.perf_counter() - start)
            os.unlink(fh.name)

            clear()
            seconds, rss, result = module.run(services)
            assert result["changed"], "module on an empty table reported no change"
            add(f"b_module_full/{size}", seconds)
            peak[f"b_module_full/{size}"] = max(peak.get(f"b_module_full/{size}", 0), rss)

            seconds, rss, result = module.run(services)
            assert not result["changed"], "module on an unchanged table reported a change"
            add(f"d_module_noop/{size}", seconds)

            if run < args.per_rule_runs:
                clear()
                start = time.perf_counter()
                for line in rules(services):
                    subprocess.run(["ipvsadm", *line.split()], check=True)
                add(f"c_per_rule/{size}", time.perf_counter() - start)

        # (e) 100 changes (one new service of 100 real servers) into a full and an empty table.
        change = table(100, port_base=9000)
        big = table(max(sizes))
        clear()
        subprocess.run(["ipvsadm", "-R"], input="\n".join(rules(big)) + "\n", text=True, check=True)
        seconds, _rss, result = module.run(change)
        assert result["changed"]
        add(f"e_100_into/{max(sizes)}", seconds)
        clear()
        seconds, _rss, result = module.run(change)
        assert result["changed"]
        add("e_100_into/0", seconds)
    clear()
    json.dump({"samples": samples, "peak_rss_kib": peak, "kernel": os.uname().release}, sys.stdout)


if __name__ == "__main__":
    main()
