# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for ansible-test's pip bootstrap script.

ansible-test bootstraps pip into each sanity virtualenv with a script it downloads from
a host that these machines cannot reach; it looks in its cache first. `make sanity`
puts this file there: it installs the pip bundled with Python (ensurepip), and
ansible-test then installs each test's pinned requirements from the package index.
"""
from __future__ import annotations

import subprocess
import sys

sys.exit(subprocess.call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"]))
