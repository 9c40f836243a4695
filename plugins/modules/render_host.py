#!/usr/bin/python
# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: render_host
short_description: Internal - the declared files of every role the plan gives a host, written on the controller in one task
version_added: 0.1.0
description:
  - Internal to the collection. The rendering step of C(playbooks/render.yml), one task for all of a host's
    files (a task run costs tens of milliseconds a host, which at thousands of hosts outweighs the templating).
  - For each role that the cluster plan (C(lvsha__model.plan), built by C(playbooks/tasks/model.yml)) gives
    the host, writes the role's declaration C(ROLE__files) (its C(vars/main.yml);
    the fields are those of M(lvsha.cluster.render_files)) to O(render_dir)/HOST/DEST, with the role's own
    templates and files, as M(lvsha.cluster.render_files) does; and the files of the roles that the role's
    C(tasks/main.yml) imports (C(ansible.builtin.import_role)) and that declare theirs for a rendering, in
    their C(vars/render.yml) (the lvsha command of P(lvsha.cluster.host_package#role)).
  - The files are templated with the host's variables, layered as a deploy run layers them for a role of the
    play - the role's C(defaults/main.yml), then the host's variables (inventory, facts, the play's), then the
    role's C(vars/main.yml), then the extra variables (C(-e)) - and last the role's C(vars/render.yml), which
    binds the role's secret variables to O(secret), so that no extra variable can put a secret in a rendered
    file. A role that declares files and is imported with variables of the importing task's own is refused,
    as a rendering would not apply them.
  - Lists each planned role's entries in O(render_dir)/.lvsha-files.HOST.ROLE.json, as M(lvsha.cluster.render_files)
    does.
  - Runs on the controller alone and never contacts the host. A host name that is not a plain directory name is
    refused; directories are made (0755) one component at a time and no symlink is followed.
author:
  - lvsha.cluster contributors (@lvsha)
extends_documentation_fragment:
  - lvsha.cluster.attributes
attributes:
  check_mode:
    support: full
    details: Renders every entry and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Reports V(changed=true) whenever it writes at least one file.
options:
  render_dir:
    description: The absolute directory that receives one subdirectory per host (C(lvsha_render_dir)).
    type: path
    required: true
  secret:
    description: Written where a secret would go (C(lvsha_render_secret)); a placeholder, never a secret.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Render this host's files
  lvsha.cluster.render_host:
    render_dir: "{{ lvsha_render_dir }}"
    secret: "{{ lvsha_render_secret }}"
"""

RETURN = r"""
files:
  description: The destinations written, on the host's paths.
  returned: always
  type: list
  elements: str
"""
