# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvsha.cluster.render_host, render.yml's rendering step: each host's files templated with the
variables a deploy run gives the role (role defaults < inventory < role vars < extra vars), the
role's vars/render.yml over all of them, and nothing written outside render_dir whatever the
inventory or the plan names."""
from __future__ import annotations

from pathlib import Path

import yaml

from playbook_run import REPO, recap, run_playbook, words

RENDER = REPO / "playbooks" / "render.yml"


def test_the_host_s_variables_are_layered_as_in_a_deploy_run(tmp_path: Path) -> None:
    # A second inventory source adds to the example's hosts: web2 sets a role default, web1 the
    # role's internal variables (role vars outrank the inventory, as in a deploy run).
    extra_inventory = tmp_path / "more.yml"
    extra_inventory.write_text(yaml.safe_dump({"all": {"hosts": {
        "web2": {"realserver_arp_interfaces": ["eth7"]},
        "web1": {"realserver__files": [{"content": "planted\n", "dest": "/etc/planted", "mode": "0644"}],
                 "realserver__nat_gateway": '192.0.2.1"\nPLANTED="1'}}}}))
    out = tmp_path / "out"
    # Extra variables outrank role vars, as in a deploy run, but not the rendering's bindings
    # of the secrets (the roles' vars/render.yml).
    proc = run_playbook(RENDER, "-i", str(extra_inventory), "-e", f"render_dir={out}",
                        "-e", '{"realserver__nat_gateway": "192.0.2.254", "heartbeat__key": "key-from-extra-vars-5d1e"}',
                        inventories=("lvs",))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "eth7" in (out / "web2/etc/sysctl.d/60-lvsha-realserver.conf").read_text()
    assert "eth7" not in (out / "web1/etc/sysctl.d/60-lvsha-realserver.conf").read_text()
    assert not (out / "web1/etc/planted").exists()
    for host in ("web1", "web2"):
        conf = (out / host / "etc/lvsha/realserver.conf").read_text()
        assert 'NAT_GATEWAY="192.0.2.254"\n' in conf and "PLANTED" not in conf, conf
    assert (out / "lb1/etc/ha.d/authkeys").read_text().splitlines()[-1] == "1 sha1 NOT-RENDERED"
    assert "key-from-extra-vars-5d1e" not in "".join(p.read_text() for p in out.rglob("*") if p.is_file())


def shown(proc) -> str:
    """The output as words, a YAML single-quoted message's doubled quotes undone (ansible-core
    before 2.19 quotes a message that holds a quote)."""
    return words(proc.stdout).replace("''", "'")


def action_play(tmp_path: Path, render_dir: Path, roles: list, hosts: tuple = ("localhost",)) -> Path:
    """A play that runs the action alone, with a plan giving each host ``roles``."""
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{
        "hosts": "weird" if hosts != ("localhost",) else "localhost", "gather_facts": False, "connection": "local",
        "vars": {"lvsha__model": {"plan": {"hosts": {host: {"roles": roles} for host in hosts}}}},
        "tasks": [{"name": "Render", "lvsha.cluster.render_host": {"render_dir": str(render_dir), "secret": "x"}}]}]))
    return play


def test_a_host_name_that_is_not_a_plain_directory_name_is_refused(tmp_path: Path) -> None:
    render_dir = tmp_path / "out"
    render_dir.mkdir()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"weird": {"hosts": {"../escaped": {}, ".lvsha-render": {}}}}}}))
    play = action_play(tmp_path, render_dir, ["realserver"], hosts=("../escaped", ".lvsha-render"))
    proc = run_playbook(play, "-i", str(inventory), inventories=())
    assert "refusing to render host '../escaped': its name is not a plain directory name" in shown(proc), proc.stdout[-3000:]
    assert "refusing to render host '.lvsha-render': its name is not a plain directory name" in shown(proc)
    counters = recap(proc.stdout)
    assert (counters["../escaped"]["failed"], counters[".lvsha-render"]["failed"]) == (1, 1), counters
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["hosts.yml", "out", "play.yml"]


def test_a_role_the_collection_does_not_have_is_refused(tmp_path: Path) -> None:
    render_dir = tmp_path / "out"
    render_dir.mkdir()
    proc = run_playbook(action_play(tmp_path, render_dir, ["../../../tmp"]), inventories=())
    assert "the plan names a role '../../../tmp' that lvsha.cluster does not have" in shown(proc), proc.stdout[-3000:]
    assert list(render_dir.iterdir()) == []


def test_no_symlink_in_render_dir_is_followed(tmp_path: Path) -> None:
    render_dir, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    render_dir.mkdir()
    elsewhere.mkdir()
    (render_dir / "localhost").symlink_to(elsewhere)
    proc = run_playbook(action_play(tmp_path, render_dir, ["realserver"]), inventories=())
    assert "not a directory of its own (a symlink?)" in shown(proc), proc.stdout[-3000:]
    assert list(elsewhere.iterdir()) == []


def test_a_pair_s_heartbeat_settings_are_checked_by_the_role_before_any_file_is_written(tmp_path: Path) -> None:
    """The model leaves these to the heartbeat role's tasks/plan.yml, which render.yml runs on
    the pairs' nodes before rendering."""
    extra_inventory = tmp_path / "more.yml"
    extra_inventory.write_text(yaml.safe_dump({"all": {"hosts": {"lb1": {"lvsha_private_address": None}}}}))
    out = tmp_path / "out"
    proc = run_playbook(RENDER, "-i", str(extra_inventory), "-e", f"render_dir={out}", inventories=("lvs",))
    assert proc.returncode != 0
    assert "host lb1: heartbeat path private needs lvsha_private_interface and lvsha_private_address" in shown(proc)
    assert "TASK [Render each role in render mode]" not in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == [".lvsha-render"]
