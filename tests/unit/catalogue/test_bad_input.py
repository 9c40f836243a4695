# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input catalogue (bad_input.yml, its format at its top): each case is applied to the
three example inventories together and must be refused, at each of its levels, with an error
that names its host, field and value:

- model: cluster_model_errors, the check validate.yml and site.yml run and every role's plan
  (the cluster_plan filter) refuses;
- role: ansible-playbook of a play that applies the case's role alone to the hosts the
  examples' plan gives it: the role's first task (Plan the cluster) fails, before it reaches
  a host;
- playbook: the deploy playbook of the case's kind: site.yml's first check fails on the
  controller, before any task runs on a host.

At the role and playbook levels the edited variables are written as one YAML inventory (host
variables inline, no group_vars), so that every level reads the same input. The example hosts
do not resolve here (see playbook_run): a run that tried to reach one would show it
unreachable instead of failed.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.lvsha.cluster.plugins.filter.cluster import cluster_model_errors, cluster_plan
from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import PAIR_ROLES, ROLE_ORDER, build_plan
from ansible_collections.lvsha.cluster.plugins.plugin_utils._role_variables import IMPORTED_ROLES
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import NotShown
from model_inventory import assert_reported, combined
from playbook_run import REPO, recap

CATALOGUE = Path(__file__).parent / "bad_input.yml"
# The hostile endings an attack case appends to a valid value ("{payload}" in its set and
# expect): each would add a line, a word or a command where a writer did not quote it.
ENDINGS = {
    "line": "\nPWNED 1", "end-of-line": "\n", "carriage-return": "\rPWNED", "nul": "\0PWNED",
    "command": "$(touch /tmp/pwned)", "backtick": "`touch /tmp/pwned`", "semicolon": ";touch /tmp/pwned",
    "ampersand": "&touch /tmp/pwned", "pipe": "|touch /tmp/pwned", "redirect": ">/tmp/pwned", "comment": "#pwned",
    "quote": "\"'", "blank": " pwned", "long": "x" * 300, "non-ascii": "\u00e9", "glob": "*",
}
PAYLOADS = {
    **ENDINGS,
    # what rsync reads as a rule at the start of an exclude file's line
    "clear": "!", "hash": "#", "include": "+ ", "exclude": "- ",
    # booleans as an INI inventory or a careless edit gives them: a template reads each as true
    "string-false": "false", "string-no": "no", "string-off": "off", "number": "0",
}
# The endings that break a file's lines whatever the field (a secret may hold any other character).
LINE_BREAKS = ("line", "end-of-line", "carriage-return", "nul", "blank")
# all: every ending that makes a value more than itself.
PAYLOAD_SETS = {"all": tuple(ENDINGS), "lines": LINE_BREAKS}


def _with_payload(node: Any, payload: str) -> Any:
    if isinstance(node, str):
        return node.replace("{payload}", payload)
    if isinstance(node, dict):
        return {_with_payload(k, payload): _with_payload(v, payload) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_payload(item, payload) for item in node]
    return node


def expanded(cases: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The catalogue's cases, an attack case (``payloads``) once per payload."""
    result = []
    for case in cases:
        names = case.get("payloads")
        if names is None:
            result.append(case)
            continue
        names = PAYLOAD_SETS.get(names, names) if isinstance(names, str) else names
        assert set(names) <= set(PAYLOADS), f"{case['id']}: payloads {sorted(set(names) - set(PAYLOADS))}"
        body = {key: value for key, value in case.items() if key not in ("id", "payloads")}
        result += [dict(_with_payload(body, PAYLOADS[name]), id=f"{case['id']}-{name}", payload=name) for name in names]
    return result


CASES: List[Dict[str, Any]] = expanded(yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")))
EXAMPLES = ("example-lvs", "example-storage", "example-mirror")
LEVELS = ("model", "role", "playbook")
KEYS = {"id", "role", "levels", "playbook", "like", "groups", "set", "unset", "expect", "payload"}
EXPECT = {"host", "path", "value", "valid"}
NOT_SHOWN = "(not shown)"
# The deploy playbook of a role's kind; heartbeat runs on every pair, so its cases name one.
KIND = {"realserver": "lvs", **{role: kind for kind, roles in PAIR_ROLES.items() for role in roles}}
STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")
# What the model reads of a host's variables: lvsha_* and the roles' own (ROLE_*).
READ = re.compile(r"(lvsha|%s)_" % "|".join(ROLE_ORDER + IMPORTED_ROLES))


# ------------------------------------------------------------------ the cases' edits

def steps(path: str) -> List[Any]:
    found = STEP.findall(path)
    assert "".join(f".{name}" if name else f"[{index}]" for name, index in found).lstrip(".") == path, \
        f"{path!r} is not a variable path (NAME, .FIELD and [INDEX] steps)"
    return [name if name else int(index) for name, index in found]


def parent_of(variables: Dict[str, Any], path: str) -> Tuple[Any, Any]:
    *parents, last = steps(path)
    node: Any = variables
    for step in parents:
        node = node[step]
    return node, last


def assign(variables: Dict[str, Any], path: str, value: Any) -> None:
    node, last = parent_of(variables, path)
    if isinstance(node, list) and last == len(node):
        node.append(copy.deepcopy(value))  # one past the end: a new entry
    else:
        node[last] = copy.deepcopy(value)


def remove(variables: Dict[str, Any], path: str) -> None:
    node, last = parent_of(variables, path)
    del node[last]


def targets(groups: Dict[str, List[str]], hostvars: Dict[str, Dict[str, Any]], name: str, path: str) -> List[str]:
    """The hosts a fragment edits: a group's members (for a nested path, those that carry the
    variable), or one host."""
    if name not in groups:
        return [name]
    root = steps(path)[0]
    return [host for host in groups[name] if len(steps(path)) == 1 or root in hostvars.get(host, {})]


def apply(case: Dict[str, Any]) -> Tuple[Dict[str, Dict[str, Any]], Dict[str, List[str]]]:
    """The combined examples' (hostvars, groups) with the case's like, groups, set and unset
    applied, in that order."""
    hostvars, groups = combined(*EXAMPLES)
    for host, model in (case.get("like") or {}).items():
        assert host not in hostvars and model in hostvars, f"{case['id']}: like {host}: {model} (a new host, an example host)"
        hostvars[host] = copy.deepcopy(hostvars[model])
        groups["all"].append(host)
    for group, members in (case.get("groups") or {}).items():
        groups[group] = list(members)
        for host in members:
            hostvars.setdefault(host, {})
            if host not in groups["all"]:
                groups["all"].append(host)
    for name, variables in (case.get("set") or {}).items():
        for path, value in variables.items():
            chosen = targets(groups, hostvars, name, path)
            assert chosen, f"{case['id']}: {name} has no host with {path}"
            for host in chosen:
                assign(hostvars.setdefault(host, {}), path, value)
    for name, paths in (case.get("unset") or {}).items():
        for path in paths:
            chosen = targets(groups, hostvars, name, path)
            assert chosen, f"{case['id']}: {name} has no host with {path}"
            for host in chosen:
                remove(hostvars[host], path)
    return hostvars, groups


# ------------------------------------------------------------------ a case and its expectation

def check_case(case: Dict[str, Any]) -> None:
    """The case is well formed: what it edits, where it is refused, and the whole expectation."""
    assert set(case) <= KEYS, f"unknown keys {sorted(set(case) - KEYS)}"
    assert case.get("role") in ROLE_ORDER, f"role {case.get('role')!r} is not one of {ROLE_ORDER}"
    levels = case.get("levels")
    assert isinstance(levels, list) and "model" in levels and set(levels) <= set(LEVELS), \
        f"levels {levels!r}: [model], with role and playbook where they are run"
    assert set(case) & {"like", "groups", "set", "unset"}, "the case edits nothing"
    expect = case.get("expect")
    assert isinstance(expect, dict) and set(expect) == EXPECT, f"expect must name exactly {sorted(EXPECT)}: {expect!r}"
    for key in ("host", "path", "valid"):
        assert isinstance(expect[key], str) and expect[key], f"expect.{key} must be a non-empty string"
    if "playbook" in case or ("playbook" in levels and case["role"] not in KIND):
        assert case.get("playbook") in PAIR_ROLES, f"playbook must be one of {', '.join(PAIR_ROLES)}"


def expect_of(case: Dict[str, Any]) -> Tuple[str, str, Any, str]:
    expect = case["expect"]
    value = NotShown() if expect["value"] == NOT_SHOWN else expect["value"]
    return expect["host"], expect["path"], value, expect["valid"]


def params(level: str) -> List[Any]:
    return [pytest.param(case, id=case["id"]) for case in CASES if level in (case.get("levels") or ["model"])]


# ------------------------------------------------------------------ the catalogue as a whole

def test_the_catalogue_covers_every_role_at_every_level_and_its_ids_are_unique() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    per_role = {role: [case for case in CASES if case["role"] == role] for role in ROLE_ORDER}
    assert {case["role"] for case in CASES} == set(ROLE_ORDER)
    assert min(len(cases) for cases in per_role.values()) >= 5, {role: len(cases) for role, cases in per_role.items()}
    for level in ("role", "playbook"):
        assert [role for role, cases in per_role.items() if not any(level in (c.get("levels") or []) for c in cases)] == [], level


def test_the_examples_are_sound() -> None:
    assert cluster_model_errors(*combined(*EXAMPLES)) == []


# ------------------------------------------------------------------ model level

@pytest.mark.parametrize("case", params("model"))
def test_the_model_refuses(case: Dict[str, Any]) -> None:
    check_case(case)
    hostvars, groups = apply(case)
    errors = cluster_model_errors(hostvars, groups)
    assert_reported(errors, *expect_of(case))
    # What every role's first step does with it: the plan is refused with the same errors.
    with pytest.raises(AnsibleFilterError) as caught:
        cluster_plan(hostvars, groups)
    # (Ansible strips the message's trailing blanks.)
    assert str(caught.value).splitlines() == ["the cluster model is invalid:"] + [f"  {error}" for error in errors[:-1]] \
        + [f"  {errors[-1]}".rstrip()]


# ------------------------------------------------------------------ role and playbook levels

# The hosts the examples' plan gives each role: where a role applied alone runs.
PLAN = build_plan(*combined(*EXAMPLES))["hosts"]
ROLE_HOSTS = {role: [host for host, sections in PLAN.items() if role in sections["roles"]] for role in ROLE_ORDER}
FATAL = re.compile(r"^fatal: \[([^\]]+)\]: FAILED! => ", re.M)
TASK = re.compile(r"^TASK \[(.*)\] \**$", re.M)


def write_inventory(tmp_path: Path, hostvars: Dict[str, Dict[str, Any]], groups: Dict[str, List[str]]) -> Path:
    """The edited hostvars and groups as one YAML inventory: every host with its variables
    inline, in the order of group all, and every group with its members."""
    text = json.dumps(hostvars)
    assert "{{" not in text and "{%" not in text, "a value Ansible would template"
    inventory = {"all": {
        "hosts": {host: hostvars.get(host, {}) for host in groups["all"]},
        "children": {group: {"hosts": {host: None for host in members}}
                     for group, members in groups.items() if group not in ("all", "ungrouped")}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    return path


def ansible_playbook(playbook: Path, inventory: Path) -> subprocess.CompletedProcess:
    # One-line JSON results, so that a failure's message is read back exactly.
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    return subprocess.run(["ansible-playbook", "-i", str(inventory), str(playbook)],
                          capture_output=True, text=True, check=False, timeout=600, cwd=REPO, env=env)


def failures(out: str) -> List[Tuple[str, str, str]]:
    """(task, host, message) of each failed task in a run's output."""
    tasks = [(m.start(), m.group(1)) for m in TASK.finditer(out)]
    found = []
    for match in FATAL.finditer(out):
        task = [name for start, name in tasks if start < match.start()]
        # The result is JSON, on one line or indented (a task that shows its result always).
        result, _end = json.JSONDecoder().raw_decode(out, match.end())
        found.append((task[-1] if task else "", match.group(1), result["msg"]))
    return found


def reported(found: List[Tuple[str, str, str]]) -> List[str]:
    """The model's errors in the failures' messages, one a line."""
    return [line.strip() for _task, _host, message in found for line in message.splitlines() if line.strip().startswith("host ")]


def test_the_written_inventory_is_what_the_model_level_reads(tmp_path: Path) -> None:
    # A case that adds a host to a group and edits nested fields, one of them with a newline.
    case = {"id": "sample", "groups": {"realservers": ["web1", "web2", "lb2", "web3"]},
            "set": {"web3": {"lvsha_public_address": "192.0.2.23"}, "all": {"lvsha_lvs_vips[0].interface": "eth1\n"},
                    "storage": {"drbd_ping_int": "often", "lvsha_drbd_resources[1]": {"name": "r1"}}},
            "unset": {"mirrors": ["lvsha_mirror_modules[0].comment"], "nas2": ["lvsha_private_address"]}}
    hostvars, groups = apply(case)
    play = tmp_path / "dump.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{"ansible.builtin.debug": {
        "msg": "{{ {'groups': groups, 'hostvars': dict(groups['all'] | zip(groups['all'] | map('extract', hostvars)"
               " | map('dict2items') | map('selectattr', 'key', 'match', '%s') | map('items2dict')))} | to_json }}"
               % READ.pattern}}]}]))
    proc = ansible_playbook(play, write_inventory(tmp_path, hostvars, groups))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(json.loads(re.search(r"^ok: \[localhost\] => (\{.*?^\})$", proc.stdout, re.M | re.S).group(1))["msg"])
    assert {group: members for group, members in seen["groups"].items() if group != "ungrouped"} == groups
    assert all(READ.match(name) for variables in hostvars.values() for name in variables)
    assert seen["hostvars"] == hostvars


@pytest.mark.parametrize("case", params("role"))
def test_the_role_alone_refuses_in_its_first_step(tmp_path: Path, case: Dict[str, Any]) -> None:
    check_case(case)
    role, hosts = case["role"], ROLE_HOSTS[case["role"]]
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"hosts": ":".join(hosts), "gather_facts": False,
                                     "roles": [{"role": f"lvsha.cluster.{role}"}]}], sort_keys=False))
    proc = ansible_playbook(play, write_inventory(tmp_path, *apply(case)))
    out = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode != 0, out
    counters = recap(proc.stdout)
    assert set(counters) == set(hosts), out
    for host in hosts:
        assert (counters[host]["changed"], counters[host]["unreachable"]) == (0, 0), counters
        # Nothing ran but the argument spec's validation and the failed first step.
        assert counters[host]["ok"] <= 1, counters
    # The plan is built once for the whole play (run_once): the host that built it fails, and
    # Ansible ends the play for every host.
    found = failures(proc.stdout)
    assert found and {task for task, _host, _message in found} == {f"lvsha.cluster.{role} : Plan the cluster"}, out
    assert [host for host in hosts if counters[host]["failed"]], counters
    assert_reported(reported(found), *expect_of(case))


@pytest.mark.parametrize("case", params("playbook"))
def test_the_deploy_playbook_refuses_before_any_task_runs_on_a_host(tmp_path: Path, case: Dict[str, Any]) -> None:
    check_case(case)
    hostvars, groups = apply(case)
    playbook = REPO / "playbooks" / f"{case.get('playbook') or KIND[case['role']]}.yml"
    proc = ansible_playbook(playbook, write_inventory(tmp_path, hostvars, groups))
    out = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode != 0, out
    # site.yml's first play runs on all hosts, its check once on the controller (run_once): the
    # run stops there, before the list of each role's hosts and the plays that reach the hosts.
    counters = recap(proc.stdout)
    assert counters and set(counters) <= set(groups["all"]), out
    for host, count in counters.items():
        assert (count["changed"], count["unreachable"]) == (0, 0), f"{host}: {count}"
    assert proc.stdout.count("PLAY [") == 1, out
    assert re.findall(r"^TASK \[(.+?)\]", proc.stdout, re.M) == [
        "Check every cluster, the rules across clusters and the roles' variables", "Stop on any error in the model"], out
    found = failures(proc.stdout)
    assert found and {task for task, _host, _message in found} == {"Stop on any error in the model"}, out
    assert_reported(reported(found), *expect_of(case))


# ------------------------------------------------------------------ render.yml, attacked

@pytest.mark.parametrize("payload", ["line", "command"])
def test_render_writes_nothing_of_the_attacks(tmp_path: Path, payload: str) -> None:
    """Every attack case of the catalogue with one payload, all in one inventory: render.yml stops at
    the model check, before render_dir exists, and no file anywhere holds the payload."""
    # (A renamed cluster is checked no further: those cases would hide the others.)
    attacks = [case for case in CASES if case.get("payload") == payload and case["expect"]["path"] != "lvsha_cluster.name"]
    assert len(attacks) >= 20, len(attacks)
    merged = {"id": f"attacks-{payload}", "set": {}}
    for case in attacks:
        for name, variables in case["set"].items():
            merged["set"].setdefault(name, {}).update(variables)
    out = tmp_path / "rendered"
    inventory = write_inventory(tmp_path, *apply(merged))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(REPO / "playbooks" / "render.yml"), "-e", f"render_dir={out}"],
                          capture_output=True, text=True, check=False, timeout=600, cwd=REPO, env=env)
    assert proc.returncode != 0, proc.stdout[-3000:]
    found = failures(proc.stdout)
    assert {task for task, _host, _message in found} == {"Stop on any error in the model"}, proc.stdout[-3000:]
    # Several attacks on one field's neighbours stop its checks at the first: each attacked
    # variable is reported on its host.
    errors = reported(found)
    for case in attacks:
        host, variable = case["expect"]["host"], steps(case["expect"]["path"])[0]
        assert any(error.startswith(f"host {host}: {variable}") for error in errors), (case["id"], errors)
    assert not out.exists()
    marker = PAYLOADS[payload].strip().split()[0].encode()
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path != inventory and marker in path.read_bytes()]
    assert written == []
