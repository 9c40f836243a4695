"""Check the files that playbooks/render.yml wrote, with the daemons' own parsers.

usage: python3 check_rendered.py DIR [--require]

For every host directory DIR/HOST:
- each DRBD file (etc/drbd.d/*.conf, *.res): ``drbdadm-84 -c FILE dump all`` (the kernel's DRBD is 8.4);
- etc/mon/mon.cf: mon loads it with its scheduler stopped (no monitor runs, no alert is
  sent) on a loopback port, without a warning, and moncmd must list exactly the watches of
  the file;
- etc/rsyncd.conf: an rsync daemon loads it on a loopback port, and an rsync client asks it
  for the module list and for every module of the file. The modules are unlisted and admit
  the peer's address only, so the daemon must refuse the loopback client as a known module
  (its log tells "denied on module" from "unknown module");
- etc/lvsha/fwmark.nft: nft checks it (nft -c: nothing is loaded);
- etc/ha.d/ha.cf (with the node's authkeys and haresources): heartbeat's own parser loads
  them as the node named by the host directory would (check_heartbeat.sh, in namespaces of
  its own; as root, with heartbeat's packages unpacked in LVSHA_HEARTBEAT_ROOT, by default
  build/heartbeat-root, which `make setup` makes: heartbeat has no offline checker, and
  installing it would start it).

The checks run side by side (a daemon's start is mostly waiting); prints one line per check,
in the order of the files, and exits 1 when any check fails. A check whose tool is not
installed here (a controller that is not Debian, an execution environment) is reported as
skipped, with the tool it needs; with --require it fails instead.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# drbd-utils' parser for DRBD 8.4, the kernel's on Debian 12 and 13 (drbdadm parses DRBD 9's
# syntax where /proc/drbd does not say 8.4, as on a controller).
DRBDADM = "/usr/lib/drbd/drbdadm-84"
MON = "/usr/sbin/mon"
MONCMD = "/usr/bin/moncmd"
RSYNC = "/usr/bin/rsync"
NFT = "/usr/sbin/nft"
HERE = os.path.dirname(os.path.abspath(__file__))
HEARTBEAT_ROOT = os.environ.get("LVSHA_HEARTBEAT_ROOT", os.path.join(HERE, "..", "..", "build", "heartbeat-root"))
HEARTBEAT = "usr/libexec/heartbeat/heartbeat"
# What heartbeat -r says besides its verdict, on every run (the first two without a line end).
HEARTBEAT_NOISE = re.compile(r"heartbeat: (udpport|baudrate) setting must precede media statements|.*(Core dumps|"
                             r"core_pattern|core_uses_pid|Logging daemon is disabled|Pacemaker support).*")
START_TIMEOUT = 15.0
# Checks at once: each starts at most one daemon.
PARALLEL = 8
COMPLAINT = re.compile(r"Unknown Parameter|IGNORING|Badly formed|ERROR|error", re.I)
# What a daemon child logs when its client hangs up first (a refused client exits at once, and
# on a loaded machine before the child has finished): the connection's, not the file's.
HANG_UP = re.compile(r"error in rsync protocol data stream|connection unexpectedly closed|Broken pipe")


class CheckFailed(Exception):
    """A rendered file that its daemon does not accept."""


class ToolMissing(Exception):
    """The daemon's checker is not installed on this machine."""


def need(*tools):
    missing = [tool for tool in tools if not os.access(tool, os.X_OK)]
    if missing:
        raise ToolMissing(f"{', '.join(missing)} not installed here")


_PORTS_LOCK = threading.Lock()
_PORTS_GIVEN = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now, and that no other check of this
    run was given (the checks run side by side)."""
    with _PORTS_LOCK:
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            if port not in _PORTS_GIVEN:
                _PORTS_GIVEN.add(port)
                return port


def wait_listening(port, process, log):
    """Wait until a daemon we started accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"exited with {process.returncode}: {read(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise CheckFailed(f"not listening on 127.0.0.1:{port} after {START_TIMEOUT:.0f} s: {read(log)}")


def stop(process):
    """End a daemon this program started (by its own PID)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def read_lines(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read().splitlines()


def read(path):
    """The end of a daemon's output, on one line."""
    return " ".join(" ".join(read_lines(path)).split())[-600:]


def run(argv):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)


def check_drbd(path):
    need(DRBDADM)
    result = run([DRBDADM, "-c", path, "dump", "all"])
    if result.returncode != 0:
        raise CheckFailed(f"drbdadm dump exited with {result.returncode}: "
                          + " ".join(line for line in result.stderr.splitlines() if "modinfo" not in line))
    resources = re.findall(r"^resource (\S+) \{", result.stdout, re.M)
    return f"drbdadm dump: {', '.join(resources) or 'global and common sections'}"


def mon_watches(path):
    """(group, service) pairs that the file declares."""
    watches, group = set(), None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if match := re.match(r"watch\s+(\S+)", line):
                group = match.group(1)
            elif (match := re.match(r"\s+service\s+(\S+)", line)) and group:
                watches.add((group, match.group(1)))
    return watches


def check_mon(path):
    need(MON, MONCMD)
    with tempfile.TemporaryDirectory(prefix="lvsha-mon-") as scratch:
        port, trap_port, log = free_port(), free_port(), os.path.join(scratch, "out")
        for sub in ("log", "state"):
            os.mkdir(os.path.join(scratch, sub))
        with open(log, "w", encoding="utf-8") as out:
            process = subprocess.Popen(  # pylint: disable=consider-using-with
                [MON, "-S", "-c", path, "-p", str(port), "-t", str(trap_port), "-P", os.path.join(scratch, "pid"),
                 "-L", os.path.join(scratch, "log"), "-D", os.path.join(scratch, "state")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_listening(port, process, log)
            result = run([MONCMD, "-s", "127.0.0.1", "-p", str(port), "list", "watch"])
        finally:
            stop(process)
        # mon loads a watch without its hostgroup (monitoring the group's name as a host) and
        # only warns.
        warnings = [line for line in read_lines(log) if line.startswith("Warning")]
    if warnings:
        raise CheckFailed("mon warns: " + " ".join(warnings))
    loaded = {tuple(line.split()) for line in result.stdout.splitlines() if line and not line.startswith("220 ")}
    declared = mon_watches(path)
    if result.returncode != 0 or loaded != declared:
        raise CheckFailed(f"mon loaded watches {sorted(loaded)}, the file declares {sorted(declared)}")
    return f"mon loaded {len(loaded)} watch(es): {', '.join(' '.join(watch) for watch in sorted(loaded))}"


def rsync_modules(path):
    with open(path, encoding="utf-8") as handle:
        return re.findall(r"^\[([^\]]+)\]", handle.read(), re.M)


def check_rsync(path):
    need(RSYNC)
    modules = rsync_modules(path)
    with tempfile.TemporaryDirectory(prefix="lvsha-rsyncd-") as scratch:
        port, log = free_port(), os.path.join(scratch, "log")
        open(log, "w", encoding="utf-8").close()
        # The file unchanged; on the command line only where to listen, and a pid and log file
        # of this check's own (the file's pid file is the host's).
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [RSYNC, "--daemon", "--no-detach", f"--config={path}", "--address=127.0.0.1", f"--port={port}",
             "--dparam=pid file=" + os.path.join(scratch, "pid"), "--dparam=log file=" + log],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(port, process, log)
            listing = run([RSYNC, f"rsync://127.0.0.1:{port}/"])
            for module in modules:
                run([RSYNC, f"rsync://127.0.0.1:{port}/{module}/"])
            time.sleep(0.2)
            logged = "\n".join(read_lines(log))
        finally:
            stop(process)
    if listing.returncode != 0:
        raise CheckFailed(f"the module list request failed: {listing.stderr.strip()}")
    if listing.stdout.strip():
        raise CheckFailed(f"the daemon lists modules to any client: {listing.stdout.split()}")
    # rsync reads its file again for each connection and only logs what it ignores there.
    complaints = sorted({line.split("] ", 1)[-1] for line in logged.splitlines()
                         if COMPLAINT.search(line) and not HANG_UP.search(line)})
    if complaints:
        raise CheckFailed(f"the daemon complains about the file: {'; '.join(complaints)}")
    unknown = [module for module in modules if f"unknown module '{module}'" in logged]
    refused = [module for module in modules if f"denied on module {module} " in logged]
    if unknown or refused != modules:
        raise CheckFailed(f"modules {modules}: unknown to the daemon {unknown}, refused to loopback {refused}")
    return f"rsync daemon: modules {', '.join(modules)} known, unlisted, closed to 127.0.0.1"


def check_nft(path):
    need(NFT)
    if os.geteuid() != 0:
        raise ToolMissing("nft -c needs root")
    result = run([NFT, "-c", "-f", path])
    if result.returncode != 0:
        raise CheckFailed(f"nft -c exited with {result.returncode}: {' '.join(result.stderr.split())[-600:]}")
    with open(path, encoding="utf-8") as handle:
        marks = re.findall(r"meta mark set (\d+)", handle.read())
    return f"nft: table lvsha with {len(marks)} mark rule(s)"


def check_heartbeat(path):
    if os.geteuid() != 0:
        raise ToolMissing("heartbeat's check needs root (namespaces of its own)")
    need(os.path.join(HEARTBEAT_ROOT, HEARTBEAT), "/usr/bin/unshare")
    ha_d = os.path.dirname(path)
    node = os.path.basename(os.path.dirname(os.path.dirname(ha_d)))  # DIR/HOST/etc/ha.d/ha.cf
    result = run(["/usr/bin/unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--mount-proc",
                  "--kill-child", os.path.join(HERE, "check_heartbeat.sh"), HEARTBEAT_ROOT, ha_d, node])
    said = [line.split("]: ", 1)[-1] for line in HEARTBEAT_NOISE.sub("", result.stdout + result.stderr).splitlines()
            if line.strip()]
    if result.returncode != 0:
        raise CheckFailed(f"heartbeat -r exited with {result.returncode}: {' '.join(said)[-600:]}")
    return f"heartbeat accepts it as node {node}"


CHECKS = (
    (re.compile(r"etc/drbd\.d/[^/]+\.(conf|res)$"), check_drbd),
    (re.compile(r"etc/ha\.d/ha\.cf$"), check_heartbeat),
    (re.compile(r"etc/lvsha/fwmark\.nft$"), check_nft),
    (re.compile(r"etc/mon/mon\.cf$"), check_mon),
    (re.compile(r"etc/rsyncd\.conf$"), check_rsync),
)


def check_one(host, relative, check, path, require):
    """(line, failed) for one file."""
    try:
        return f"ok     {host} /{relative}: {check(path)}", False
    except ToolMissing as error:
        return f"{'FAILED' if require else 'skipped'} {host} /{relative}: {error}", require
    except (CheckFailed, OSError, subprocess.SubprocessError) as error:
        return f"FAILED {host} /{relative}: {error}", True


def check_tree(root, require=False):
    """Check every host directory under root; returns (lines, failures). A check whose tool is
    missing is skipped, or with ``require`` failed."""
    jobs = []
    for host in sorted(os.listdir(root)):
        host_dir = os.path.join(root, host)
        if not os.path.isdir(host_dir):
            continue
        for base, _dirs, files in sorted(os.walk(host_dir)):
            for name in sorted(files):
                path = os.path.join(base, name)
                relative = os.path.relpath(path, host_dir)
                jobs += [(host, relative, check, path, require) for pattern, check in CHECKS if pattern.search(relative)]
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = list(pool.map(lambda job: check_one(*job), jobs))
    return [line for line, _failed in results], sum(failed for _line, failed in results)


def main(argv):
    require = argv[2:] == ["--require"]
    if len(argv) != (3 if require else 2) or not os.path.isdir(argv[1]):
        sys.stderr.write(__doc__)
        return 2
    lines, failures = check_tree(argv[1], require)
    print("\n".join(lines) if lines else "no file to check")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
