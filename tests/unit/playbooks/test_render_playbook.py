# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/render.yml over the three example inventories, on the controller alone.

One rendering (module fixture) is inspected file by file: which files each host gets and
with which mode (for the roles that declare their files, what they declare: the rendering
lists it, and the lists are checked against the declarations and the install tasks), that no
secret reaches a file or the output, and that the daemons' parsers accepted them. The checker
itself is then shown to refuse broken files.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import jinja2
import pytest
import yaml

from playbook_run import REPO, recap, run_playbook, words
from role_files import declared_files, source

RENDER = REPO / "playbooks" / "render.yml"
CHECKER = REPO / "playbooks" / "files" / "check_rendered.py"
PLACEHOLDER = "NOT-RENDERED"
# Vaulted in a real inventory; here extra variables, so that the test knows the values.
SECRETS = {"heartbeat_auth_key": "hb-key-5f2c9a7e01", "drbd_shared_secret": "drbd-secret-0b1d83",
           "rsync_mirror_pull_password": "pull-pass-77e1c4", "lvsha_mirror_rsync_secrets": {"editor": "editor-pass-3a9d"}}

# The roles the plan gives each example host, written out here, not read from the plan.
ROLES_OF = {
    "web1": ["realserver"], "web2": ["realserver"],
    # lb2, the backup director, doubles as a real server.
    "lb1": ["director", "mon", "heartbeat"], "lb2": ["director", "mon", "heartbeat", "realserver"],
    "nas1": ["drbd", "nfs", "heartbeat"], "nas2": ["drbd", "nfs", "heartbeat"],
    "mr1": ["rsync_mirror", "heartbeat"], "mr2": ["rsync_mirror", "heartbeat"],
}
# The roles that declare the files they install (ROLE__files in vars/main.yml): their
# tasks/main.yml installs the declaration and lvsha.cluster.render_host renders it, listing
# what it wrote in render_dir/.lvsha-files.HOST.ROLE.json; the expected tree comes from
# these lists, checked against the declarations and the install tasks below.
ROLES = REPO / "roles"
DECLARING = sorted(role.name for role in ROLES.iterdir()
                   if (role / "vars/main.yml").is_file()
                   and f"{role.name}__files" in (yaml.safe_load((role / "vars/main.yml").read_text()) or {}))
# The lvsha command and its package (roles/host_package), on every director and pair node.
HOST_PACKAGE = {"/usr/local/sbin/lvsha": "755", **{f"/usr/local/lib/lvsha/lvsha_host/{module}": "644" for module in (
    "__init__.py", "_arp.py", "_ipvs.py", "_private.py", "arp.py", "cli.py", "ipvs.py", "mirror.py", "watch.py")}}
# The files of the roles that do not declare theirs (the lvsha command, host_package), by host.
UNDECLARED = {"host_package": {host: HOST_PACKAGE for host in ("lb1", "lb2", "mr1", "mr2", "nas1", "nas2")}}
# A few files of the declaring roles, written out, so that the expected tree is not only what
# the declarations say.
KNOWN = {
    "web1": {"/etc/sysctl.d/60-lvsha-realserver.conf": "644", "/etc/lvsha/realserver.conf": "644",
             "/usr/local/sbin/lvsha-realserver": "755", "/etc/systemd/system/lvsha-realserver.service": "644",
             "/var/www/html/index.html": "644"},
    # lb1 loads the table before heartbeat starts; lb2 doubles as a real server and does not.
    "lb1": {"/etc/ha.d/ha.cf": "644", "/etc/ha.d/authkeys": "600", "/etc/mon/mon.cf": "644",
            "/etc/sudoers.d/lvsha-mon": "440", "/usr/lib/mon/alert.d/lvs.alert": "755",
            "/etc/systemd/system/mon.service.d/lvsha-capabilities.conf": "644",
            "/etc/lvsha/ipvs.json": "644", "/etc/systemd/system/heartbeat.service.d/lvsha-director.conf": "644"},
    "lb2": {"/var/www/html/index.html": "644", "/etc/ha.d/haresources": "644", "/etc/lvsha/ipvs.json": "644",
            "/etc/sysctl.d/60-lvsha-director.conf": "644", "/etc/ha.d/resource.d/lvsha-director": "755"},
    "mr1": {"/etc/rsyncd.conf": "644", "/etc/rsyncd.secrets": "600", "/etc/lvsha/mirror/rsync.password": "600",
            "/etc/lvsha/mirror.json": "644", "/etc/lvsha/mirror/www.exclude": "644",
            "/etc/systemd/system/lvsha-mirror-pull.timer": "644", "/etc/ha.d/resource.d/lvsha-mirror-serve": "755"},
    "nas2": {"/etc/drbd.d/global_common.conf": "644", "/etc/drbd.d/r0.res": "600", "/etc/exports": "644",
             "/etc/systemd/system/heartbeat.service.d/lvsha-drbd.conf": "644", "/etc/nfs.conf": "644",
             "/etc/ha.d/resource.d/lvsha-nfs-state": "755", "/etc/lvsha/watch.json": "644",
             "/etc/systemd/system/lvsha-watch.service": "644", "/etc/ha.d/resource.d/lvsha-watch": "755"},
}
# The examples' clients: the rendering play runs on every host, and the plan gives them no role,
# so they get no file.
CLIENTS = ("client", "nfsclient")


def tree(root: Path) -> Dict[str, Dict[str, str]]:
    """Host -> {path on the host: octal mode} of a rendering."""
    return {host.name: {"/" + str(path.relative_to(host)): format(path.stat().st_mode & 0o777, "o")
                        for path in host.rglob("*") if path.is_file()}
            for host in sorted(root.iterdir()) if host.is_dir()}


def rendered_lists(root: Path) -> Dict[Tuple[str, str], List[Dict[str, Any]]]:
    """(host, role) -> the declared files lvsha.cluster.render_host wrote for them."""
    lists = {}
    for path in sorted(root.glob(".lvsha-files.*.json")):
        listed = json.loads(path.read_text())
        assert path.name == f".lvsha-files.{listed['host']}.{listed['role']}.json"
        lists[listed["host"], listed["role"]] = listed["files"]
    return lists


def declared_sources(role: str) -> List[str]:
    """The templates and files the role's file declaration names."""
    return sorted({source(entry) for entry in declared_files(role)})


def install_tasks(role: str) -> List[Dict[str, Any]]:
    """The tasks of the role's tasks/main.yml that write files (template, copy)."""
    tasks = yaml.safe_load((ROLES / role / "tasks/main.yml").read_text())
    return [task for task in tasks if "ansible.builtin.template" in task or "ansible.builtin.copy" in task]


def selected(task: Dict[str, Any], role: str, files: List[Dict[str, Any]]) -> List[str]:
    """The files of a declaration that an install task's loop selects (their dests)."""
    loop = task["loop"].strip()
    assert loop.startswith("{{") and loop.endswith("}}") and f"{role}__files" in loop, loop
    return [item["dest"] for item in jinja2.Environment().compile_expression(loop[2:-2])(**{f"{role}__files": files})]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("render") / "out"
    secrets = tmp_path_factory.getbasetemp() / "secrets.json"
    secrets.write_text(json.dumps(SECRETS))
    proc = run_playbook(RENDER, "-e", f"render_dir={root}", "-e", f"@{secrets}")
    return root, proc


def test_the_examples_render_on_the_controller_alone(rendered) -> None:
    _root, proc = rendered
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    counters = recap(proc.stdout)
    assert set(counters) == {*ROLES_OF, *CLIENTS}
    for host, count in counters.items():
        assert count["unreachable"] == 0 and count["failed"] == 0, f"{host}: {count}"
    for host in CLIENTS:
        assert (counters[host]["ok"], counters[host]["changed"]) == (0, 0), f"{host}: {counters[host]}"


def test_every_host_gets_exactly_the_files_the_roles_install_with_their_modes(rendered) -> None:
    root, _proc = rendered
    lists = rendered_lists(root)
    assert sorted(lists) == sorted((host, role) for host, roles in ROLES_OF.items() for role in roles if role in DECLARING)
    expected: Dict[str, Dict[str, str]] = {host: {} for host in ROLES_OF}
    for (host, _role), files in lists.items():
        expected[host].update({entry["dest"]: format(int(entry["mode"], 8), "o") for entry in files})
    for hosts in UNDECLARED.values():
        for host, files in hosts.items():
            expected[host].update(files)
    # Neither a declared file missing nor a file no role installs, and with the declared modes.
    found = tree(root)
    differing = {host: {path: (found.get(host, {}).get(path), mode) for path, mode in expected.get(host, {}).items()
                        if found.get(host, {}).get(path) != mode}
                 | {path: (mode, None) for path, mode in found.get(host, {}).items() if path not in expected.get(host, {})}
                 for host in found.keys() | expected.keys()}
    assert found == expected, {host: paths for host, paths in differing.items() if paths}
    for host, files in KNOWN.items():
        assert files.items() <= tree(root)[host].items(), host
    assert (root / ".lvsha-render").is_file()


def test_the_declarations_are_rendered_whole(rendered) -> None:
    """What each host got of a role is part of what the role declares, and the hosts of the
    examples get all of it between them (lb2, which doubles as a real server, gets no heartbeat
    drop-in); every role the plan gives a host declares its files."""
    root, _proc = rendered
    assert sorted(DECLARING) == sorted({role for roles in ROLES_OF.values() for role in roles})
    got: Dict[str, set] = {role: set() for role in DECLARING}
    for (host, role), files in rendered_lists(root).items():
        sources = {source(entry) for entry in files}
        assert sources <= set(declared_sources(role)), (host, role)
        got[role] |= sources
    assert {role: sorted(sources) for role, sources in got.items()} == {role: declared_sources(role) for role in DECLARING}
    assert "heartbeat-dropin.conf.j2" not in {source(entry) for entry in rendered_lists(root)["lb2", "director"]}


def test_the_files_declared_secret_are_those_that_carry_the_placeholder(rendered) -> None:
    root, _proc = rendered
    for (host, role), files in rendered_lists(root).items():
        for entry in files:
            carries = PLACEHOLDER in (root / host / entry["dest"].lstrip("/")).read_text()
            assert carries == entry["secret"], (host, role, entry["dest"])
            if entry["secret"]:
                assert (entry["mode"], entry.get("owner", "root"), entry.get("group", "root")) == ("0600", "root", "root")


def test_the_install_tasks_write_each_declared_file_once(rendered) -> None:
    """tasks/main.yml writes every file of the declaration, each in the one task that notifies
    the file's handler, with the declared source, destination, mode, owner, group and check,
    and no_log for a secret one; it writes no other file."""
    root, _proc = rendered
    for (host, role), files in rendered_lists(root).items():
        tasks = install_tasks(role)
        written: Dict[str, str] = {}
        for task in tasks:
            module = "ansible.builtin.template" if "ansible.builtin.template" in task else "ansible.builtin.copy"
            kind = "template" if module == "ansible.builtin.template" else "content" if "content" in task[module] else "file"
            assert task[module] == {
                "content" if kind == "content" else "src": f"{{{{ item.{kind} }}}}", "dest": "{{ item.dest }}",
                "owner": "{{ item.owner | default('root') }}",
                "group": "{{ item.group | default('root') }}", "mode": "{{ item.mode }}",
                "validate": "{{ item.validate | default(omit) }}"}, f"{role}: {task['name']}"
            assert task["loop_control"] == {"label": "{{ item.dest }}"}
            assert task["when"] == "item.when | default(true) | bool"
            assert task["no_log"] == "{{ item.secret | default(false) }}"
            by_dest = {entry["dest"]: entry for entry in files}
            for dest in selected(task, role, files):
                assert dest not in written, f"{host} {role}: {dest} written by {written.get(dest)} and {task['name']}"
                written[dest] = task["name"]
                assert kind in by_dest[dest], f"{role}: {task['name']} writes {dest} with {module}"
                assert by_dest[dest].get("notify") == task.get("notify"), f"{role}: {task['name']} notifies for {dest}"
        assert sorted(written) == sorted(entry["dest"] for entry in files), (host, role)


def test_the_daemons_accepted_the_rendered_files(rendered) -> None:
    _root, proc = rendered
    for host in ("nas1", "nas2"):
        assert f"ok     {host} /etc/drbd.d/r0.res: drbdadm dump: r0" in proc.stdout
        assert f"ok     {host} /etc/drbd.d/global_common.conf: drbdadm dump" in proc.stdout
    for host in ("lb1", "lb2"):
        assert f"ok     {host} /etc/mon/mon.cf: mon loaded 3 watch(es): lb2 www, web1 www, web2 www" in proc.stdout
    for host in ("mr1", "mr2"):
        assert f"ok     {host} /etc/rsyncd.conf: rsync daemon: modules lvsha-state, www known, unlisted" in proc.stdout
    for host in ("lb1", "lb2", "nas1", "nas2", "mr1", "mr2"):
        assert f"ok     {host} /etc/ha.d/ha.cf: heartbeat accepts it as node {host}" in proc.stdout
    for host in ("lb1", "lb2"):
        assert f"ok     {host} /etc/lvsha/fwmark.nft: nft: table lvsha with 0 mark rule(s)" in proc.stdout
    assert "FAILED" not in proc.stdout and "'skipped " not in proc.stdout


def test_no_secret_is_written_or_shown(rendered) -> None:
    root, proc = rendered
    values = [SECRETS["heartbeat_auth_key"], SECRETS["drbd_shared_secret"], SECRETS["rsync_mirror_pull_password"],
              *SECRETS["lvsha_mirror_rsync_secrets"].values()]
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [value for value in values if value in text], path
    assert not [value for value in values if value in proc.stdout + proc.stderr]
    assert (root / "lb1/etc/ha.d/authkeys").read_text().splitlines()[-2:] == ["auth 1", f"1 sha1 {PLACEHOLDER}"]
    assert f'shared-secret "{PLACEHOLDER}";' in (root / "nas1/etc/drbd.d/r0.res").read_text()
    assert (root / "mr1/etc/lvsha/mirror/rsync.password").read_text() == PLACEHOLDER + "\n"
    assert sorted((root / "mr1/etc/rsyncd.secrets").read_text().splitlines()[-2:]) == [
        f"editor:{PLACEHOLDER}", f"lvsha-pull:{PLACEHOLDER}"]


def test_the_rendered_files_follow_the_model(rendered) -> None:
    root, _proc = rendered
    assert "node lb1\nnode lb2\n" in (root / "lb1/etc/ha.d/ha.cf").read_text()
    assert (root / "lb2/etc/ha.d/haresources").read_text().splitlines()[-1] == "lb1 lvsha-address::192.0.2.50/24::eth1 lvsha-director"
    assert "ucast eth2 198.51.100.42" in (root / "mr1/etc/ha.d/ha.cf").read_text()
    settings = json.loads((root / "mr2/etc/lvsha/mirror.json").read_text())
    assert (settings["node"], settings["peer"], settings["vip"]["cidr"]) == ("mr2", "mr1", "192.0.2.70/24")
    # The package as it is in the collection, run by the launcher in isolated mode.
    for host in ("lb2", "mr1"):
        for module in (REPO / "plugins/module_utils/lvsha_host").glob("*.py"):
            assert (root / host / "usr/local/lib/lvsha/lvsha_host" / module.name).read_bytes() == module.read_bytes()
        assert (root / host / "usr/local/sbin/lvsha").read_text().startswith("#!/usr/bin/python3 -I\n")
    res = (root / "nas2/etc/drbd.d/r0.res").read_text()
    assert re.search(r"on nas1 \{\s+address 198\.51\.100\.31:7789;", res)
    assert "cram-hmac-alg sha1;" in res
    # Fencing: DRBD's handler reaches the peer through dopd, which heartbeat runs on storage pairs only.
    common = (root / "nas1/etc/drbd.d/global_common.conf").read_text()
    assert re.search(r"disk \{[^}]*fencing resource-only;", common)
    assert 'fence-peer "/usr/libexec/heartbeat/drbd-peer-outdater -t 5";' in common
    dopd = "respawn root /usr/libexec/heartbeat/dopd\napiauth dopd uid=root\n"
    assert dopd in (root / "nas1/etc/ha.d/ha.cf").read_text()
    assert "dopd" not in (root / "lb1/etc/ha.d/ha.cf").read_text() + (root / "mr1/etc/ha.d/ha.cf").read_text()
    # Ping nodes (example-storage, example-mirror) bring ipfail, which runs as hacluster.
    ipfail = ("ping 192.0.2.100\ndeadping 5\nrespawn hacluster /usr/libexec/heartbeat/ipfail\n"
              "apiauth ipfail gid=haclient uid=hacluster\n")
    assert ipfail in (root / "nas2/etc/ha.d/ha.cf").read_text()
    assert ipfail in (root / "mr1/etc/ha.d/ha.cf").read_text()
    assert "\nping " not in (root / "lb1/etc/ha.d/ha.cf").read_text()


def checker(root: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), str(root), *options], capture_output=True, text=True, check=False,
                          timeout=120)


def test_a_check_whose_tool_is_missing_is_skipped_or_with_require_failed(rendered, tmp_path) -> None:
    root, _proc = rendered
    # The checker as an execution environment without drbd-utils would run it.
    copy = tmp_path / "check_rendered.py"
    copy.write_text(CHECKER.read_text().replace('DRBDADM = "/usr/lib/drbd/drbdadm-84"', 'DRBDADM = "/nonexistent/drbdadm"', 1))
    proc = subprocess.run([sys.executable, str(copy), str(root)], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skipped nas1 /etc/drbd.d/r0.res: /nonexistent/drbdadm not installed here" in proc.stdout
    assert re.search(r"^ok     lb1 /etc/mon/mon.cf: ", proc.stdout, re.M), proc.stdout
    proc = subprocess.run([sys.executable, str(copy), str(root), "--require"], capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 1
    assert "FAILED nas1 /etc/drbd.d/r0.res: /nonexistent/drbdadm not installed here" in proc.stdout


@pytest.mark.parametrize("host, path, old, new, expected", [
    ("nas1", "etc/drbd.d/r0.res", "protocol C;", "protocol Q;", "unknown protocol 'Q', should be one of A,B,C"),
    # DRBD 9's place for fencing (net): the 8.4 parser, the kernel's, refuses it.
    ("nas1", "etc/drbd.d/global_common.conf", "  net {\n", "  net {\n    fencing resource-only;\n", "Parse error"),
    ("nas1", "etc/drbd.d/global_common.conf", "ping-int", "ping-intt", "Parse error"),
    ("lb1", "etc/mon/mon.cf", "interval 2s", "intervl 2s", "cf error: unknown syntax [intervl 2s]"),
    ("mr1", "etc/rsyncd.conf", "read only = yes", "reed only = yes", 'Unknown Parameter encountered: "reed only"'),
    ("mr1", "etc/rsyncd.conf", "read only = yes", "read only = perhaps", 'Badly formed boolean in configuration file: "perhaps"'),
    ("lb1", "etc/lvsha/fwmark.nft", "policy accept;", "policy acept;", "syntax error"),
    # heartbeat's own rules; the check of ha.cf loads authkeys and haresources with it.
    ("lb1", "etc/ha.d/ha.cf", "deadtime 2\n", "deadtime 30\n", "Initial dead time [20000] is smaller than deadtime [30000]"),
    ("lb1", "etc/ha.d/ha.cf", "keepalive 500ms\n", "keepalive 1\n", "Dead time [2000] is too small compared to keeplive [1000]"),
    ("lb1", "etc/ha.d/ha.cf", "node lb2\n", "node lb2\nnodes lb3\n", "Illegal directive [nodes]"),
    ("lb1", "etc/ha.d/haresources", "lb1 lvsha-address", "lb3 lvsha-address", "Bad nodename in /etc/ha.d//haresources [lb3]"),
    ("lb1", "etc/ha.d/authkeys", "auth 1", "auth 2", "Auth Key [2] not found"),
])
def test_the_checker_refuses_a_file_its_daemon_does_not_accept(rendered, tmp_path, host, path, old, new, expected) -> None:
    root, _proc = rendered
    copy = tmp_path / "out"
    shutil.copytree(root / host, copy / host)
    target = copy / host / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    proc = checker(copy)
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    checked = "etc/ha.d/ha.cf" if path.startswith("etc/ha.d/") else path
    assert len(failed) == 1 and failed[0].startswith(f"FAILED {host} /{checked}: ") and expected in failed[0], proc.stdout


def test_the_checker_refuses_a_watch_without_its_hostgroup(rendered, tmp_path) -> None:
    """mon loads such a watch (it would monitor a host named web2) and only warns."""
    root, _proc = rendered
    copy = tmp_path / "out"
    shutil.copytree(root / "lb1", copy / "lb1")
    target = copy / "lb1/etc/mon/mon.cf"
    text = target.read_text()
    assert "hostgroup web2 192.0.2.22\n" in text
    target.write_text(text.replace("hostgroup web2 192.0.2.22\n", "hostgroup web9 192.0.2.29\n", 1))
    proc = checker(copy)
    assert proc.returncode == 1
    assert "FAILED lb1 /etc/mon/mon.cf: mon warns: Warning: watch group web2 defined with no corresponding hostgroup." \
        in proc.stdout


def test_a_directory_that_render_did_not_write_is_left_alone(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    proc = run_playbook(RENDER, "-e", f"render_dir={tmp_path}", inventories=("lvs",))
    assert proc.returncode != 0
    assert f"render_dir {tmp_path} holds files that render.yml did not write" in words(proc.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    # The play stopped at the check: no role rendered, nothing changed anywhere.
    assert "TASK [Render each role in render mode]" not in proc.stdout
    assert {host: counts["changed"] for host, counts in recap(proc.stdout).items()} == {"lb1": 0}


def test_check_mode_renders_nothing_and_reports_what_it_would_write(tmp_path) -> None:
    target = tmp_path / "out"
    proc = run_playbook(RENDER, "--check", "-e", f"render_dir={target}", inventories=("lvs",))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert not target.exists()
    counters = recap(proc.stdout)
    assert all(counters[host]["changed"] > 0 for host in ("lb1", "lb2", "web1", "web2")), counters
    # Nothing was written, so the daemons' parsers have nothing to load.
    assert re.search(r"TASK \[Load every DRBD file[^\n]*\n+skipping: ", proc.stdout), proc.stdout[-3000:]


def test_the_render_action_follows_no_symlink_and_refuses_dot_components(tmp_path) -> None:
    # render_dir/HOST planted as a symlink elsewhere, and destinations that climb out.
    render_dir, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    render_dir.mkdir()
    elsewhere.mkdir()
    (render_dir / "localhost").symlink_to(elsewhere)
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": f"write {dest}", "lvsha.cluster.render_files": {
            "files": [{"content": "x\n", "dest": dest, "mode": "0644"}], "role_path": str(tmp_path),
            "render_dir": str(render_dir)}, "ignore_errors": True}
        for dest in ("/etc/a.conf", "/etc/../a.conf", "/etc/..")]}]))
    proc = run_playbook(play, inventories=())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert list(elsewhere.iterdir()) == []
    assert proc.stdout.count("FAILED!") == 3, proc.stdout[-3000:]
    assert "not a directory of its own (a symlink?)" in words(proc.stdout)
    (render_dir / "localhost").unlink()
    proc = run_playbook(play, inventories=())
    assert proc.stdout.count("FAILED!") == 2, proc.stdout[-3000:]
    assert "refusing the path component '..' in '/etc/..'" in words(proc.stdout)
    assert "must be an absolute path to a file" in words(proc.stdout)
    assert (render_dir / "localhost/etc/a.conf").read_text() == "x\n"
