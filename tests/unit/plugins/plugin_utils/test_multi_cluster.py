# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster plan of plugin_utils/_cluster_plan.py over several clusters of each kind
(inventories/example-multi), and the rules across clusters and across the hosts of one."""
from __future__ import annotations

import copy
from typing import Any, Dict, List

import pytest

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import ModelError
from model_inventory import Inventory, assert_reported


@pytest.fixture
def multi() -> Inventory:
    return Inventory("example-multi")


def errors_of(hostvars: Dict[str, Any], groups: Dict[str, List[str]]) -> List[str]:
    return check(hostvars, groups)[0]


def test_two_lvs_clusters_two_storage_pairs_and_a_mirror_pair_are_planned(multi: Inventory) -> None:
    plan = build_plan(multi.hostvars(), multi.groups)
    assert {name: (c["kind"], c["nodes"], c["preferred"]) for name, c in plan["clusters"].items()} == {
        "shop": ("lvs", ["shop-lb1", "shop-lb2"], "shop-lb1"),
        "blog": ("lvs", ["blog-lb1", "blog-lb2"], "blog-lb1"),
        "nas-a": ("storage", ["nas-a1", "nas-a2"], "nas-a1"),
        "nas-b": ("storage", ["nas-b1", "nas-b2"], "nas-b1"),
        "pages": ("mirror", ["pages1", "pages2"], "pages2"),
    }
    hosts = plan["hosts"]
    assert {host: sections["roles"] for host, sections in hosts.items()} == {
        **{h: ["director", "mon", "heartbeat"] for h in ("shop-lb1", "shop-lb2", "blog-lb1", "blog-lb2")},
        **{h: ["realserver"] for h in ("shop-web1", "shared-web", "blog-web1")},
        **{h: ["drbd", "nfs", "heartbeat"] for h in ("nas-a1", "nas-a2", "nas-b1", "nas-b2")},
        **{h: ["rsync_mirror", "heartbeat"] for h in ("pages1", "pages2")},
    }
    # Each director plans its own cluster only.
    assert [s["address"] for s in hosts["blog-lb2"]["lvs"]["ipvs_services"]] == ["192.0.2.51"]
    assert [w["group"] for w in hosts["shop-lb1"]["lvs"]["mon_watches"]] == ["shared-web", "shop-web1"]
    assert hosts["blog-lb1"]["heartbeat"]["resources"] == ["lvsha-address::192.0.2.51/24::eth1", "lvsha-director"]
    # A real server of both LVS clusters carries both VIPs.
    assert hosts["shared-web"]["lvs"]["realserver_vips"] == [
        {"address": "192.0.2.50", "forwarding": "dr"}, {"address": "192.0.2.51", "forwarding": "dr"}]
    assert hosts["nas-b2"]["storage"]["resources"][0]["peers"] == [
        {"name": "nas-b1", "address": "198.51.100.33"}, {"name": "nas-b2", "address": "198.51.100.34"}]
    assert hosts["nas-b2"]["heartbeat"]["resources"][-3:] == ["lvsha-address::192.0.2.61/24::eth1", "nfs-kernel-server",
                                                              "lvsha-watch"]


def test_a_user_resource_and_the_preferred_node_reach_the_pair(multi: Inventory) -> None:
    heartbeat = build_plan(multi.hostvars(), multi.groups)["hosts"]["pages1"]["heartbeat"]
    assert heartbeat["preferred"] == "pages2"
    assert heartbeat["resources"] == ["lvsha-mirror-sync", "lvsha-address::192.0.2.70/24::eth1", "lvsha-mirror-serve",
                                      "Delay::2::0", "lvsha-watch"]
    assert [(n["host"], n["addresses"], n["interfaces"]) for n in heartbeat["nodes"]] == [
        ("pages1", {"public": "192.0.2.41", "private": "198.51.100.41"}, {"public": "eth1", "private": "eth2"}),
        ("pages2", {"public": "192.0.2.42", "private": "198.51.100.42"}, {"public": "eth1", "private": "eth2"}),
    ]


def test_the_plan_is_one_for_all_hosts_whatever_their_own_copies(multi: Inventory) -> None:
    """The plan takes cluster-wide values from the pair's first node only: the real servers'
    plans never depend on what their own variables say."""
    hostvars = multi.hostvars()
    plain = build_plan(hostvars, multi.groups)
    assert "lvsha_lvs_vips" not in hostvars["shop-web1"]
    assert plain["hosts"]["shop-web1"]["lvs"]["realserver_vips"] == [{"address": "192.0.2.50", "forwarding": "dr"}]


@pytest.mark.parametrize("variable, value, host, source", [
    ("lvsha_lvs_vips", [{"address": "192.0.2.51", "prefix": 24}], "web1", "lb1"),
    ("lvsha_lvs_services", [], "lb2", "lb1"),
])
def test_a_host_that_sees_another_cluster_wide_value_is_reported(variable: str, value: Any, host: str, source: str) -> None:
    inv = Inventory("example-lvs")
    hostvars = inv.hostvars()
    hostvars[host][variable] = value
    assert_reported(errors_of(hostvars, inv.groups), host, variable, value,
                    f"differs from the value on {source} (")


def test_a_pair_node_that_lacks_a_cluster_wide_value_is_reported() -> None:
    inv = Inventory("example-storage")
    hostvars = inv.hostvars()
    del hostvars["nas2"]["lvsha_nfs_exports"]
    assert_reported(errors_of(hostvars, inv.groups), "nas2", "lvsha_nfs_exports", None, "differs from the value on nas1")


def test_a_secret_cluster_wide_value_is_not_shown_when_hosts_disagree() -> None:
    inv = Inventory("example-mirror")
    hostvars = inv.hostvars()
    hostvars["mr1"]["lvsha_mirror_rsync_secrets"] = {"backup": "s3cret-one"}
    hostvars["mr2"]["lvsha_mirror_rsync_secrets"] = {"backup": "s3cret-two"}
    errors = errors_of(hostvars, inv.groups)
    assert_reported(errors, "mr2", "lvsha_mirror_rsync_secrets", type("Shown", (), {"__repr__": lambda s: "(not shown)"})(),
                    "differs from the value on mr1 ((not shown))")
    assert not any("s3cret" in error for error in errors)


def test_two_clusters_that_claim_the_same_vip_are_reported(multi: Inventory) -> None:
    hostvars = multi.hostvars()
    for host in ("blog-lb1", "blog-lb2"):
        hostvars[host]["lvsha_lvs_vips"][0]["address"] = "192.0.2.50"
        hostvars[host]["lvsha_lvs_services"][0]["vip"] = "192.0.2.50"
    assert_reported(errors_of(hostvars, multi.groups), "blog-lb1", "lvsha_lvs_vips[0].address", "192.0.2.50",
                    "is already the floating address lvsha_lvs_vips[0].address of shop-lb1 (cluster shop)")


def test_a_nat_real_server_of_two_clusters_has_one_default_route(multi: Inventory) -> None:
    # shared-web (192.0.2.29) is in the subnet of both clusters' VIPs: each would be its gateway.
    for group in ("shop_lb", "blog_lb"):
        multi.group_vars[group]["lvsha_lvs_services"][0]["forwarding"] = "nat"
    assert_reported(errors_of(multi.hostvars(), multi.groups), "blog-lb1", "lvsha_lvs_services", "shared-web",
                    "is a nat real server of cluster blog through 192.0.2.51 and of cluster shop through 192.0.2.50: "
                    "one default route per real server")
    # One of them NAT, the other direct routing: one route, from shop.
    multi.group_vars["blog_lb"]["lvsha_lvs_services"][0]["forwarding"] = "dr"
    assert build_plan(multi.hostvars(), multi.groups)["hosts"]["shared-web"]["lvs"]["nat_gateway"] == "192.0.2.50"


def test_a_director_of_one_cluster_cannot_be_a_real_server_of_another(multi: Inventory) -> None:
    hostvars = multi.hostvars()
    for host in ("blog-lb1", "blog-lb2"):
        hostvars[host]["lvsha_lvs_services"][0]["realservers"].append({"host": "shop-lb2"})
    assert_reported(errors_of(hostvars, multi.groups), "shop-lb2", "lvsha_cluster",
                    hostvars["shop-lb2"]["lvsha_cluster"],
                    "is a director of cluster shop, so it cannot be a real server of cluster blog")


def test_a_cluster_declared_on_three_hosts_is_reported(multi: Inventory) -> None:
    hostvars = multi.hostvars()
    hostvars["shop-web1"]["lvsha_cluster"] = copy.deepcopy(hostvars["shop-lb1"]["lvsha_cluster"])
    assert_reported(errors_of(hostvars, multi.groups), "shop-lb1", "lvsha_cluster.name", "shop",
                    "is declared on 3 host(s) (shop-lb1, shop-lb2, shop-web1)")


def test_the_two_nodes_of_a_pair_carry_the_same_declaration(multi: Inventory) -> None:
    hostvars = multi.hostvars()
    hostvars["nas-a2"]["lvsha_cluster"] = {"name": "nas-a", "kind": "storage", "preferred": "nas-a2"}
    assert_reported(errors_of(hostvars, multi.groups), "nas-a2", "lvsha_cluster",
                    {"name": "nas-a", "kind": "storage", "preferred": "nas-a2"},
                    "differs from the declaration of cluster nas-a on nas-a1")


@pytest.mark.parametrize("path, value, valid", [
    ("kind", "nope", "must be one of lvs, storage, mirror"),
    ("name", "a b", "must be a cluster name"),
    ("name", "web\n", "must be a cluster name"),
    ("preferred", "shop-web1", "must name a node of cluster"),
    ("resources", ["Delay::2", "httpd; reboot"], None),
    ("resources", ["Delay 2"], None),
    ("resources", ["Delay::2\nnode2 crc"], None),
    ("realservers", "no-such-group", "must name an inventory group of real servers"),
    ("nodes", ["a", "b"], "is not a cluster declaration field"),
])
def test_a_bad_declaration_is_reported(multi: Inventory, path: str, value: Any, valid: str) -> None:
    hostvars = multi.hostvars()
    for host in ("shop-lb1", "shop-lb2"):
        hostvars[host]["lvsha_cluster"] = dict(hostvars[host]["lvsha_cluster"], **{path: value})
    errors = errors_of(hostvars, multi.groups)
    if path == "resources":
        bad = next(entry for entry in value if entry != "Delay::2")
        assert_reported(errors, "shop-lb1", f"lvsha_cluster.resources[{value.index(bad)}]", bad,
                        "must be one haresources entry")
    else:
        assert_reported(errors, "shop-lb1", f"lvsha_cluster.{path}" if path != "nodes" else "lvsha_cluster.nodes",
                        value, valid)


def test_an_inventory_without_a_declared_cluster_is_reported() -> None:
    inv = Inventory("example-lvs")
    hostvars = inv.hostvars()
    for host in hostvars:
        hostvars[host].pop("lvsha_cluster", None)
    assert_reported(errors_of(hostvars, inv.groups), "localhost", "lvsha_cluster", None, "is set on no host")
    with pytest.raises(ModelError):
        build_plan(hostvars, inv.groups)


def test_a_retired_variable_is_reported() -> None:
    inv = Inventory("example-mirror")
    hostvars = inv.hostvars()
    hostvars["mr1"]["lvsha_mirror_primary"] = "mr1"
    assert_reported(errors_of(hostvars, inv.groups), "mr1", "lvsha_mirror_primary", "mr1",
                    "is replaced by lvsha_cluster.preferred")
