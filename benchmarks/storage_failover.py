# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the write stall an NFS client sees when the storage primary dies and returns,
and the full resynchronisation rate.

    make bench-storage        (or: python3 benchmarks/storage_failover.py [--runs N])

Needs the storage lab up with playbooks/storage.yml converged. For each run: the client guest
writes and fsyncs a 16 KiB file every 200 ms into the export, mounted from the floating
address (tests/lab/nfs_probe.py, hard NFSv4.2 mount); nas1 is powered off (``labctl kill``)
and the longest time between two completed writes is the failover stall; nas1 is booted
again, resynchronised and given the volume back (auto_failback), and the longest time in
that phase is the failback stall. Every file written is read back and its checksum compared.
Then the secondary's copy is invalidated (its resync paused while the amount out of sync is
read) and the full resynchronisation timed, --resyncs times.
Prints every run and the medians.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))
import lvslab  # noqa: E402
import storagelab as lab  # noqa: E402

RES = lab.RESOURCE["name"]


def stall_around(subdir: str, event, served) -> tuple[float, int, float]:
    """The client's longest write stall around ``event``, the files written, the wait for ``served``."""
    samples, waited = lab.write_through(subdir, event, served)
    stall, _failed = lvslab.longest_gap(samples)
    if lvslab.span(samples) < waited:
        raise RuntimeError(f"{subdir}: the writer stopped logging")
    if lab.read_back(subdir) != lab.written_files(samples):
        raise RuntimeError(f"{subdir}: a file read back differs from what was written")
    return stall, len(samples), waited


def one_run(index: int) -> tuple[float, float]:
    lvslab.wait_for("nas1 to serve", lambda: lab.serves("nas1"), 300, step=2, seen=lab.pair_report)
    over, files, took = stall_around(f"bench-{index}-over", lambda: lvslab.labctl("kill", "nas1"),
                                     lambda: lab.serves("nas2"))
    back, files_back, gave = stall_around(f"bench-{index}-back", lambda: lvslab.labctl("start", "nas1"),
                                          lambda: lab.serves("nas1"))
    lvslab.wait_for("the resync", lambda: lab.drbd("nas1")["dstate"] == "UpToDate/UpToDate", 300, step=2)
    print(f"run {index}: failover stall {over:6.2f} s (nas2 served {took:.1f} s after the power cut), "
          f"failback stall {back:6.2f} s (nas1 served {gave:.1f} s after its boot began); "
          f"{files + files_back} files written and read back intact", flush=True)
    return over, back


def full_resync(index: int) -> float:
    # Invalidate and pause in one step, read what is out of sync, then time the resync alone.
    lvslab.ssh("nas2", f"drbdadm invalidate {RES} && drbdadm pause-sync {RES}")
    oos = int(re.search(r"\boos:(\d+)", lvslab.ssh("nas1", "cat /proc/drbd")).group(1))
    started = time.monotonic()
    lvslab.ssh("nas2", f"drbdadm resume-sync {RES}")
    lvslab.wait_for("the full resync", lambda: lab.drbd("nas2")["dstate"] == "UpToDate/UpToDate", 900, step=0.5)
    seconds = time.monotonic() - started
    rate = oos / 1024 / seconds
    print(f"resync {index}: {oos / 1024:.0f} MiB in {seconds:.1f} s = {rate:.1f} MiB/s", flush=True)
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3, help="failover and failback runs")
    parser.add_argument("--resyncs", type=int, default=3, help="full resynchronisations")
    args = parser.parse_args()
    lab.mount_export()
    results = [one_run(i + 1) for i in range(args.runs)]
    rates = [full_resync(i + 1) for i in range(args.resyncs)]
    if results:
        print(f"median of {len(results)}: failover stall {lvslab.median([r[0] for r in results]):.2f} s, "
              f"failback stall {lvslab.median([r[1] for r in results]):.2f} s (longest time between two "
              "completed writes, one every 0.2 s)")
    if rates:
        print(f"median of {len(rates)}: full resync {lvslab.median(rates):.1f} MiB/s "
              f"(resync-rate {lab.RESOURCE['resync_rate']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
