# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of lvsha.cluster.render_files: a role's declared files written on the
controller in one task (documentation: plugins/modules/render_files.py)."""
from __future__ import annotations

import ast
import functools
import json
import os
import stat
from pathlib import Path
from typing import Any, Dict, List

import yaml

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

try:  # ansible-core 2.19 and later: a file's text is templated only once trusted
    from ansible.template import trust_as_template
    from ansible._internal._templating._template_vars import generate_ansible_template_vars
except ImportError:  # earlier lines
    from ansible.template import generate_ansible_template_vars  # type: ignore[attr-defined,no-redef]
    trust_as_template = None

# What the template module renders with by default, so that both give the same bytes.
OVERRIDES = {"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"}


@functools.lru_cache(maxsize=None)
def argument_spec() -> Dict[str, Any]:
    """The options as plugins/modules/render_files.py documents them: the one definition."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / "modules" / "render_files.py").read_text(encoding="utf-8"))
    text = next(node.value.value for node in tree.body
                if isinstance(node, ast.Assign) and node.targets[0].id == "DOCUMENTATION")  # type: ignore[attr-defined]

    def spec(options: Dict[str, Any]) -> Dict[str, Any]:
        return {name: {**{k: v for k, v in option.items() if k in ("type", "required", "default", "elements")},
                       **({"options": spec(option["suboptions"])} if "suboptions" in option else {})}
                for name, option in options.items()}

    result = spec(yaml.safe_load(text)["options"])
    result["files"].update(mutually_exclusive=[["template", "file", "content"]],
                           required_one_of=[["template", "file", "content"]])
    return result


def _directory(root: str, relative: str, create: bool) -> str:
    """root/relative, created component by component (0755) when ``create``; an existing
    symlink on the way is refused, so that nothing is written outside root."""
    path = root
    for part in [p for p in relative.split("/") if p]:
        if part in (".", ".."):
            raise AnsibleActionFail(f"refusing the path component {part!r} in {relative!r}")
        path = os.path.join(path, part)
        if not create:
            continue
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise AnsibleActionFail(f"refusing to write under {path}: not a directory of its own (a symlink?)") from None
    return path


def _write(path: str, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def _render(self, source: str, entry: Dict[str, Any], dest: str, task_vars: Dict[str, Any]) -> str:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        variables = dict(task_vars, item=entry)
        variables.update(generate_ansible_template_vars(path=entry["template"], fullpath=source, dest_path=dest))
        templar = self._templar.copy_with_new_env(searchpath=[os.path.dirname(source)], available_variables=variables)
        if trust_as_template is not None:
            return templar.template(trust_as_template(text), escape_backslashes=False, overrides=OVERRIDES) or ""
        return templar.do_template(text, preserve_trailing_newlines=True, escape_backslashes=False, overrides=OVERRIDES) or ""

    def run(self, tmp: Any = None, task_vars: Any = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        checked = ArgumentSpecValidator(argument_spec()).validate(self._task.args)
        if checked.error_messages:
            raise AnsibleActionFail("; ".join(checked.error_messages))
        args = checked.validated_parameters
        role_path, render_dir = args["role_path"], args["render_dir"]
        if not os.path.isabs(render_dir):
            raise AnsibleActionFail(f"render_dir must be absolute, not {render_dir!r}")
        # The entries this host gets, without their absent fields.
        files: List[Dict[str, Any]] = [{k: v for k, v in entry.items() if v is not None}
                                       for entry in args["files"] if entry["when"]]
        host = task_vars["inventory_hostname"]
        role = os.path.basename(role_path.rstrip("/"))
        writing = not self._task.check_mode
        root = _directory(render_dir, host, writing)
        written = []
        for entry in files:
            dest = entry["dest"]
            if not dest.startswith("/") or os.path.basename(dest) in ("", ".", ".."):
                raise AnsibleActionFail(f"{role}: dest {dest!r} must be an absolute path to a file")
            target = os.path.join(_directory(root, os.path.dirname(dest), writing), os.path.basename(dest))
            if "template" in entry:
                data = self._render(os.path.join(role_path, "templates", entry["template"]), entry, dest, task_vars).encode()
            elif "file" in entry:
                with open(os.path.join(role_path, "files", entry["file"]), "rb") as handle:
                    data = handle.read()
            else:
                data = str(entry["content"]).encode()
            if writing:
                _write(target, data, int(str(entry["mode"]), 8))
            written.append(dest)
        listing = {"host": host, "role": role,
                   "files": sorted(({k: v for k, v in entry.items() if k != "data"} for entry in files),
                                   key=lambda e: e["dest"])}
        if writing:
            _write(os.path.join(render_dir, f".lvsha-files.{host}.{role}.json"),
                   json.dumps(listing, indent=4, sort_keys=True).encode(), 0o644)
        result.update(changed=bool(written), files=sorted(written))
        return result
