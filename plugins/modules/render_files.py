#!/usr/bin/python
# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: render_files
short_description: Internal - a role's declared files written on the controller, in one task
version_added: 0.1.0
description:
  - Internal to the collection. Writes one role's declaration, given as O(files), for the host it runs for;
    M(lvsha.cluster.render_host), the rendering step of C(playbooks/render.yml), writes each role's declaration
    with the same code. The role's C(tasks/main.yml) installs the same declaration on the host.
  - Writes every entry of O(files) that this host gets (no O(files[].when), or a true one) to
    O(render_dir)/HOST/DEST on the controller, with its mode; a template from the role's C(templates/)
    rendered as the M(ansible.builtin.template) module renders it (the entry is C(item), as in the role's own
    install loops), a file from the role's C(files/) as it is, or the entry's C(content). Owner, group and
    C(validate) apply to the host only; C(tasks/render_check.yml) of playbooks/render.yml loads the rendered
    files with the daemons' parsers instead.
  - A secret is never written. The calling task binds the variables that hold the role's secrets to
    C(lvsha_render_secret) in its C(vars) (M(lvsha.cluster.render_host) binds them from the role's
    C(vars/render.yml)), so that a file declared O(files[].secret) carries the placeholder.
  - Lists the entries it wrote (with their defaults, without O(files[].data)) in
    O(render_dir)/.lvsha-files.HOST.ROLE.json, which tests/unit/playbooks/test_render_playbook.py compares with
    the tree.
  - Runs on the controller alone and never contacts the host. Creates directories (0755) one component at a
    time and never follows a symlink, neither for a directory nor for a file.
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
  files:
    description:
      - The role's declaration, C(ROLE__files) in its C(vars/main.yml), one entry per file the role installs.
        The role's C(tasks/main.yml) writes the same entries on the host, one task per handler it notifies (or
        variable it registers), each with C(no_log) from O(files[].secret) per file.
    type: list
    elements: dict
    required: true
    suboptions:
      template:
        description: The template, in the role's C(templates/). One of O(files[].template), O(files[].file) and O(files[].content).
        type: str
      file:
        description: The file copied as it is, in the role's C(files/).
        type: str
      content:
        description: The file's whole text, for a file written from a value (a JSON document the role builds).
        type: str
      dest:
        description: The absolute path on the host.
        type: str
        required: true
      mode:
        description: The file's mode, quoted (C("0644")).
        type: str
        required: true
      owner:
        description: The file's owner on the host.
        type: str
        default: root
      group:
        description: The file's group on the host.
        type: str
        default: root
      validate:
        description: The daemon's check of the new file on the host, C(%s) standing for it (C(validate) of the module).
        type: str
      secret:
        description:
          - The file carries one of the role's secrets; 0600 root root. Installed with C(no_log) (no content, no
            diff), rendered with the role's secret variables bound to C(lvsha_render_secret).
        type: bool
        default: false
      when:
        description: An optional file; installed and rendered only when true.
        type: bool
        default: true
      notify:
        description:
          - The handler a change notifies, the same as the C(notify) of the task of C(tasks/main.yml) that writes
            the file; unset, none.
        type: str
      data:
        description:
          - For a template written once per instance (a DRBD resource file per resource), the instance, read by
            the template as C(item.data).
        type: dict
  role_path:
    description: The directory of the role that declared the files.
    type: path
    required: true
  render_dir:
    description: The absolute directory that receives one subdirectory per host.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Render the declared files
  lvsha.cluster.render_files:
    files: "{{ realserver__files }}"
    role_path: "{{ role_path }}"
    render_dir: "{{ lvsha_render_dir }}"
"""

RETURN = r"""
files:
  description: The destinations written, on the host's paths.
  returned: always
  type: list
  elements: str
"""
