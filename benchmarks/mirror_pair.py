# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the gap a client sees when the mirror primary dies and returns, and the time a
standby's pull takes for 10,000 small files with nothing and with 1 % changed.

    make bench-mirror        (or: python3 benchmarks/mirror_pair.py [--runs N] [--pulls N])

Needs the mirror lab up with playbooks/mirror.yml converged. For each run the client guest
asks the floating address for /node.txt every 0.1 s (tests/lab/mirrorlab.py); mr1 is powered
off (``labctl kill``) and the longest time between two answers is the failover gap; 20 files
are written on mr2, mr1 is booted again and takes the service back after pulling them
(auto_failback), and the longest time in that phase is the failback gap; mr1 must then hold
every file mr2 wrote.

Then 10,000 files of 1 KiB are written on the serving node; the standby's timer is stopped
and ``lvsha mirror pull`` is run on it directly: once for the first copy, then --pulls times
with nothing changed and --pulls times after 100 of the files (1 %) were rewritten. The
figure is the pull's own duration as it records it (reading the peer's state and the rsync
of every module), taken in the same run so that ratios compare like with like.
Prints every run and the medians.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))
import lvslab  # noqa: E402
import mirrorlab as lab  # noqa: E402

FILES = 10000
BENCH_DIR = f"{lab.ROOT}/bench-10k"


def gap_around(event, until: str) -> tuple[float, int, str, str]:
    probe = lab.NodeProbe()
    probe.start()
    try:
        event()
        lvslab.wait_for(f"{until} to answer", lambda: probe.answered_by() == until, 600, step=1)
    finally:
        samples = probe.stop()
    return lab.outage(samples)


def one_run(index: int) -> tuple[float, float]:
    lvslab.wait_for("mr1 to serve", lambda: lab.serves("mr1"), 300, step=2, seen=lab.pair_report)
    lab.name_nodes()
    over, failed, before, after = gap_around(lambda: lvslab.labctl("kill", "mr1"), "mr2")
    if (before, after) != ("mr1", "mr2"):
        raise RuntimeError(f"run {index}: the failover went {before} -> {after}")
    lab.write_files("mr2", f"bench-outage-{index}", 20)
    written = lab.tree("mr2")
    back, failed_back, before, after = gap_around(lambda: lvslab.labctl("start", "mr1", timeout=600), "mr1")
    if (before, after) != ("mr2", "mr1"):
        raise RuntimeError(f"run {index}: the failback went {before} -> {after}")
    if lab.tree("mr1") != written:
        raise RuntimeError(f"run {index}: mr1 serves without some of what mr2 wrote during the outage")
    print(f"run {index}: failover gap {over:6.2f} s ({failed} failed requests), failback gap {back:6.2f} s "
          f"({failed_back} failed requests); mr1 held all {len(written)} files of mr2", flush=True)
    return over, back


def pull_seconds(standby: str) -> tuple[float, int]:
    result = json.loads(lvslab.ssh(standby, "/usr/local/sbin/lvsha mirror pull"))
    if result["result"] != "ok":
        raise RuntimeError(f"the pull on {standby} did not run: {result}")
    return result["duration"], result["files_transferred"]


def pulls(count: int) -> tuple[float, list[float], list[float]]:
    serving = next(node for node in lab.NODES if lab.serves(node))
    standby = next(node for node in lab.NODES if node != serving)
    # The timer held back first, so that the first copy below copies all the files.
    lvslab.ssh(standby, "systemctl stop lvsha-mirror-pull.timer; "
                        "while systemctl is-active -q lvsha-mirror-pull.service; do sleep 0.5; done")
    try:
        lvslab.ssh(serving, f"rm -rf {BENCH_DIR} && mkdir -p {BENCH_DIR} && python3 -c '"
                            f"import os\nfor i in range({FILES}): open(\"{BENCH_DIR}/f%05d\" % i, \"wb\").write(os.urandom(1024))'")
        first, copied = pull_seconds(standby)
        if copied != FILES:
            raise RuntimeError(f"the first copy took {copied} files, not {FILES}")
        print(f"first copy: {copied} files in {first:.2f} s", flush=True)
        unchanged, changed = [], []
        for index in range(count):
            seconds, files = pull_seconds(standby)
            unchanged.append(seconds)
            lvslab.ssh(serving, f"python3 -c 'import os\nfor i in range({index}, {FILES}, {FILES // 100}): "
                                f"open(\"{BENCH_DIR}/f%05d\" % i, \"wb\").write(os.urandom(1024))'")
            seconds_changed, files_changed = pull_seconds(standby)
            changed.append(seconds_changed)
            print(f"pull {index + 1}: nothing changed {seconds:.2f} s ({files} files), "
                  f"1 % changed {seconds_changed:.2f} s ({files_changed} files)", flush=True)
    finally:
        lvslab.ssh(serving, f"rm -rf {BENCH_DIR}")
        lvslab.ssh(standby, "systemctl start lvsha-mirror-pull.timer")
    return first, unchanged, changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3, help="failover and failback runs")
    parser.add_argument("--pulls", type=int, default=5, help="pulls of 10,000 files, each case")
    args = parser.parse_args()
    results = [one_run(i + 1) for i in range(args.runs)]
    if results:
        print(f"median of {len(results)}: failover gap {lvslab.median([r[0] for r in results]):.2f} s, "
              f"failback gap {lvslab.median([r[1] for r in results]):.2f} s (longest time between two answers, "
              "one request every 0.1 s)")
    if args.pulls:
        first, unchanged, changed = pulls(args.pulls)
        still, some = lvslab.median(unchanged), lvslab.median(changed)
        print(f"median of {args.pulls}: pull of {FILES} files with nothing changed {still:.2f} s, with 1 % changed "
              f"{some:.2f} s; the first copy took {first:.2f} s (ratios {still / first:.2f} and {some / first:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
