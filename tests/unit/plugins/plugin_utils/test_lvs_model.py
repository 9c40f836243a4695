# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LVS part of the cluster model (plugin_utils/_lvs_model.py), through the cluster plan
of plugin_utils/_cluster_plan.py: each host's ``lvs`` section and the model checks.

The good model is the example inventory (inventories/example-lvs/, cluster ``web``), loaded as
Ansible would merge it: group_vars/all.yml, then the host's groups' files, then the host's own
variables. The bad-input cases (one edit each, and the error naming the host, the variable
path and the bad value) are in tests/unit/catalogue/bad_input.yml.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List

import pytest

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import ModelError
from model_inventory import Inventory


@pytest.fixture
def inv() -> Inventory:
    return Inventory("example-lvs")


def hosts_of(inv: Inventory) -> Dict[str, Any]:
    """Every host's sections in the cluster plan; raises ModelError."""
    return build_plan(inv.hostvars(), inv.groups)["hosts"]


def plan_of(inv: Inventory, host: str) -> Dict[str, Any]:
    """The ``lvs`` section of ``host``."""
    return hosts_of(inv)[host]["lvs"]


def haresources_of(inv: Inventory, host: str) -> List[str]:
    """Heartbeat's resource chain on director ``host``."""
    return hosts_of(inv)[host]["heartbeat"]["resources"]


def errors_of(inv: Inventory) -> List[str]:
    return check(inv.hostvars(), inv.groups)[0]


# ------------------------------------------------------------------ the example inventory

WWW_SERVICE = {
    "protocol": "tcp", "address": "192.0.2.50", "port": 80, "scheduler": "wrr",
    "realservers": [
        {"address": "192.0.2.21", "port": 80, "forwarding": "dr", "weight": 1},
        {"address": "192.0.2.22", "port": 80, "forwarding": "dr", "weight": 3},
        {"address": "192.0.2.12", "port": 80, "forwarding": "dr", "weight": 1},
    ],
}
WWW_HEALTH = [{"name": "www", "on_failure": "drain", "service": WWW_SERVICE, "hosts": {"web1": 0, "web2": 1, "lb2": 2},
               "checks": ["www"]}]
WWW_WATCH = [{"name": "www", "monitor": "lvsha-http.monitor -s http -p 80 -t 2 -u / -c 200", "interval": 2, "alertafter": 2,
              "alertafter_within": None, "alertevery": 600, "depend": None}]
WATCHES = [
    {"group": "lb2", "address": "192.0.2.12", "lvs": True, "services": WWW_WATCH},
    {"group": "web1", "address": "192.0.2.21", "lvs": True, "services": WWW_WATCH},
    {"group": "web2", "address": "192.0.2.22", "lvs": True, "services": WWW_WATCH},
]
VIPS = [{"address": "192.0.2.50", "prefix": 24, "interface": "eth1", "cidr": "192.0.2.50/24"}]
HARESOURCES = ["lvsha-address::192.0.2.50/24::eth1", "lvsha-director"]


def test_example_inventory_loads_as_expected(inv: Inventory) -> None:
    assert inv.groups["directors"] == ["lb1", "lb2"]
    assert inv.groups["realservers"] == ["web1", "web2", "lb2"]
    hostvars = inv.hostvars()
    assert hostvars["lb2"]["lvsha_public_address"] == "192.0.2.12"
    assert hostvars["lb2"]["realserver_test_page"] is True
    assert hostvars["web1"]["lvsha_public_interface"] == "eth1"


def test_example_inventory_is_a_valid_model(inv: Inventory) -> None:
    assert errors_of(inv) == []
    assert build_plan(inv.hostvars(), inv.groups)["clusters"] == {
        "web": {"kind": "lvs", "nodes": ["lb1", "lb2"], "preferred": "lb1"}}


def test_plan_of_the_active_director(inv: Inventory) -> None:
    assert plan_of(inv, "lb1") == {
        "cluster": "web",
        "is_director": True,
        "is_realserver": False,
        "doubles_as_realserver": False,
        "directors": ["lb1", "lb2"],
        "vips": VIPS,
        "ipvs_services": [WWW_SERVICE],
        "ipvs": {"services": WWW_HEALTH, "timeouts": {}},
        "fwmarks": [],
        "realserver_vips": [],
        "nat_gateway": None,
        "mon_watches": WATCHES,
    }
    assert haresources_of(inv, "lb1") == HARESOURCES


def test_plan_of_the_backup_director_that_doubles_as_real_server(inv: Inventory) -> None:
    assert plan_of(inv, "lb2") == {
        "cluster": "web",
        "is_director": True,
        "is_realserver": True,
        "doubles_as_realserver": True,
        "directors": ["lb1", "lb2"],
        "vips": VIPS,
        "ipvs_services": [WWW_SERVICE],
        "ipvs": {"services": WWW_HEALTH, "timeouts": {}},
        "fwmarks": [],
        "realserver_vips": [{"address": "192.0.2.50", "forwarding": "dr"}],
        "nat_gateway": None,
        "mon_watches": WATCHES,
    }
    assert haresources_of(inv, "lb2") == HARESOURCES


def test_plan_of_a_real_server(inv: Inventory) -> None:
    hosts = hosts_of(inv)
    plan = hosts["web1"]["lvs"]
    assert plan["cluster"] == "web"
    assert (plan["is_director"], plan["is_realserver"], plan["doubles_as_realserver"]) == (False, True, False)
    assert plan["realserver_vips"] == [{"address": "192.0.2.50", "forwarding": "dr"}]
    # Only a director carries the whole cluster's table, checks and watches: a real server's
    # section stays small however many real servers the cluster has.
    assert sorted(plan) == ["cluster", "directors", "doubles_as_realserver", "is_director", "is_realserver",
                            "nat_gateway", "realserver_vips"]
    # A real server is no node of the heartbeat pair.
    assert "heartbeat" not in hosts["web1"]
    assert hosts["web1"]["roles"] == ["realserver"]


def test_plan_of_a_host_outside_lvs(inv: Inventory) -> None:
    # Neither a director nor a real server: the plan has nothing for it.
    assert "client" not in hosts_of(inv)


def test_plans_do_not_share_mutable_parts(inv: Inventory) -> None:
    plan = plan_of(inv, "lb1")
    plan["ipvs"]["services"][0]["service"]["realservers"][0]["weight"] = 99
    assert plan["ipvs_services"][0]["realservers"][0]["weight"] == 1


# ------------------------------------------------------------------ derived details


def test_defaults_for_an_unnamed_service_without_check(inv: Inventory) -> None:
    inv.services[:] = [{"vip": "192.0.2.50", "port": "443", "realservers": ["web1", "web2", "lb2"]}]
    plan = plan_of(inv, "lb1")
    assert plan["ipvs_services"][0]["scheduler"] == "wlc"
    assert plan["ipvs_services"][0]["port"] == 443
    assert plan["ipvs_services"][0]["realservers"][0] == {"address": "192.0.2.21", "port": 443, "forwarding": "dr", "weight": 1}
    assert plan["ipvs"]["services"][0]["name"] == "tcp-192.0.2.50-443"
    assert plan["ipvs"]["services"][0]["on_failure"] == "drain"
    assert plan["mon_watches"][0]["services"] == [{"name": "tcp-192.0.2.50-443", "monitor": "tcp.monitor -p 443 -t 3",
                                                   "interval": 5, "alertafter": 2, "alertafter_within": None,
                                                   "alertevery": 600, "depend": None}]


def test_nat_service_with_own_ports_persistence_and_check_port(inv: Inventory) -> None:
    inv.model["lvsha_lvs_vips"].append({"address": "192.0.2.51", "prefix": 24})
    inv.services.append({"name": "api", "vip": "192.0.2.51", "port": 8080, "forwarding": "nat", "persistent": 300,
                         "scheduler": "rr", "realservers": [{"host": "web1", "port": 8000}, {"host": "web2", "port": 8001}],
                         "check": {"type": "http", "path": "/health", "port": 9000, "on_failure": "remove"}})
    plan = plan_of(inv, "lb1")
    assert plan["ipvs_services"][1] == {
        "protocol": "tcp", "address": "192.0.2.51", "port": 8080, "scheduler": "rr", "persistent": 300,
        "realservers": [{"address": "192.0.2.21", "port": 8000, "forwarding": "nat", "weight": 1},
                        {"address": "192.0.2.22", "port": 8001, "forwarding": "nat", "weight": 1}]}
    assert plan["ipvs"]["services"][1]["on_failure"] == "remove"
    assert plan["ipvs"]["services"][1]["hosts"] == {"web1": 0, "web2": 1}
    web1 = next(w for w in plan["mon_watches"] if w["group"] == "web1")
    assert [s["name"] for s in web1["services"]] == ["www", "api"]
    assert web1["services"][1]["monitor"] == "lvsha-http.monitor -s http -p 9000 -t 3 -u /health -c 200"
    lb2 = next(w for w in plan["mon_watches"] if w["group"] == "lb2")
    assert [s["name"] for s in lb2["services"]] == ["www"]
    # web1 serves .50 by direct routing (VIP on lo) and .51 through NAT (no VIP at all).
    assert plan_of(inv, "web1")["realserver_vips"] == [{"address": "192.0.2.50", "forwarding": "dr"},
                                                       {"address": "192.0.2.51", "forwarding": "nat"}]


def test_ping_check_and_tunnel_forwarding(inv: Inventory) -> None:
    inv.model["lvsha_lvs_vips"].append({"address": "192.0.2.53", "prefix": 24, "interface": "eth3"})
    inv.services[:] = [{"name": "dns", "vip": "192.0.2.53", "protocol": "udp", "port": 53, "forwarding": "tun",
                        "realservers": ["web1"], "check": {"type": "ping", "timeout": 2}}]
    inv.groups["realservers"].remove("web2")
    inv.groups["realservers"].remove("lb2")
    plan = plan_of(inv, "web1")
    assert plan["realserver_vips"] == [{"address": "192.0.2.53", "forwarding": "tun"}]
    plan = plan_of(inv, "lb1")
    assert plan["mon_watches"][0]["services"][0]["monitor"] == "fping.monitor -t 2000"
    assert plan["vips"][1] == {"address": "192.0.2.53", "prefix": 24, "interface": "eth3", "cidr": "192.0.2.53/24"}
    assert haresources_of(inv, "lb1") == ["lvsha-address::192.0.2.50/24::eth1", "lvsha-address::192.0.2.53/24::eth3", "lvsha-director"]


def two_network_nat(inv: Inventory) -> None:
    """The guides' NAT cluster: the VIP outside, a floating inside address as the real servers'
    gateway, the real servers reached on the private segment; lb2 is a director only."""
    inv.model["lvsha_lvs_vips"].append({"address": "198.51.100.254", "prefix": 24, "segment": "private"})
    inv.services[0].update(forwarding="nat", segment="private")
    del inv.services[0]["realservers"][2]
    inv.groups["realservers"].remove("lb2")


def test_two_network_nat(inv: Inventory) -> None:
    two_network_nat(inv)
    assert errors_of(inv) == []
    lb1 = plan_of(inv, "lb1")
    # The directors send to the real servers' private addresses; both addresses move together.
    assert [rs["address"] for rs in lb1["ipvs_services"][0]["realservers"]] == ["198.51.100.21", "198.51.100.22"]
    assert lb1["vips"][1] == {"address": "198.51.100.254", "prefix": 24, "interface": "eth2", "cidr": "198.51.100.254/24"}
    assert haresources_of(inv, "lb2") == ["lvsha-address::192.0.2.50/24::eth1", "lvsha-address::198.51.100.254/24::eth2", "lvsha-director"]
    assert lb1["mon_watches"][0] == {"group": "web1", "address": "198.51.100.21", "lvs": True,
                                     "services": lb1["mon_watches"][0]["services"]}
    web1 = plan_of(inv, "web1")
    # No VIP on the real server (no ARP settings needed), the inside address its default route.
    assert web1["realserver_vips"] == [{"address": "192.0.2.50", "forwarding": "nat"}]
    assert web1["nat_gateway"] == "198.51.100.254"
    assert lb1["nat_gateway"] is None


def test_one_network_nat_routes_through_the_vip_itself(inv: Inventory) -> None:
    inv.services[0]["forwarding"] = "nat"
    del inv.services[0]["realservers"][2]
    inv.groups["realservers"].remove("lb2")
    assert plan_of(inv, "web2")["nat_gateway"] == "192.0.2.50"


def test_overlapping_inside_subnets_route_through_the_first_declared(inv: Inventory) -> None:
    two_network_nat(inv)
    # A second floating inside address that also holds web1: the first declared is the route.
    inv.model["lvsha_lvs_vips"].append({"address": "198.51.100.253", "prefix": 16, "segment": "private"})
    assert plan_of(inv, "web1")["nat_gateway"] == "198.51.100.254"


def test_direct_routing_to_a_real_server_on_the_same_link_in_another_subnet(inv: Inventory) -> None:
    # DR needs the link (the segment), not the subnet: web1 answers on the public link from 203.0.113.0/24.
    inv.host_vars["web1"]["lvsha_public_address"] = "203.0.113.21"
    assert errors_of(inv) == []
    assert plan_of(inv, "lb1")["ipvs_services"][0]["realservers"][0]["address"] == "203.0.113.21"


def test_a_vip_with_the_guides_host_netmask(inv: Inventory) -> None:
    # 255.255.255.255: the address alone on the directors' interface, no subnet to check.
    inv.model["lvsha_lvs_vips"][0]["prefix"] = 32
    inv.host_vars["lb1"]["lvsha_public_address"] = "203.0.113.11"
    assert errors_of(inv) == []
    assert haresources_of(inv, "lb1") == ["lvsha-address::192.0.2.50/32::eth1", "lvsha-director"]


def test_persistence_by_client_network_and_one_packet_scheduling(inv: Inventory) -> None:
    inv.services[0].update(persistent=600, persistence_netmask="255.255.255.0")
    inv.services.append({"name": "dns", "vip": "192.0.2.50", "protocol": "udp", "port": 53, "one_packet": True,
                         "realservers": ["web1", "web2"], "check": {"type": "ping"}})
    services = plan_of(inv, "lb1")["ipvs_services"]
    assert (services[0]["persistent"], services[0]["netmask"]) == (600, "255.255.255.0")
    assert "ops" not in services[0]
    assert services[1]["ops"] is True and "netmask" not in services[1]


def test_a_firewall_mark_service_and_the_timeouts() -> None:
    # inventories/example-tun: "sticky" gathers 80 and 443 of 192.0.2.51 under mark 1.
    plan = plan_of(Inventory("example-tun"), "lb1")
    assert plan["ipvs_services"][1] == {
        "protocol": "fwmark", "fwmark": 1, "scheduler": "rr", "persistent": 300,
        "realservers": [{"address": "192.0.2.21", "port": None, "forwarding": "tun", "weight": 1},
                        {"address": "192.0.2.22", "port": None, "forwarding": "tun", "weight": 1}]}
    assert plan["fwmarks"] == [{"name": "sticky", "mark": 1, "vip": "192.0.2.51", "protocol": "tcp", "ports": [80, 443]}]
    assert plan["ipvs"]["timeouts"] == {"tcp": 600, "tcpfin": 60}
    # mon checks the first of the ports; the real servers carry the second VIP on tunl0.
    assert [s["monitor"] for s in plan["mon_watches"][0]["services"]] == [
        "lvsha-http.monitor -s http -p 80 -t 2 -u / -c 200", "lvsha-http.monitor -s http -p 80 -t 2 -u / -c 200"]
    assert plan_of(Inventory("example-tun"), "web1")["realserver_vips"] == [
        {"address": "192.0.2.50", "forwarding": "tun"}, {"address": "192.0.2.51", "forwarding": "tun"}]


def test_a_sorry_server_is_planned_as_a_stand_in(inv: Inventory) -> None:
    # lb2 leaves the pool and stands in while web1 and web2 are both down.
    del inv.services[0]["realservers"][2]
    inv.services[0]["sorry_server"] = "lb2"
    hosts = hosts_of(inv)
    health = hosts["lb1"]["lvs"]["ipvs"]["services"][0]
    assert health["sorry"] == {"address": "192.0.2.12", "port": 80, "forwarding": "dr", "weight": 1}
    assert health["hosts"] == {"web1": 0, "web2": 1}
    assert [rs["address"] for rs in health["service"]["realservers"]] == ["192.0.2.21", "192.0.2.22"]
    # Set up as a real server of the VIP (on lo), but not watched by mon.
    assert hosts["lb2"]["lvs"]["realserver_vips"] == [{"address": "192.0.2.50", "forwarding": "dr"}]
    assert "realserver" in hosts["lb2"]["roles"]
    assert [w["group"] for w in hosts["lb1"]["lvs"]["mon_watches"]] == ["web1", "web2"]


def test_vip_interface_defaults_to_the_planned_hosts_public_interface(inv: Inventory) -> None:
    inv.host_vars["lb2"]["lvsha_public_interface"] = "ens3"
    assert haresources_of(inv, "lb2") == ["lvsha-address::192.0.2.50/24::ens3", "lvsha-director"]
    assert haresources_of(inv, "lb1") == HARESOURCES


def test_no_services_is_a_valid_model(inv: Inventory) -> None:
    # The pair still holds its VIP; only the real servers go.
    inv.model["lvsha_lvs_services"] = []
    inv.groups["realservers"] = []
    assert errors_of(inv) == []
    hosts = hosts_of(inv)
    assert sorted(hosts) == ["lb1", "lb2"]
    assert (hosts["lb1"]["lvs"]["ipvs_services"], hosts["lb1"]["lvs"]["mon_watches"]) == ([], [])
    assert hosts["lb1"]["heartbeat"]["resources"] == HARESOURCES


def test_the_model_is_read_from_the_first_director_and_a_member_that_sees_another_value_is_reported(
        inv: Inventory) -> None:
    own = [{"vip": "192.0.2.50", "port": 0, "realservers": ["web1"]}]
    inv.host_vars["web2"]["lvsha_lvs_services"] = own
    # A host outside the cluster may see anything.
    inv.host_vars["client"]["lvsha_lvs_services"] = own
    assert errors_of(inv) == [
        f"host web2: lvsha_lvs_services = {own!r}: differs from the value on lb1 ({inv.services!r}); "
        "a cluster-wide variable has one value for every host of cluster web: set it once, on the cluster's group"]


# ------------------------------------------------------------------ errors
# The bad-input cases are in tests/unit/catalogue/bad_input.yml.


def test_error_message_format(inv: Inventory) -> None:
    inv.services[0]["port"] = 0
    assert errors_of(inv) == ["host lb1: lvsha_lvs_services[0].port = 0: must be 1..65535"]


def test_every_error_is_reported_in_one_call(inv: Inventory) -> None:
    inv.services[0]["scheduler"] = "fast"
    inv.services[0]["realservers"][2]["weight"] = 70000
    inv.services[0]["segment"] = "inside"
    inv.host_vars["lb2"]["lvsha_public_address"] = "203.0.113.12"
    errors = errors_of(inv)
    assert errors[0].startswith("host lb1: lvsha_lvs_services[0].scheduler = 'fast': ipvsadm knows ")
    assert "host lb1: lvsha_lvs_services[0].segment = 'inside': must be one of public, private" in errors
    assert "host lb1: lvsha_lvs_services[0].realservers[2].weight = 70000: must be 0..65535" in errors
    assert any(e.startswith("host lb2: lvsha_public_address = '203.0.113.12': must be inside") for e in errors)
    assert len(errors) == 4


def test_build_plan_raises_model_error_with_every_error(inv: Inventory) -> None:
    inv.services[0]["port"] = 70000
    inv.services[0]["check"]["type"] = "imap"
    with pytest.raises(ModelError) as caught:
        build_plan(inv.hostvars(), inv.groups)
    # One plan for every host: the cluster-wide values are read from the first director.
    assert caught.value.errors == [
        "host lb1: lvsha_lvs_services[0].port = 70000: must be 1..65535",
        "host lb1: lvsha_lvs_services[0].check.type = 'imap': must be one of http, https, tcp, ping, smtp, dns, command",
    ]
    assert str(caught.value) == "\n".join(caught.value.errors)


# ------------------------------------------------------------------ regressions


def test_duplicate_integer_service_names_are_refused(inv: Inventory) -> None:
    inv.services[0]["name"] = 8080
    inv.services.append(dict(copy.deepcopy(inv.services[0]), port=81))
    assert any(e.startswith("host lb1: lvsha_lvs_services[1].name = '8080': is already used") for e in errors_of(inv))


def test_realserver_vips_do_not_depend_on_service_order(inv: Inventory) -> None:
    nat = {"name": "api", "vip": "192.0.2.50", "port": 8080, "forwarding": "nat",
           "realservers": [{"host": "web1", "port": 8000}]}
    inv.services.insert(0, nat)
    assert any(e.startswith("host lb1: lvsha_lvs_services[1].forwarding = 'dr': web1 is already a nat real server")
               for e in errors_of(inv))


def test_unhashable_realserver_host_is_an_error_not_a_crash(inv: Inventory) -> None:
    inv.services[0]["realservers"][0]["host"] = ["web1"]
    errors = errors_of(inv)
    assert any(e.startswith("host lb1: lvsha_lvs_services[0].realservers[0].host = ['web1']:") for e in errors)
