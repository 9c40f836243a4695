# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of lvsha.cluster.render_files: a role's declared files written on the
controller in one task (documentation: plugins/modules/render_files.py)."""
from __future__ import annotations

import os
from typing import Any, Dict

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.lvsha.cluster.plugins.plugin_utils import _render


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: Any = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        checked = ArgumentSpecValidator(_render.argument_spec()).validate(self._task.args)
        if checked.error_messages:
            raise AnsibleActionFail("; ".join(checked.error_messages))
        args = checked.validated_parameters
        role_path, render_dir = args["role_path"], args["render_dir"]
        if not os.path.isabs(render_dir):
            raise AnsibleActionFail(f"render_dir must be absolute, not {render_dir!r}")
        # The entries this host gets, without their absent fields.
        files = [{k: v for k, v in entry.items() if v is not None} for entry in args["files"] if entry["when"]]
        written = _render.render_role(self._templar, role_path, files, task_vars["inventory_hostname"], render_dir,
                                      task_vars, not self._task.check_mode,
                                      listing=os.path.basename(role_path.rstrip("/")))
        result.update(changed=bool(written), files=sorted(written))
        return result
