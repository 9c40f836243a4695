# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of lvsha.cluster.render_host: the declared files of every role that the plan
gives this host, written on the controller in one task (documentation:
plugins/modules/render_host.py).

One task per host instead of a role include per role (four tasks): each Ansible task run for
a host costs tens of milliseconds, which at thousands of hosts is most of a rendering."""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Set, Tuple

import yaml

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.vars import load_extra_vars

from ansible_collections.lvsha.cluster.plugins.plugin_utils import _render

ROLES = _render.COLLECTION / "roles"
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PREFIX = "lvsha.cluster."


@dataclass
class Role:
    """A role's variable files, read once."""
    name: str
    path: str
    defaults: Dict[str, Any]
    variables: Dict[str, Any]
    render: Dict[str, Any]
    # The collection's roles that tasks/main.yml imports.
    imports: List[str] = field(default_factory=list)

    def declares(self) -> bool:
        return f"{self.name}__files" in self.variables or f"{self.name}__files" in self.render


def _trusted(value: Any) -> Any:
    """A role file's data as Ansible reads it: on ansible-core 2.19 and later its strings are
    trusted templates (earlier lines template every string)."""
    if _render.trust_as_template is None:
        return value
    if isinstance(value, str):
        return _render.trust_as_template(value)
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def _yaml(path: str) -> Any:
    # The C parser when PyYAML has it: Ansible's own loader costs milliseconds a file, and
    # each host's task runs in a process of its own.
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # nosec B506: a safe loader


@functools.lru_cache(maxsize=None)
def _role(name: str) -> Role:
    path = str(ROLES / name)
    if not ROLE_NAME.match(name) or not os.path.isdir(path):
        raise AnsibleActionFail(f"the plan names a role {name!r} that lvsha.cluster does not have")
    role = Role(name, path, *(dict(_trusted(_yaml(os.path.join(path, *parts))) or {}) for parts in
                              (("defaults", "main.yml"), ("vars", "main.yml"), ("vars", "render.yml"))))
    for imported, with_vars in _imports(_yaml(os.path.join(path, "tasks", "main.yml")) or []):
        if _role(imported).declares():
            if with_vars:
                # Not needed so far; refused rather than rendered without them.
                raise AnsibleActionFail(f"role {name} imports {imported} with variables, which a rendering does not apply")
            role.imports.append(imported)
    return role


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    @staticmethod
    def _variables(role: Role, task_vars: Mapping[str, Any], extra: Mapping[str, Any],
                   bound: Mapping[str, Any]) -> Dict[str, Any]:
        """The host's variables as a task of the role sees them in a deploy run: the role's
        defaults < the host's (inventory, facts, play) < the role's vars < extra vars; then the
        rendering's own bindings (the secrets' placeholders), which nothing overrides."""
        variables = dict(role.defaults)
        variables.update(task_vars)
        variables.update(role.variables)
        variables.update(extra)
        variables.update(bound)
        variables.update(role.render)
        variables.update(role_path=role.path, role_name=PREFIX + role.name, ansible_role_name=PREFIX + role.name)
        return variables

    def run(self, tmp: Any = None, task_vars: Any = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        checked = ArgumentSpecValidator(_render.options("render_host")).validate(self._task.args)
        if checked.error_messages:
            raise AnsibleActionFail("; ".join(checked.error_messages))
        args = checked.validated_parameters
        render_dir = args["render_dir"]
        if not os.path.isabs(render_dir):
            raise AnsibleActionFail(f"render_dir must be absolute, not {render_dir!r}")
        plan = (task_vars.get("lvsha__model") or {}).get("plan")
        if not isinstance(plan, Mapping):
            raise AnsibleActionFail("no cluster plan (lvsha__model.plan): run playbooks/tasks/model.yml first")
        host = task_vars["inventory_hostname"]
        _render.check_host(host)
        extra = load_extra_vars(self._loader)
        bound = {"lvsha_render_secret": args["secret"]}
        writing = not self._task.check_mode
        written: Set[str] = set()
        for name in list((plan["hosts"].get(host) or {}).get("roles") or []):
            role = _role(str(name))
            if not role.declares():
                raise AnsibleActionFail(f"role {role.name} declares no files ({role.name}__files in its vars/main.yml)")
            # The role's own declaration, listed; then those of the roles it imports (the lvsha
            # command), which only a rendering declares.
            for part, listing in [(role, role.name)] + [(_role(imported), None) for imported in role.imports]:
                variables = self._variables(part, task_vars, extra, bound)
                templar = self._templar.copy_with_new_env(available_variables=variables)
                files = _render.checked_files(templar.template(variables[f"{part.name}__files"]), f"role {part.name}")
                written.update(_render.render_role(templar, part.path, files, host, render_dir, variables, writing,
                                                   listing=listing))
        result.update(changed=bool(written), files=sorted(written))
        return result


def _imports(tasks: Any) -> List[Tuple[str, Dict[str, Any]]]:
    """The collection's roles that a task list imports statically, in order, each with the
    variables of its import task (blocks included)."""
    found: List[Tuple[str, Dict[str, Any]]] = []
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, Mapping):
            continue
        for section in ("block", "rescue", "always"):
            found += _imports(task.get(section))
        spec = task.get("ansible.builtin.import_role") or task.get("import_role")
        if isinstance(spec, Mapping) and str(spec.get("name", "")).startswith(PREFIX):
            found.append((str(spec["name"])[len(PREFIX):], dict(task.get("vars") or {})))
    return found
