# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage part of the cluster model (plugin_utils/_storage_model.py), through the
cluster plan of plugin_utils/_cluster_plan.py: each node's ``storage`` section, heartbeat's
resource chain, and the model checks.

The good model is inventories/example-storage (cluster ``nas``); the bad-input cases (one
edit each, and the error naming the host, the variable path and the bad value) are in
tests/unit/catalogue/bad_input.yml.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List

import pytest

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from model_inventory import Inventory

Edit = Callable[[Inventory], None]


@pytest.fixture
def inv() -> Inventory:
    return Inventory("example-storage")


def plan_of(inv: Inventory, host: str) -> Dict[str, Any]:
    """The ``storage`` section of ``host`` in the cluster plan; raises ModelError."""
    return build_plan(inv.hostvars(), inv.groups)["hosts"][host]["storage"]


def haresources_of(inv: Inventory, host: str) -> List[str]:
    """Heartbeat's resource chain on node ``host``."""
    return build_plan(inv.hostvars(), inv.groups)["hosts"][host]["heartbeat"]["resources"]


def errors_of(inv: Inventory) -> List[str]:
    return check(inv.hostvars(), inv.groups)[0]


def test_example_plan_nas1(inv: Inventory) -> None:
    plan = plan_of(inv, "nas1")
    assert plan["cluster"] == "nas"
    assert plan["is_node"] is True
    assert plan["nodes"] == ["nas1", "nas2"]
    assert plan["vip"] == {"address": "192.0.2.60", "prefix": 24, "interface": "eth1", "cidr": "192.0.2.60/24"}
    assert plan["resources"] == [{
        "name": "r0", "minor": 0, "device": "/dev/drbd0", "disk": "/dev/vdb", "meta_disk": "internal",
        "port": 7789, "protocol": "C", "fstype": "ext4", "mount": "/srv/nfs", "mkfs": True,
        "skip_initial_sync": True, "resync_rate": "40M", "initial_primary": True,
        "peers": [{"name": "nas1", "address": "198.51.100.31"}, {"name": "nas2", "address": "198.51.100.32"}],
    }]
    assert plan["exports"] == [{"path": "/srv/nfs/export",
                                "clients": ["192.0.2.0/24(rw,sync,no_subtree_check,no_root_squash,fsid=1)"]}]
    assert plan["nfs_state_dir"] == "/srv/nfs/.nfs-state"
    assert "haresources" not in plan
    assert haresources_of(inv, "nas1") == ["drbddisk::r0", "Filesystem::/dev/drbd0::/srv/nfs::ext4", "lvsha-nfs-state",
                                           "lvsha-address::192.0.2.60/24::eth1", "nfs-kernel-server", "lvsha-watch"]
    assert haresources_of(inv, "nas2") == haresources_of(inv, "nas1")
    # nfs-server.service stays active when nfsd's threads are gone: the probe of port 2049 finds it.
    assert build_plan(inv.hostvars(), inv.groups)["hosts"]["nas2"]["heartbeat"]["watch"] == {
        "units": ["nfs-server.service"], "probe": {"address": "192.0.2.60", "port": 2049, "path": None},
        "vip": {"address": "192.0.2.60"}, "notify": {"command": "", "mail": ""}}


def test_the_plan_has_the_pair_and_nothing_for_the_client(inv: Inventory) -> None:
    plan = build_plan(inv.hostvars(), inv.groups)
    assert plan["clusters"] == {"nas": {"kind": "storage", "nodes": ["nas1", "nas2"], "preferred": "nas1"}}
    assert sorted(plan["hosts"]) == ["nas1", "nas2"]
    assert plan["hosts"]["nas1"]["roles"] == ["drbd", "nfs", "heartbeat"]


def test_only_the_named_node_is_initial_primary(inv: Inventory) -> None:
    assert plan_of(inv, "nas2")["resources"][0]["initial_primary"] is False


def test_defaults(inv: Inventory) -> None:
    res = inv.model["lvsha_drbd_resources"][0]
    for key in ("port", "protocol", "fstype", "resync_rate", "skip_initial_sync", "mkfs"):
        del res[key]
    del inv.model["lvsha_nfs_exports"][0]["clients"][0]["options"]
    plan = plan_of(inv, "nas1")
    got = plan["resources"][0]
    assert (got["port"], got["protocol"], got["fstype"], got["resync_rate"], got["skip_initial_sync"], got["mkfs"]) == \
        (7788, "C", "ext4", "40M", False, False)
    assert plan["exports"][0]["clients"] == ["192.0.2.0/24(rw,sync,no_subtree_check,fsid=1)"]


def test_the_default_port_is_7788_plus_minor_and_checked_too(inv: Inventory) -> None:
    _second_res()(inv)
    del inv.model["lvsha_drbd_resources"][1]["port"]  # minor 1: 7789, r0's port
    assert errors_of(inv) == ["host nas1: lvsha_drbd_resources[1].port = 7789: is already used by "
                              "lvsha_drbd_resources[0]; each resource needs its own"]


def test_an_explicit_fsid_is_kept(inv: Inventory) -> None:
    inv.model["lvsha_nfs_exports"][0]["clients"][0]["options"] = ["ro", "fsid=7"]
    assert plan_of(inv, "nas1")["exports"][0]["clients"] == ["192.0.2.0/24(ro,fsid=7)"]


def test_without_exports_the_chain_has_no_nfs(inv: Inventory) -> None:
    del inv.model["lvsha_nfs_exports"]
    assert haresources_of(inv, "nas1") == ["drbddisk::r0", "Filesystem::/dev/drbd0::/srv/nfs::ext4",
                                           "lvsha-address::192.0.2.60/24::eth1"]


def test_two_resources_chain_in_order(inv: Inventory) -> None:
    inv.model["lvsha_drbd_resources"].append({"name": "r1", "minor": 1, "disk": "/dev/vdc", "initial_primary": "nas2",
                                              "mount": "/srv/data", "fstype": "xfs", "port": 7790})
    plan = plan_of(inv, "nas1")
    assert haresources_of(inv, "nas1")[:4] == ["drbddisk::r0", "Filesystem::/dev/drbd0::/srv/nfs::ext4",
                                               "drbddisk::r1", "Filesystem::/dev/drbd1::/srv/data::xfs"]
    assert plan["resources"][1]["port"] == 7790
    assert plan["resources"][1]["initial_primary"] is False


# ------------------------------------------------------------------ errors
# The bad-input cases are in tests/unit/catalogue/bad_input.yml.

def _res(**change: Any) -> Edit:
    return lambda inv: inv.model["lvsha_drbd_resources"][0].update(change)


def _second_res(**change: Any) -> Edit:
    def edit(inv: Inventory) -> None:
        second = {"name": "r1", "minor": 1, "disk": "/dev/vdc", "port": 7790, "initial_primary": "nas1",
                  "mount": "/srv/data"}
        second.update(change)
        inv.model["lvsha_drbd_resources"].append(second)
    return edit


def _vip(**change: Any) -> Edit:
    return lambda inv: inv.model["lvsha_storage_vip"].update(change)


RES = "lvsha_drbd_resources[0]"


def test_every_error_is_reported_at_once(inv: Inventory) -> None:
    _res(port=0, protocol="D")(inv)
    _vip(prefix=40)(inv)
    errors = errors_of(inv)
    assert [e.split(" = ")[0] for e in errors] == [
        "host nas1: lvsha_storage_vip.prefix", f"host nas1: {RES}.port", f"host nas1: {RES}.protocol"]
