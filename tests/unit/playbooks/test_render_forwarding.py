# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate.yml and render.yml on the clusters that forward by NAT and by tunnelling
(inventories/example-nat, example-tun), on the controller alone: NAT's directors carry the VIP
and the inside address, its real servers route through the latter and hide no VIP; TUN's real
servers carry the VIP on tunl0, hidden from ARP and from the reverse-path filter; TUN's fwmark
service is marked by the directors' nftables table, and NAT's mon pings each real server before
its service checks. And direct routing to a real server on the VIP's link in another subnet."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from playbook_run import REPO, run_playbook


@pytest.fixture(scope="module", params=["nat", "tun"])
def rendered(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"render-{request.param}") / "out"
    proc = run_playbook(REPO / "playbooks" / "render.yml", "-e", f"render_dir={root}", inventories=(request.param,))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["lb1", "lb2", "web1", "web2"]
    return request.param, root


@pytest.mark.parametrize("example", ["nat", "tun"])
def test_validate_accepts_the_example(example: str) -> None:
    proc = run_playbook(REPO / "playbooks" / "validate.yml", inventories=(example,))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"the cluster model is valid (clusters: {example})" in proc.stdout


def lines(path) -> list:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_the_directors_move_every_floating_address_together(rendered) -> None:
    example, root = rendered
    addresses = {"nat": "lvsha-address::192.0.2.50/24::eth1 lvsha-address::198.51.100.254/24::eth2",
                 "tun": "lvsha-address::192.0.2.50/24::eth1 lvsha-address::192.0.2.51/24::eth1"}[example]
    for host in ("lb1", "lb2"):
        assert lines(root / host / "etc/ha.d/haresources") == [f"lb1 {addresses} lvsha-director"]
    assert "net.ipv4.ip_forward = 1" in lines(root / "lb1/etc/sysctl.d/60-lvsha-director.conf")


def test_each_real_server_is_set_up_for_the_forwarding(rendered) -> None:
    example, root = rendered
    for host in ("web1", "web2"):
        conf = lines(root / host / "etc/lvsha/realserver.conf")
        sysctl = lines(root / host / "etc/sysctl.d/60-lvsha-realserver.conf")
        if example == "nat":
            assert 'NAT_GATEWAY="198.51.100.254"' in conf
            assert 'LO_VIPS=""' in conf and 'TUN_VIPS=""' in conf
            assert sysctl == []  # no VIP on the host, so no ARP setting
        else:
            assert 'TUN_VIPS="192.0.2.50 192.0.2.51"' in conf and 'NAT_GATEWAY=""' in conf
            assert "net.ipv4.conf.all.arp_ignore = 1" in sysctl
            assert "net.ipv4.conf.tunl0.rp_filter = 0" in sysctl


def test_the_fwmark_service_is_marked_and_mon_watches_as_the_model_says(rendered) -> None:
    example, root = rendered
    marks = lines(root / "lb1/etc/lvsha/fwmark.nft")
    rules = [line.strip() for line in marks if "meta mark set" in line]
    mon = (root / "lb1/etc/mon/mon.cf").read_text()
    if example == "tun":
        assert rules == ['ip daddr 192.0.2.51 tcp dport { 80, 443 } meta mark set 1 comment "sticky"']
        assert json.loads((root / "lb1/etc/lvsha/ipvs.json").read_text())["timeouts"] == {"tcp": 600, "tcpfin": 60}
        assert "depend SELF" not in mon
        return
    assert rules == [], "an empty table where the cluster has no fwmark service"
    web1 = mon[mon.index("watch web1"):mon.index("\n\n", mon.index("watch web1"))]
    assert "service ping" in web1 and "monitor fping.monitor -r 0 -t 1000" in web1
    assert web1.count("depend SELF:ping") == 1 and "alertafter 3\n" in web1
    watch = mon[mon.index("watch directors-ssh"):]
    assert "monitor tcp.monitor -p 22 -t 3" in watch and "lvs.alert" not in watch
    assert "upalert file.alert -d /var/log/mon -S came-back alerts.log" in watch


def test_direct_routing_to_a_real_server_in_another_subnet_of_the_link(tmp_path) -> None:
    inventory = tmp_path / "example-lvs"
    shutil.copytree(REPO / "inventories/example-lvs", inventory)
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    hosts["all"]["children"]["realservers"]["hosts"]["web1"]["lvsha_public_address"] = "203.0.113.21"
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    proc = run_playbook(REPO / "playbooks" / "validate.yml", inventories=(str(inventory / "hosts.yml"),))
    assert proc.returncode == 0, proc.stdout[-3000:]
    root = tmp_path / "out"
    proc = run_playbook(REPO / "playbooks" / "render.yml", "-e", f"render_dir={root}",
                        inventories=(str(inventory / "hosts.yml"),))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    table = json.loads((root / "lb1/etc/lvsha/ipvs.json").read_text())
    assert [rs["address"] for rs in table["services"][0]["service"]["realservers"]] == ["203.0.113.21", "192.0.2.22", "192.0.2.12"]
    assert 'LO_VIPS="192.0.2.50"' in (root / "web1/etc/lvsha/realserver.conf").read_text()
