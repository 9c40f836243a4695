# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvsha command: one entry point for the code of lvsha.cluster on a host.

    lvsha arp ADDRESS IFACE  announce a floating address just taken (``lvsha arp --help``)
    lvsha ipvs VERB ...      the IPVS table of a director (``lvsha ipvs --help``)
    lvsha mirror VERB ...    a node of a mirror pair (``lvsha mirror --help``)
    lvsha watch VERB ...     the service of a storage or mirror pair (``lvsha watch --help``)
    lvsha --version          the version of this package (the collection's)

/usr/local/sbin/lvsha (the lvsha.cluster.host_package role's launcher) runs ``main`` in
isolated mode with /usr/local/lib/lvsha first in sys.path.
"""
from __future__ import annotations

# A command-line program: it prints (pylint's ansible-bad-function is for Ansible modules).
# pylint: disable=ansible-bad-function

import sys
from typing import List, Optional

from . import __version__

COMMANDS = ("arp", "ipvs", "mirror", "watch")
USAGE = "usage: lvsha {arp,ipvs,mirror,watch} ... | lvsha --version"


def main(argv: Optional[List[str]] = None) -> int:
    """``lvsha ARGV``; the exit status. Each command is imported only when it runs."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv in (["--version"], ["-V"]):
        print(__version__)
        return 0
    if argv in (["--help"], ["-h"]):
        print(USAGE + "\n\n" + (__doc__ or "").split("\n\n", 2)[1])
        return 0
    if not argv or argv[0] not in COMMANDS:
        wrong = f"unknown command {argv[0]!r}" if argv else "a command is required"
        print(f"{USAGE}\nlvsha: error: {wrong}", file=sys.stderr)
        return 2
    if argv[0] == "arp":
        from . import arp as command  # pylint: disable=import-outside-toplevel
    elif argv[0] == "ipvs":
        from . import ipvs as command  # type: ignore[no-redef]  # pylint: disable=import-outside-toplevel
    elif argv[0] == "mirror":
        from . import mirror as command  # type: ignore[no-redef]  # pylint: disable=import-outside-toplevel
    else:
        from . import watch as command  # type: ignore[no-redef]  # pylint: disable=import-outside-toplevel
    return command.main(argv[1:])
