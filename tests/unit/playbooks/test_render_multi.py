# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate.yml and render.yml over several clusters of each kind in one inventory
(inventories/example-multi: two LVS clusters, two storage pairs, a mirror pair), on the
controller alone: its hosts do not resolve here, so a run that reached one would show it
unreachable."""
from __future__ import annotations

import pytest

from playbook_run import REPO, recap, run_playbook, words

HOSTS = ("shop-lb1", "shop-lb2", "shop-web1", "shared-web", "blog-lb1", "blog-lb2", "blog-web1",
         "nas-a1", "nas-a2", "nas-b1", "nas-b2", "pages1", "pages2")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("render-multi") / "out"
    proc = run_playbook(REPO / "playbooks" / "render.yml", "-vv", "-e", f"render_dir={root}", inventories=("multi",))
    return root, proc


# The cluster filters say, at -vv, each time they read the inventory and build the plan.
PLANNED = "lvsha.cluster: cluster model of 13 hosts checked and planned"


def test_validate_names_every_cluster() -> None:
    proc = run_playbook(REPO / "playbooks" / "validate.yml", "-vv", inventories=("multi",))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "the cluster model is valid (clusters: shop, blog, nas-a, nas-b, pages)" in proc.stdout
    assert proc.stdout.count(PLANNED) == 1


def test_render_plans_once_for_every_host_and_role(rendered) -> None:
    # Every role's rendering (lvsha.cluster.render_host) takes the plan that render.yml built.
    _root, proc = rendered
    assert proc.stdout.count(PLANNED) == 1, [line for line in proc.stdout.splitlines() if "lvsha.cluster: " in line]


def test_every_host_of_every_cluster_is_rendered_on_the_controller(rendered) -> None:
    root, proc = rendered
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    counters = recap(proc.stdout)
    assert set(counters) == set(HOSTS)
    assert all(c["unreachable"] == 0 and c["failed"] == 0 for c in counters.values()), counters
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(HOSTS)


def test_each_pair_gets_its_own_heartbeat_wiring(rendered) -> None:
    root, _proc = rendered

    def haresources(host: str) -> str:
        return [line for line in (root / host / "etc/ha.d/haresources").read_text().splitlines()
                if not line.startswith("#")][0]

    assert haresources("shop-lb2") == "shop-lb1 lvsha-address::192.0.2.50/24::eth1 lvsha-director"
    assert haresources("blog-lb1") == "blog-lb1 lvsha-address::192.0.2.51/24::eth1 lvsha-director"
    assert haresources("nas-b1") == ("nas-b1 drbddisk::bdata Filesystem::/dev/drbd0::/srv/b::ext4 lvsha-nfs-state "
                                     "lvsha-address::192.0.2.61/24::eth1 nfs-kernel-server lvsha-watch")
    # The pair's preferred node and the user's resource after the pair's own; the watch's last.
    assert haresources("pages1") == ("pages2 lvsha-mirror-sync lvsha-address::192.0.2.70/24::eth1 lvsha-mirror-serve Delay::2::0 "
                                     "lvsha-watch")
    hacf = (root / "blog-lb2" / "etc/ha.d/ha.cf").read_text()
    assert "ucast eth1 192.0.2.13\n" in hacf and "ucast eth2 198.51.100.13\n" in hacf
    assert "node blog-lb1\nnode blog-lb2\n" in hacf


def test_each_heartbeat_path_is_written_as_its_medium(rendered) -> None:
    root, _proc = rendered

    def media(host: str) -> list:
        return [line for line in (root / host / "etc/ha.d/ha.cf").read_text().splitlines()
                if line.split(" ", 1)[0] in ("ucast", "bcast", "mcast", "serial", "baud")]

    assert media("nas-a2") == ["ucast eth1 192.0.2.31", "bcast eth2", "serial /dev/ttyS0", "baud 19200"]
    assert "\nlogfile /var/log/ha-log\n" in (root / "nas-a2/etc/ha.d/ha.cf").read_text()
    assert "logfile" not in (root / "pages1/etc/ha.d/ha.cf").read_text()
    assert media("pages1") == ["mcast eth1 239.192.0.1 694 1 0", "ucast eth2 198.51.100.42"]


def test_the_daemons_load_every_pair_s_files(rendered) -> None:
    root, proc = rendered
    shown = words(proc.stdout)
    for line in ("ok     shop-lb1 /etc/mon/mon.cf: mon loaded 2 watch(es): shared-web shop-www, shop-web1 shop-www",
                 "ok     blog-lb2 /etc/mon/mon.cf: mon loaded 2 watch(es): blog-web1 blog-www, shared-web blog-www",
                 "ok     nas-a2 /etc/drbd.d/adata.res: drbdadm dump: adata",
                 "ok     nas-b1 /etc/drbd.d/bdata.res: drbdadm dump: bdata"):
        assert words(line) in shown, line
    assert "ok pages1 /etc/rsyncd.conf: rsync daemon: modules lvsha-state, www known" in shown
    for host in ("shared-web", "blog-web1"):
        assert (root / host / "etc/lvsha/realserver.conf").exists()
