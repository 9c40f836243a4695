# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a role's declared files (``ROLE__files``) under render_dir/HOST on the controller:
the code that the actions lvsha.cluster.render_files (one role, this host) and
lvsha.cluster.render_hosts (every planned role of many hosts, in one task) share. Controller
only; nothing here contacts a host."""
from __future__ import annotations

import ast
import copy
import functools
import json
import os
import stat
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

try:  # ansible-core 2.19 and later: a file's text is templated only once trusted
    from ansible.template import trust_as_template
    from ansible._internal._templating._template_vars import generate_ansible_template_vars
except ImportError:  # earlier lines
    from ansible.template import generate_ansible_template_vars  # type: ignore[attr-defined,no-redef]
    trust_as_template = None

COLLECTION = Path(__file__).resolve().parents[2]
# What the template module renders with by default, so that both give the same bytes.
OVERRIDES = {"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"}


@functools.lru_cache(maxsize=None)
def options(module: str) -> Dict[str, Any]:
    """An action's options as plugins/modules/MODULE.py documents them: the one definition."""
    tree = ast.parse((COLLECTION / "plugins" / "modules" / f"{module}.py").read_text(encoding="utf-8"))
    text = next(node.value.value for node in tree.body
                if isinstance(node, ast.Assign) and node.targets[0].id == "DOCUMENTATION")  # type: ignore[attr-defined]

    def spec(documented: Dict[str, Any]) -> Dict[str, Any]:
        return {name: {**{k: v for k, v in option.items() if k in ("type", "required", "default", "elements", "no_log")},
                       **({"options": spec(option["suboptions"])} if "suboptions" in option else {})}
                for name, option in documented.items()}

    return spec(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["options"])  # nosec B506: a safe loader


@functools.lru_cache(maxsize=None)
def argument_spec() -> Dict[str, Any]:
    """render_files' options, whose ``files`` defines a declared file's fields."""
    result = copy.deepcopy(options("render_files"))
    result["files"].update(mutually_exclusive=[["template", "file", "content"]],
                           required_one_of=[["template", "file", "content"]])
    return result


def checked_files(files: Any, role: str) -> List[Dict[str, Any]]:
    """A declaration checked against the fields of render_files' ``files`` option, with the
    defaults filled in: the entries this host gets (no ``when``, or a true one), without their
    absent fields."""
    if isinstance(files, list):
        # ansible-core before 2.19 turns a templated string that reads as a list or a mapping
        # (to_nice_json's output) into one: the copy action writes such content as JSON, and so
        # does this (the validator would turn it into Python's repr).
        files = [dict(entry, content=json.dumps(entry["content"]))
                 if isinstance(entry, Mapping) and isinstance(entry.get("content"), (list, dict)) else entry
                 for entry in files]
    checked = ArgumentSpecValidator({"files": argument_spec()["files"]}).validate({"files": files})
    if checked.error_messages:
        raise AnsibleActionFail(f"{role}: " + "; ".join(checked.error_messages))
    return [{k: v for k, v in entry.items() if v is not None}
            for entry in checked.validated_parameters["files"] if entry["when"]]


def directory(root: str, relative: str, create: bool) -> str:
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


def write(path: str, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def check_host(host: str) -> None:
    """A host's directory is render_dir/HOST: its name must be one plain path component, never a
    way out of render_dir nor the name of render.yml's own files (.lvsha-*)."""
    if not host or "/" in host or "\0" in host or host.startswith("."):
        raise AnsibleActionFail(f"refusing to render host {host!r}: its name is not a plain directory name")


def host_directory(render_dir: str, host: str, create: bool) -> str:
    """render_dir/HOST, checked and (when ``create``) made."""
    check_host(host)
    return directory(render_dir, host, create)


@functools.lru_cache(maxsize=None)
def _file_bytes(path: str) -> bytes:
    """A role's file as it is; read once, however many hosts get it."""
    with open(path, "rb") as handle:
        return handle.read()


@functools.lru_cache(maxsize=None)
def _template_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def render_template(templar: Any, source: str, entry: Mapping[str, Any], dest: str, variables: Mapping[str, Any]) -> str:
    """A template of the role rendered as the template module renders it, the entry as ``item``."""
    text = _template_text(source)
    local = dict(variables, item=entry)
    local.update(generate_ansible_template_vars(path=entry["template"], fullpath=source, dest_path=dest))
    engine = templar.copy_with_new_env(searchpath=[os.path.dirname(source)], available_variables=local)
    if trust_as_template is not None:
        return engine.template(trust_as_template(text), escape_backslashes=False, overrides=OVERRIDES) or ""
    return engine.do_template(text, preserve_trailing_newlines=True, escape_backslashes=False, overrides=OVERRIDES) or ""


def render_role(templar: Any, role_path: str, files: List[Dict[str, Any]], host: str, render_dir: str,
                variables: Mapping[str, Any], writing: bool, listing: Optional[str] = None) -> List[str]:
    """Write the checked entries of a role's declaration to render_dir/HOST/DEST (nothing when
    not ``writing``); with ``listing`` (the role's name), list them in
    render_dir/.lvsha-files.HOST.ROLE.json. Returns the destinations."""
    role = os.path.basename(role_path.rstrip("/"))
    root = host_directory(render_dir, host, writing)
    written = []
    for entry in files:
        dest = entry["dest"]
        if not dest.startswith("/") or os.path.basename(dest) in ("", ".", ".."):
            raise AnsibleActionFail(f"{role}: dest {dest!r} must be an absolute path to a file")
        target = os.path.join(directory(root, os.path.dirname(dest), writing), os.path.basename(dest))
        if "template" in entry:
            data = render_template(templar, os.path.join(role_path, "templates", entry["template"]), entry, dest,
                                   variables).encode()
        elif "file" in entry:
            data = _file_bytes(os.path.join(role_path, "files", entry["file"]))
        else:
            data = str(entry["content"]).encode()
        if writing:
            write(target, data, int(str(entry["mode"]), 8))
        written.append(dest)
    if writing and listing:
        shown = {"host": host, "role": listing,
                 "files": sorted(({k: v for k, v in entry.items() if k != "data"} for entry in files),
                                 key=lambda e: e["dest"])}
        write(os.path.join(render_dir, f".lvsha-files.{host}.{listing}.json"),
              json.dumps(shown, indent=4, sort_keys=True).encode(), 0o644)
    return written
