# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the roles handle secrets, read from the roles themselves.

Secrets come only from role variables (which an inventory can vault) and their argument specs
hide them; every task that carries one logs nothing; none reaches a command line; every file
that holds one is written 0600 root:root. Safe defaults: heartbeat never authenticates with
crc, DRBD authenticates its peer, rsync modules are read-only and admit named hosts only.
The lab scenarios check the same on the nodes (modes, and no secret in a -vvv run).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import jinja2
import pytest
import yaml

from ansible_collections.lvsha.cluster.plugins.plugin_utils import _mirror_model
from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan
from model_inventory import Inventory
from role_files import declared_files

ROLES = Path(__file__).resolve().parents[3] / "roles"
# The secrets a user gives (vault them), by role.
SECRET_VARIABLES = {"heartbeat": ["heartbeat_auth_key"], "drbd": ["drbd_shared_secret"],
                    "rsync_mirror": ["rsync_mirror_pull_password"]}
# The model's secret (a cluster-wide variable, never shown in a finding).
MODEL_SECRETS = ["lvsha_mirror_rsync_secrets"]
# What the roles hold them in once chosen (given, kept from the nodes, or generated).
SECRET_FACTS = ["heartbeat__key", "drbd__secret", "rsync_mirror__password", "rsync_mirror__user_secrets"]
SECRET_NAMES = [name for names in SECRET_VARIABLES.values() for name in names] + MODEL_SECRETS + SECRET_FACTS
# Where they are written on a node (a role's declared file, ROLE__files in its vars/main.yml, by
# "ROLE: SOURCE"), and the files a role reads them back from.
SECRET_FILES = ["heartbeat: authkeys.j2", "drbd: resource.res.j2", "rsync_mirror: /etc/lvsha/mirror/rsync.password",
                "rsync_mirror: rsyncd.secrets.j2"]
SECRET_READS = re.compile(r"/etc/ha\.d/authkeys|/etc/drbd\.d/|shared-secret|rsync\.password|rsyncd\.secrets")
MODULE_KEYS = ("ansible.builtin.shell", "ansible.builtin.command", "ansible.builtin.template", "ansible.builtin.copy",
               "ansible.builtin.set_fact", "ansible.builtin.assert", "ansible.builtin.debug")


def tasks() -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(role/tasks/file: task name, task) of every task and handler, blocks opened."""
    def walk(where: str, items: List[Dict[str, Any]]) -> Iterator[Tuple[str, Dict[str, Any]]]:
        for task in items or []:
            if "block" in task:
                yield from walk(where, task["block"])
            else:
                yield f"{where}: {task.get('name')}", task
    for path in sorted([*ROLES.glob("*/tasks/*.yml"), *ROLES.glob("*/handlers/*.yml")]):
        yield from walk(f"{path.parent.parent.name}/{path.parent.name}/{path.name}", yaml.safe_load(path.read_text()))


def module_of(task: Dict[str, Any]) -> Tuple[str, Any]:
    for key in task:
        if key.startswith("ansible.builtin.") or key.startswith("lvsha.cluster."):
            return key, task[key]
    raise AssertionError(f"no module in {task}")


def mentions_secret(text: str) -> List[str]:
    return [name for name in SECRET_NAMES if re.search(rf"\b{re.escape(name)}\b", text)]


def template_text(role: str, src: str, folder: str = "templates") -> str:
    path = ROLES / role / folder / src
    return path.read_text() if path.is_file() else ""


def declared_by(where: str, task: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The declared files that a task of tasks/main.yml writes in its loop over ROLE__files."""
    role = where.split("/")[0]
    loop = task.get("loop")
    if not isinstance(loop, str) or f"{role}__files" not in loop:
        return []
    expression = loop.strip().removeprefix("{{").removesuffix("}}")
    return list(jinja2.Environment().compile_expression(expression)(**{f"{role}__files": declared_files(role)}))


def declared_text(role: str, entry: Dict[str, Any]) -> str:
    """What a declared file is written from: its template, its file or its content (as written)."""
    if "content" in entry:
        return entry["content"]
    return template_text(role, entry["template"]) if "template" in entry else template_text(role, entry["file"], "files")


ALL_TASKS = list(tasks())


def test_every_secret_variable_is_a_hidden_role_option() -> None:
    for role, names in SECRET_VARIABLES.items():
        options = yaml.safe_load((ROLES / role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
        for name in names:
            assert options[name].get("no_log") is True, f"{role}: {name} is not no_log in the argument spec"


def test_the_model_s_secret_is_never_shown() -> None:
    assert list(_mirror_model.SECRET_SETTINGS) == MODEL_SECRETS


DEPLOY_TASKS = ALL_TASKS


def carried_secrets(where: str, task: Dict[str, Any]) -> List[str]:
    module, args = module_of(task)
    role = where.split("/")[0]
    text = yaml.safe_dump({k: v for k, v in task.items() if k not in ("name", "no_log")})
    carried = mentions_secret(text)
    if module == "ansible.builtin.template" and isinstance(args, dict):
        carried += mentions_secret(template_text(role, str(args.get("src", ""))))
    for entry in declared_by(where, task):
        carried += mentions_secret(declared_text(role, entry)) + (["a file declared secret"] if entry.get("secret") else [])
    if module in ("ansible.builtin.shell", "ansible.builtin.command") and SECRET_READS.search(text):
        carried.append("a secret file read back from the node")
    return carried


# Every task that reads, chooses or writes a secret.
SECRET_TASKS = [
    "drbd/tasks/main.yml: Choose the shared secret",
    "drbd/tasks/main.yml: Read the node name, the secret in use and fstab",
    "drbd/tasks/main.yml: Write global_common.conf and the resource files",
    "heartbeat/tasks/main.yml: Choose the shared authentication key",
    "heartbeat/tasks/main.yml: Read the node name and the current authkeys",
    "heartbeat/tasks/main.yml: Write ha.cf, haresources and authkeys",
    "rsync_mirror/tasks/main.yml: Choose the shared pull password",
    "rsync_mirror/tasks/main.yml: Read the pull password in use",
    "rsync_mirror/tasks/main.yml: Write the settings of lvsha mirror and the pull password",
    "rsync_mirror/tasks/main.yml: Write the rsync daemon's secrets, heartbeat's resources and the exclude lists",
]
# Every command and shell task: a new one is added here, and so checked below.
COMMAND_TASKS = [
    "debian_packages/tasks/main.yml: Read which of the packages are installed",
    "director/handlers/main.yml: Apply IP forwarding",
    "director/tasks/main.yml: Apply the IPVS table with mon's health verdicts, under mon's lock",
    "drbd/tasks/main.yml: Make the file system on a brand-new volume",
    "heartbeat/handlers/main.yml: Reload heartbeat",
    "drbd/tasks/main.yml: Read the node name, the secret in use and fstab",
    "heartbeat/tasks/main.yml: Read the node name and the current authkeys",
    "host_package/tasks/main.yml: Read the version of the lvsha command",
    "mon/handlers/main.yml: Forget the health verdicts of the old mon",
    "mon/handlers/main.yml: Restart a running mon",
    "mon/tasks/main.yml: Read whether this host is the active director",
    "nfs/handlers/main.yml: Re-export",
    "rsync_mirror/tasks/main.yml: Read the pull password in use",
    "rsync_mirror/tasks/main.yml: Record the data period of a new node",
]
TASKS = dict(ALL_TASKS)


def test_task_names_are_unique() -> None:
    """The lists above name tasks by role/tasks/file: name."""
    assert len(TASKS) == len(ALL_TASKS)


def test_the_tasks_that_carry_a_secret_are_found() -> None:
    """The detector above finds exactly the listed tasks: no more (a new one goes in the list,
    and so is checked below), no fewer (the detector still sees each of them)."""
    assert sorted(where for where, task in DEPLOY_TASKS if carried_secrets(where, task)) == sorted(SECRET_TASKS)


def test_the_command_tasks_are_listed() -> None:
    assert sorted(where for where, task in ALL_TASKS
                  if module_of(task)[0] in ("ansible.builtin.shell", "ansible.builtin.command")) == sorted(COMMAND_TASKS)


@pytest.mark.parametrize("where", SECRET_TASKS)
def test_a_task_that_carries_a_secret_logs_nothing(where: str) -> None:
    task = TASKS[where]
    assert carried_secrets(where, task), f"{where} no longer carries a secret: take it off SECRET_TASKS"
    if not declared_by(where, task):
        assert task.get("no_log") is True, f"{where} carries {carried_secrets(where, task)} without no_log"
        return
    # A loop over the role's declared files: no_log for each file declared secret (Ansible
    # censors the result, the diff and the item of each such file) or for all, and every file
    # whose source names a secret is declared secret.
    assert task.get("no_log") in (True, "{{ item.secret | default(false) }}"), f"{where}: no_log is not the file's"
    role = where.split("/")[0]
    for entry in declared_by(where, task):
        if mentions_secret(declared_text(role, entry)):
            assert entry.get("secret") is True, f"{where}: {entry.get('template') or entry.get('file') or entry['dest']} is not declared secret"


@pytest.mark.parametrize("where", COMMAND_TASKS)
def test_no_secret_reaches_a_command_line(where: str) -> None:
    task = TASKS[where]
    module, args = module_of(task)
    assert module in ("ansible.builtin.shell", "ansible.builtin.command"), where
    # Neither in the argv or script, nor in its environment, nor through a task variable.
    assert not mentions_secret(yaml.safe_dump(args)), f"{where}: a secret in the command"
    assert not mentions_secret(yaml.safe_dump(task.get("environment") or {})), f"{where}: a secret in the environment"
    assert not mentions_secret(yaml.safe_dump(task.get("vars") or {})), f"{where}: a secret in the task's vars"


def test_rendering_writes_a_placeholder_in_place_of_every_secret() -> None:
    """render.yml (tests/unit/playbooks/test_render_playbook.py) binds each secret that a
    template reads to lvsha_render_secret, in the roles' vars/render.yml, which
    lvsha.cluster.render_host puts over every other variable; no other variable is bound there
    but the lvsha command's declaration and the names of the rsync users."""
    bound = {}
    for path in sorted(ROLES.glob("*/vars/render.yml")):
        for name, value in (yaml.safe_load(path.read_text()) or {}).items():
            if name in SECRET_FACTS:
                bound[name] = value
            else:
                assert name in ("host_package__files", "rsync_mirror__users"), f"{path}: {name}"
    assert sorted(bound) == sorted(SECRET_FACTS)
    assert all("{{ lvsha_render_secret }}" == value or "[lvsha_render_secret]" in value for value in bound.values()), bound


def test_every_secret_file_is_written_0600_root_root() -> None:
    written = {}
    for where, task in ALL_TASKS:
        module, args = module_of(task)
        if module in ("ansible.builtin.template", "ansible.builtin.copy") and args.get("dest") in SECRET_FILES:
            written[args["dest"]] = (args.get("owner"), args.get("group"), args.get("mode"), where)
    for role in sorted(path.name for path in ROLES.iterdir()):
        for entry in declared_files(role):
            if entry.get("secret"):
                written[f"{role}: {entry.get('template') or entry.get('file') or entry['dest']}"] = (
                    entry.get("owner", "root"), entry.get("group", "root"), entry.get("mode"), f"{role}/vars/main.yml")
    assert sorted(written) == sorted(SECRET_FILES)
    for dest, (owner, group, mode, where) in written.items():
        assert (owner, group, mode) == ("root", "root", "0600"), f"{where} writes {dest}"


def test_heartbeat_never_authenticates_with_crc() -> None:
    spec = yaml.safe_load((ROLES / "heartbeat/meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert spec["heartbeat_auth_method"]["choices"] == ["sha1", "md5"]
    assert yaml.safe_load((ROLES / "heartbeat/defaults/main.yml").read_text())["heartbeat_auth_method"] == "sha1"
    plan = (ROLES / "heartbeat/tasks/plan.yml").read_text()
    assert "heartbeat_auth_method in ['sha1', 'md5']" in plan


def test_drbd_authenticates_its_peer_by_default() -> None:
    defaults = yaml.safe_load((ROLES / "drbd/defaults/main.yml").read_text())
    assert defaults["drbd_net_auth"] is True and defaults["drbd_cram_hmac_alg"] == "sha1"
    template = (ROLES / "drbd/templates/resource.res.j2").read_text()
    assert re.search(r"\{% if drbd_net_auth %\}\s+cram-hmac-alg \{\{ drbd_cram_hmac_alg \}\};\s+"
                     r'shared-secret "\{\{ drbd__secret \}\}";', template)


def test_rsync_modules_are_read_only_and_admit_the_peer_only_unless_asked() -> None:
    inv = Inventory("example-mirror")
    plan = build_plan(inv.hostvars(), inv.groups)["hosts"]["mr1"]["mirror"]
    assert [(m["read_only"], m["hosts_allow"]) for m in plan["modules"]] == [(True, ["198.51.100.42"])]
    inv.model["lvsha_mirror_modules"][0].update(read_only=False, hosts_allow=["192.0.2.0/24"])
    asked = build_plan(inv.hostvars(), inv.groups)["hosts"]["mr1"]["mirror"]["modules"][0]
    assert (asked["read_only"], asked["hosts_allow"]) == (False, ["198.51.100.42", "192.0.2.0/24"])
    template = (ROLES / "rsync_mirror/templates/rsyncd.conf.j2").read_text()
    assert "hosts deny = *" in template
    assert template.count("hosts allow = ") == 2  # the state module and each mirrored module
