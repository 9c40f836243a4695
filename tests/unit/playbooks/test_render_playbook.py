# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/render.yml over the three example inventories, on the controller alone.

One rendering (module fixture) is inspected file by file: which files each host gets and
with which mode, that no secret reaches a file or the output, and that the daemons' parsers
accepted them. The checker itself is then shown to refuse broken files.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from playbook_run import REPO, recap, run_playbook

RENDER = REPO / "playbooks" / "render.yml"
CHECKER = REPO / "playbooks" / "files" / "check_rendered.py"
PLACEHOLDER = "NOT-RENDERED"
# Vaulted in a real inventory; here extra variables, so that the test knows the values.
SECRETS = {"heartbeat_auth_key": "hb-key-5f2c9a7e01", "drbd_shared_secret": "drbd-secret-0b1d83",
           "rsync_mirror_pull_password": "pull-pass-77e1c4", "lvsha_mirror_rsync_secrets": {"editor": "editor-pass-3a9d"}}

REALSERVER = {"/etc/sysctl.d/60-lvsha-realserver.conf": "644", "/etc/lvsha/realserver.conf": "644",
              "/usr/local/sbin/lvsha-realserver": "755", "/etc/systemd/system/lvsha-realserver.service": "644",
              "/var/www/html/index.html": "644"}
# The lvsha command and its package (roles/host_package), on every director and mirror node.
HOST_PACKAGE = {"/usr/local/sbin/lvsha": "755", **{f"/usr/local/lib/lvsha/lvsha_host/{module}": "644" for module in (
    "__init__.py", "_arp.py", "_ipvs.py", "cli.py", "ipvs.py", "mirror.py")}}
DIRECTOR = {"/etc/sysctl.d/60-lvsha-director.conf": "644", "/etc/ha.d/resource.d/lvsha-director": "755",
            "/etc/lvsha/ipvs.json": "644", **HOST_PACKAGE,
            "/etc/mon/mon.cf": "644", "/etc/sudoers.d/lvsha-mon": "440", "/usr/lib/mon/alert.d/lvs.alert": "755"}
HEARTBEAT = {"/etc/ha.d/ha.cf": "644", "/etc/ha.d/haresources": "644", "/etc/ha.d/authkeys": "600"}
STORAGE = {"/etc/drbd.d/global_common.conf": "644", "/etc/drbd.d/r0.res": "600",
           "/etc/systemd/system/heartbeat.service.d/lvsha-drbd.conf": "644", "/etc/nfs.conf": "644", "/etc/exports": "644",
           "/etc/ha.d/resource.d/lvsha-nfs-state": "755"}
MIRROR = {"/etc/rsyncd.conf": "644", "/etc/rsyncd.secrets": "600", "/etc/lvsha/mirror/rsync.password": "600",
          "/etc/lvsha/mirror.json": "644", "/etc/lvsha/mirror/www.exclude": "644", **HOST_PACKAGE,
          "/etc/systemd/system/lvsha-mirror-pull.service": "644",
          "/etc/systemd/system/lvsha-mirror-pull.timer": "644", "/etc/systemd/system/lvsha-mirror-catchup.service": "644",
          "/etc/ha.d/resource.d/lvsha-mirror-sync": "755", "/etc/ha.d/resource.d/lvsha-mirror-serve": "755"}
EXPECTED = {
    "web1": REALSERVER, "web2": REALSERVER,
    # lb1 loads the table before heartbeat starts; lb2 doubles as a real server and does not.
    "lb1": {**DIRECTOR, **HEARTBEAT, "/etc/systemd/system/heartbeat.service.d/lvsha-director.conf": "644"},
    "lb2": {**DIRECTOR, **HEARTBEAT, **REALSERVER},
    "nas1": {**STORAGE, **HEARTBEAT}, "nas2": {**STORAGE, **HEARTBEAT},
    "mr1": {**MIRROR, **HEARTBEAT}, "mr2": {**MIRROR, **HEARTBEAT},
}
# The examples' clients: the rendering play runs on every host, and the plan gives them no role,
# so they get no file.
CLIENTS = ("client", "nfsclient")


def tree(root: Path) -> Dict[str, Dict[str, str]]:
    """Host -> {path on the host: octal mode} of a rendering."""
    return {host.name: {"/" + str(path.relative_to(host)): format(path.stat().st_mode & 0o777, "o")
                        for path in host.rglob("*") if path.is_file()}
            for host in sorted(root.iterdir()) if host.is_dir()}


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
    assert set(counters) == {"localhost", *EXPECTED, *CLIENTS}
    for host, count in counters.items():
        assert count["unreachable"] == 0 and count["failed"] == 0, f"{host}: {count}"
    for host in CLIENTS:
        assert (counters[host]["ok"], counters[host]["changed"]) == (0, 0), f"{host}: {counters[host]}"


def test_every_host_gets_exactly_the_files_the_roles_install_with_their_modes(rendered) -> None:
    root, _proc = rendered
    assert tree(root) == EXPECTED
    assert (root / ".lvsha-render").is_file()


def test_the_daemons_accepted_the_rendered_files(rendered) -> None:
    _root, proc = rendered
    for host in ("nas1", "nas2"):
        assert f"ok     {host} /etc/drbd.d/r0.res: drbdadm dump: r0" in proc.stdout
        assert f"ok     {host} /etc/drbd.d/global_common.conf: drbdadm dump" in proc.stdout
    for host in ("lb1", "lb2"):
        assert f"ok     {host} /etc/mon/mon.cf: mon loaded 3 watch(es): lb2 www, web1 www, web2 www" in proc.stdout
    for host in ("mr1", "mr2"):
        assert f"ok     {host} /etc/rsyncd.conf: rsync daemon: modules lvsha-state, www known, unlisted" in proc.stdout
    assert "FAILED" not in proc.stdout


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
    assert (root / "lb2/etc/ha.d/haresources").read_text().splitlines()[-1] == "lb1 IPaddr2::192.0.2.50/24/eth1 lvsha-director"
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


def checker(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), str(root)], capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize("host, path, old, new, expected", [
    ("nas1", "etc/drbd.d/r0.res", "protocol C;", "protocol Q;", "Parse error: while parsing value ('Q')"),
    ("nas1", "etc/drbd.d/global_common.conf", "ping-int", "ping-intt", "Parse error"),
    ("lb1", "etc/mon/mon.cf", "interval 2s", "intervl 2s", "cf error: unknown syntax [intervl 2s]"),
    ("mr1", "etc/rsyncd.conf", "read only = yes", "reed only = yes", 'Unknown Parameter encountered: "reed only"'),
    ("mr1", "etc/rsyncd.conf", "read only = yes", "read only = perhaps", 'Badly formed boolean in configuration file: "perhaps"'),
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
    assert len(failed) == 1 and failed[0].startswith(f"FAILED {host} /{path}: ") and expected in failed[0], proc.stdout


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
    assert f"render_dir {tmp_path} holds files that render.yml did not write" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert list(recap(proc.stdout)) == ["localhost"]
