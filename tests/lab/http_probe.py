# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client that requests a URL every INTERVAL seconds and logs what it saw, until SIGTERM.

Runs inside the lab's client guest (one Python process, so the guest's slow process start-up
is paid once). Each line of OUT is ``<monotonic seconds> ok <body>`` or
``<monotonic seconds> fail <error>``; SIGUSR1 writes ``<monotonic seconds> mark`` so the
controller can split the log at moments it chose (its clock is not the guest's). The
controller reads the file to find the outage a client saw during a failover.
"""
from __future__ import annotations

import argparse
import http.client
import signal
import sys
import time
from urllib.parse import urlsplit


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--count", type=int, default=0, help="stop after this many requests (0: until SIGTERM)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    url = urlsplit(args.url)
    running = True

    def stop(_signum: int, _frame: object) -> None:
        nonlocal running
        running = False

    marks = []

    def mark(_signum: int, _frame: object) -> None:
        # Only note the time: writing from a handler can re-enter a write in progress.
        marks.append(time.monotonic())

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGUSR1, mark)
    done = 0
    with open(args.out, "w", encoding="utf-8", buffering=1) as out:
        while running and (args.count == 0 or done < args.count):
            while marks:
                out.write(f"{marks.pop(0):.3f} mark\n")
            started = time.monotonic()
            try:
                # A new connection each time, as a browser's next click would make.
                conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=args.timeout)
                conn.request("GET", url.path or "/")
                response = conn.getresponse()
                body = response.read().decode("utf-8", "replace").strip()
                conn.close()
                line = f"ok {body}" if response.status == 200 else f"fail http-{response.status}"
            except (OSError, http.client.HTTPException) as exc:
                line = f"fail {type(exc).__name__}"
            out.write(f"{started:.3f} {line}\n")
            done += 1
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
