# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage part of the cluster model (plugin_utils/_storage_model.py), through the
cluster plan of plugin_utils/_cluster_plan.py: each node's ``storage`` section, heartbeat's
resource chain, and the model checks.

The good model is inventories/example-storage (cluster ``nas``); every bad case edits one
thing in it and expects an error naming the host, the variable path and the bad value.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List

import pytest

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import ModelError
from model_inventory import Inventory, assert_reported, catalogue_params

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
                                           "IPaddr2::192.0.2.60/24/eth1", "nfs-kernel-server"]
    assert haresources_of(inv, "nas2") == haresources_of(inv, "nas1")


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
                                           "IPaddr2::192.0.2.60/24/eth1"]


def test_two_resources_chain_in_order(inv: Inventory) -> None:
    inv.model["lvsha_drbd_resources"].append({"name": "r1", "minor": 1, "disk": "/dev/vdc", "initial_primary": "nas2",
                                              "mount": "/srv/data", "fstype": "xfs", "port": 7790})
    plan = plan_of(inv, "nas1")
    assert haresources_of(inv, "nas1")[:4] == ["drbddisk::r0", "Filesystem::/dev/drbd0::/srv/nfs::ext4",
                                               "drbddisk::r1", "Filesystem::/dev/drbd1::/srv/data::xfs"]
    assert plan["resources"][1]["port"] == 7790
    assert plan["resources"][1]["initial_primary"] is False


# ------------------------------------------------------------------ the bad-input catalogue

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


def _export(**change: Any) -> Edit:
    return lambda inv: inv.model["lvsha_nfs_exports"][0].update(change)


def _client(**change: Any) -> Edit:
    return lambda inv: inv.model["lvsha_nfs_exports"][0]["clients"][0].update(change)


def _host(name: str, **variables: Any) -> Edit:
    return lambda inv: inv.host_vars[name].update(variables)


def _third_node(inv: Inventory) -> None:
    inv.add_host("nas3", "storage", lvsha_public_address="192.0.2.33", lvsha_private_address="198.51.100.33")


def _drop(host: str, name: str) -> Edit:
    def edit(inv: Inventory) -> None:
        inv.host_vars[host].pop(name, None)
        inv.model.pop(name, None)
        inv.host_vars[[h for h in inv.groups["storage"] if h != host][0]][name] = "eth2"
    return edit


RES = "lvsha_drbd_resources[0]"
EXPORT = "lvsha_nfs_exports[0]"
CLIENT = "lvsha_nfs_exports[0].clients[0]"

# (id, edit, host, variable path, bad value, part of what is valid)
CATALOGUE = [
    ("res-names-unknown-host", _res(nodes=["nas1", "nas3"]), "nas1", f"{RES}.nodes", "nas3",
     "is not an inventory host; a .res may only name nodes of cluster nas (nas1, nas2)"),
    ("res-names-host-outside-storage", _res(nodes=["nas1", "nfsclient"]), "nas1",
     f"{RES}.nodes", "nfsclient", "is not a node of cluster nas (nas1, nas2)"),
    ("res-names-one-node", _res(nodes=["nas1"]), "nas1", f"{RES}.nodes", ["nas1"], "must name the two nodes"),
    ("initial-primary-unknown", _res(initial_primary="nas3"), "nas1",
     f"{RES}.initial_primary", "nas3", "whose data wins the first synchronisation"),
    ("initial-primary-missing", lambda inv: inv.model["lvsha_drbd_resources"][0].pop("initial_primary"), "nas1",
     f"{RES}.initial_primary", None, "one of nas1, nas2"),
    ("minor-negative", _res(minor=-1), "nas1", f"{RES}.minor", -1, "must be 0..1048575"),
    ("minor-missing", lambda inv: inv.model["lvsha_drbd_resources"][0].pop("minor"), "nas1",
     f"{RES}.minor", None, "must be an integer 0..1048575"),
    ("port-0", _res(port=0), "nas1", f"{RES}.port", 0, "must be 1..65535"),
    ("port-70000", _res(port=70000), "nas1", f"{RES}.port", 70000, "must be 1..65535"),
    ("duplicate-minor", _second_res(minor=0), "nas1", "lvsha_drbd_resources[1].minor", 0, "is already used by lvsha_drbd_resources[0]"),
    ("duplicate-port", _second_res(port=7789), "nas1", "lvsha_drbd_resources[1].port", 7789, "is already used"),
    ("duplicate-mount", _second_res(mount="/srv/nfs"), "nas1", "lvsha_drbd_resources[1].mount", "/srv/nfs", "is already used"),
    ("duplicate-name", _second_res(name="r0"), "nas1", "lvsha_drbd_resources[1].name", "r0", "is already used"),
    ("bad-name", _res(name="r 0"), "nas1", f"{RES}.name", "r 0", "letters, digits"),
    ("disk-not-a-device", _res(disk="vdb"), "nas1", f"{RES}.disk", "vdb", "a /dev/... path"),
    ("bad-meta-disk", _res(meta_disk="flexible"), "nas1", f"{RES}.meta_disk", "flexible", "internal or a /dev/... path"),
    ("bad-protocol", _res(protocol="D"), "nas1", f"{RES}.protocol", "D", "must be A, B or C"),
    ("bad-fstype", _res(fstype="zfs"), "nas1", f"{RES}.fstype", "zfs", "must be one of ext4, ext3, xfs"),
    ("mount-relative", _res(mount="srv/nfs"), "nas1", f"{RES}.mount", "srv/nfs", "an absolute, normalised path"),
    ("mount-root", _res(mount="/"), "nas1", f"{RES}.mount", "/", "must not be /"),
    ("mount-with-space", _res(mount="/srv/my nfs"), "nas1", f"{RES}.mount", "/srv/my nfs", "without spaces"),
    ("mkfs-not-bool", _res(mkfs="yes"), "nas1", f"{RES}.mkfs", "yes", "must be true or false"),
    ("bad-resync-rate", _res(resync_rate="fast"), "nas1", f"{RES}.resync_rate", "fast", "like 40M"),
    ("unknown-res-field", _res(size="1G"), "nas1", f"{RES}.size", "1G", "is not a DRBD resource field"),
    ("peers-share-an-address", _host("nas2", lvsha_private_address="198.51.100.31"), "nas1",
     f"{RES}.nodes", ["nas1", "nas2"], "distinct lvsha_private_address"),
    ("peer-without-private-address", lambda inv: inv.host_vars["nas2"].pop("lvsha_private_address"), "nas2",
     "lvsha_private_address", None, "is required"),
    ("no-resources", lambda inv: inv.model.update(lvsha_drbd_resources=[]), "nas1",
     "lvsha_drbd_resources", [], "is required"),
    ("three-nodes", _third_node, "nas1", "lvsha_cluster.name", "nas",
     "is declared on 3 host(s) (nas1, nas2, nas3); a cluster is one heartbeat pair"),
    ("vip-missing", lambda inv: inv.model.pop("lvsha_storage_vip"), "nas1", "lvsha_storage_vip", None, "is required"),
    ("vip-not-ipv4", _vip(address="192.0.2.300"), "nas1", "lvsha_storage_vip.address", "192.0.2.300", "must be an IPv4 address"),
    ("vip-prefix-0", _vip(prefix=0), "nas1", "lvsha_storage_vip.prefix", 0, "must be 1..32"),
    ("vip-interface-not-a-name", _vip(interface="eth1/24"), "nas1", "lvsha_storage_vip.interface", "eth1/24",
     "must be a network interface name"),
    ("node-outside-vip-subnet", _host("nas2", lvsha_public_address="203.0.113.32"), "nas2",
     "lvsha_public_address", "203.0.113.32", "must be inside the VIP's subnet 192.0.2.0/24"),
    ("node-holds-the-vip-address", _host("nas1", lvsha_public_address="192.0.2.60"), "nas1",
     "lvsha_public_address", "192.0.2.60", "must differ from the floating address"),
    ("node-without-private-interface", _drop("nas1", "lvsha_private_interface"), "nas1",
     "lvsha_private_interface", None, "is required on every node of cluster nas"),
    ("export-not-on-a-volume", _export(path="/home/share"), "nas1",
     f"{EXPORT}.path", "/home/share", "must lie on a replicated volume"),
    ("export-path-relative", _export(path="export"), "nas1", f"{EXPORT}.path", "export", "an absolute, normalised path"),
    ("export-without-clients", _export(clients=[]), "nas1", f"{EXPORT}.clients", [], "at least one client"),
    ("export-unknown-field", _export(options="rw"), "nas1", f"{EXPORT}.options", "rw", "is not a NFS export field"),
    ("export-client-network-with-host-bits", _client(host="192.0.2.1/24"), "nas1",
     f"{CLIENT}.host", "192.0.2.1/24", "host bits zero"),
    ("export-client-with-space", _client(host="web 1"), "nas1", f"{CLIENT}.host", "web 1", "a host name or wildcard"),
    ("export-option-unknown", _client(options=["rw", "sync", "no_subtree_chek"]), "nas1",
     f"{CLIENT}.options", "no_subtree_chek", "is not an exports(5) option"),
    ("export-option-rw-and-ro", _client(options=["rw", "ro"]), "nas1", f"{CLIENT}.options", ["rw", "ro"], "cannot be both"),
    ("export-option-value-missing", _client(options=["rw", "fsid="]), "nas1", f"{CLIENT}.options", "fsid=", "is not an exports(5) option"),
    ("export-option-paren", _client(options=["rw)"]), "nas1", f"{CLIENT}.options", "rw)", "is not an exports(5) option"),
    ("export-declared-twice", lambda inv: inv.model["lvsha_nfs_exports"].append(dict(inv.model["lvsha_nfs_exports"][0])), "nas1",
     "lvsha_nfs_exports[1].path", "/srv/nfs/export", "is already exported"),
]


@pytest.mark.parametrize("edit, host, path, value, valid", catalogue_params(CATALOGUE))
def test_bad_model(inv: Inventory, edit: Edit, host: str, path: str, value: Any, valid: str) -> None:
    edit(inv)
    errors = errors_of(inv)
    assert_reported(errors, host, path, value, valid)
    with pytest.raises(ModelError) as caught:
        build_plan(inv.hostvars(), inv.groups)
    assert caught.value.errors == errors


def test_every_error_is_reported_at_once(inv: Inventory) -> None:
    _res(port=0, protocol="D")(inv)
    _vip(prefix=40)(inv)
    errors = errors_of(inv)
    assert [e.split(" = ")[0] for e in errors] == [
        "host nas1: lvsha_storage_vip.prefix", f"host nas1: {RES}.port", f"host nas1: {RES}.protocol"]
