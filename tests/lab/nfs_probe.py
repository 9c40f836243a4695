# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client that writes a new file into DIR every INTERVAL seconds and logs it, until SIGTERM.

Runs inside the lab's NFS client guest, on an NFS mount. Each file is 16 KiB of random bytes,
written and fsync'ed; each line of OUT is ``<monotonic seconds> ok <file> <sha256>`` once the
file is safely on the server, or ``<monotonic seconds> fail <error>``. A hard mount blocks a
write while the server is away, so the outage shows as the gap between two ``ok`` lines.
SIGUSR1 writes a ``<monotonic seconds> mark`` line, as in http_probe.py.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    running = True
    marks = []

    def stop(_signum: int, _frame: object) -> None:
        nonlocal running
        running = False

    def mark(_signum: int, _frame: object) -> None:
        marks.append(time.monotonic())  # written by the loop, never from the handler

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGUSR1, mark)
    number = 0
    with open(args.out, "w", encoding="utf-8", buffering=1) as out:
        while running:
            while marks:
                out.write(f"{marks.pop(0):.3f} mark\n")
            started = time.monotonic()
            name = f"probe-{os.getpid()}-{number:06d}"
            data = os.urandom(args.size)
            try:
                with open(os.path.join(args.dir, name), "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                line = f"ok {name} {hashlib.sha256(data).hexdigest()}"
            except OSError as exc:
                line = f"fail {type(exc).__name__}"
            out.write(f"{time.monotonic():.3f} {line}\n")
            number += 1
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
