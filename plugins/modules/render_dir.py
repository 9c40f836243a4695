#!/usr/bin/python
# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: render_dir
short_description: Internal - make the directory of playbooks/render.yml ready, safely on a shared machine
version_added: 0.1.0
description:
  - Internal to the collection. The first step of C(playbooks/render.yml) (C(tasks/render_dir.yml)), run once
    on the controller. Resolves O(path) once and returns it; the render tasks write only below it
    (M(lvsha.cluster.render_host)).
  - Writes only into a directory that it created itself (0700), or one that the user running it owns, that
    others cannot write to, and that is empty or holds an earlier rendering (the marker C(.lvsha-render)),
    whose contents it then removes. The directory itself is never removed and made again, so that nobody
    can put a symlink in its place in between.
  - Follows no symlink it did not create. O(path) itself must not be a symlink; a directory above it may be
    one only when root or the user running it owns the link, and a directory above it that others may write
    to must be sticky (as C(/tmp) is), so that nobody else can rename or replace what lies in it.
author:
  - lvsha.cluster contributors (@lvsha)
extends_documentation_fragment:
  - lvsha.cluster.attributes
attributes:
  check_mode:
    support: full
    details: Checks O(path) and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Reports V(changed=true) whenever it created the directory or emptied an earlier rendering.
options:
  path:
    description: The directory that receives one subdirectory per host (C(-e render_dir=DIR)); a relative one is
      taken from the current directory.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Make render_dir ready
  lvsha.cluster.render_dir:
    path: "{{ render_dir }}"
  register: render__dir
"""

RETURN = r"""
path:
  description: The directory, resolved once; the render tasks write below it.
  returned: always
  type: str
"""
