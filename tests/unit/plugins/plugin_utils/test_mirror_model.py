# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mirror part of the cluster model (plugin_utils/_mirror_model.py), through the cluster
plan of plugin_utils/_cluster_plan.py: each node's ``mirror`` section, heartbeat's preferred
node and resource chain, and the model checks.

The good model is inventories/example-mirror (cluster ``mirror``, declared in
group_vars/mirrors.yml); the bad-input cases (one edit each, and the error naming the host,
the variable path and the bad value) are in tests/unit/catalogue/bad_input.yml.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, List

import pytest

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._mirror_model import anchored_excludes
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import ModelError
from model_inventory import Inventory

Edit = Callable[[Inventory], None]


@pytest.fixture
def inv() -> Inventory:
    return Inventory("example-mirror")


def hosts_of(inv: Inventory) -> Dict[str, Any]:
    """Every host's sections in the cluster plan; raises ModelError."""
    return build_plan(inv.hostvars(), inv.groups)["hosts"]


def plan_of(inv: Inventory, host: str) -> Dict[str, Any]:
    """The ``mirror`` section of ``host``."""
    return hosts_of(inv)[host]["mirror"]


def heartbeat_of(inv: Inventory, host: str) -> Dict[str, Any]:
    return hosts_of(inv)[host]["heartbeat"]


def errors_of(inv: Inventory) -> List[str]:
    return check(inv.hostvars(), inv.groups)[0]


def declaration(inv: Inventory) -> Dict[str, Any]:
    """The pair's lvsha_cluster (group_vars/mirrors.yml)."""
    return inv.group_vars["mirrors"]["lvsha_cluster"]


def module_of(inv: Inventory, host: str = "mr1", index: int = 0) -> Dict[str, Any]:
    return plan_of(inv, host)["modules"][index]


# ------------------------------------------------------------------ the example's plans

WWW = {
    "name": "www", "path": "/var/www/html", "comment": "web root", "read_only": True, "use_chroot": True,
    "uid": "root", "gid": "root", "max_connections": 4, "timeout": 600, "auth_users": [],
    # No host file lies under /var/www/html: only the model's own excludes.
    "excludes": ["/node.txt", "*.swp"], "exclude_file": "/etc/lvsha/mirror/www.exclude",
}
NOTIFY = 'echo "$(date +%s) $LVSHA_MIRROR_NODE $LVSHA_MIRROR_EVENT" >> /var/log/lvsha-mirror-events.log'


def test_the_example_model_is_valid(inv: Inventory) -> None:
    assert errors_of(inv) == []
    plan = build_plan(inv.hostvars(), inv.groups)
    assert plan["clusters"] == {"mirror": {"kind": "mirror", "nodes": ["mr1", "mr2"], "preferred": "mr1"}}
    assert {host: sections["roles"] for host, sections in plan["hosts"].items()} == {
        "mr1": ["rsync_mirror", "heartbeat"], "mr2": ["rsync_mirror", "heartbeat"]}


def test_example_plan_mr1(inv: Inventory) -> None:
    plan = plan_of(inv, "mr1")
    assert plan["cluster"] == "mirror"
    assert plan["is_node"] is True
    assert plan["nodes"] == ["mr1", "mr2"]
    assert plan["peer"] == "mr2"
    # The preferred node is heartbeat's, no longer the mirror section's.
    assert "preferred" not in plan and "haresources" not in plan
    assert heartbeat_of(inv, "mr1")["preferred"] == "mr1"
    assert plan["listen_address"] == "198.51.100.41"
    assert plan["peer_address"] == "198.51.100.42"
    assert plan["port"] == 873
    assert plan["vip"] == {"address": "192.0.2.70", "prefix": 24, "interface": "eth1", "cidr": "192.0.2.70/24"}
    # Only the peer reads this node's modules, over the private link.
    assert plan["modules"] == [dict(WWW, hosts_allow=["198.51.100.42"])]
    assert plan["interval"] == 10
    assert plan["services"] == ["nginx.service"]
    assert plan["notify"] == {"command": NOTIFY, "mail": ""}
    assert plan["state_module"] == "lvsha-state"
    assert plan["state_dir"] == "/var/lib/lvsha-mirror"
    assert plan["rsync_users"] == []
    assert heartbeat_of(inv, "mr1")["resources"] == [
        "lvsha-mirror-sync", "lvsha-address::192.0.2.70/24::eth1", "lvsha-mirror-serve", "lvsha-watch"]
    assert heartbeat_of(inv, "mr1")["watch"] == {
        "units": ["nginx.service"], "probe": {"address": "192.0.2.70", "port": 80, "path": None},
        "vip": {"address": "192.0.2.70"}, "notify": {"command": NOTIFY, "mail": ""}}


def test_example_plan_mr2(inv: Inventory) -> None:
    plan = plan_of(inv, "mr2")
    assert plan["is_node"] is True
    assert plan["peer"] == "mr1"
    assert heartbeat_of(inv, "mr2")["preferred"] == "mr1"  # the same preferred node on both
    assert plan["listen_address"] == "198.51.100.42"
    assert plan["peer_address"] == "198.51.100.41"
    assert plan["modules"] == [dict(WWW, hosts_allow=["198.51.100.41"])]
    assert plan["vip"]["cidr"] == "192.0.2.70/24"
    assert heartbeat_of(inv, "mr2")["resources"] == heartbeat_of(inv, "mr1")["resources"]


def test_a_host_outside_the_pair_gets_no_section(inv: Inventory) -> None:
    assert "client" not in hosts_of(inv)


def test_the_vip_interface_overrides_the_public_interface(inv: Inventory) -> None:
    inv.model["lvsha_mirror_vip"]["interface"] = "eth3"
    plan = plan_of(inv, "mr1")
    assert plan["vip"]["interface"] == "eth3"
    assert heartbeat_of(inv, "mr1")["resources"][1] == "lvsha-address::192.0.2.70/24::eth3"


def test_defaults(inv: Inventory) -> None:
    for name in ("lvsha_mirror_interval", "lvsha_mirror_excludes", "lvsha_mirror_services",
                 "lvsha_mirror_notify_command"):
        del inv.model[name]
    del declaration(inv)["preferred"]
    del inv.model["lvsha_mirror_vip"]["prefix"]
    del inv.model["lvsha_mirror_modules"][0]["comment"]
    plan = plan_of(inv, "mr1")
    assert plan["interval"] == 60
    assert plan["port"] == 873
    assert heartbeat_of(inv, "mr1")["preferred"] == "mr1"
    assert plan["vip"]["prefix"] == 24
    assert plan["services"] == []
    assert plan["notify"] == {"command": "", "mail": ""}
    assert plan["modules"] == [{
        "name": "www", "path": "/var/www/html", "comment": "", "read_only": True, "use_chroot": True,
        "uid": "root", "gid": "root", "max_connections": 4, "timeout": 600, "auth_users": [], "excludes": [],
        "hosts_allow": ["198.51.100.42"], "exclude_file": "/etc/lvsha/mirror/www.exclude"}]


def test_without_services_or_probe_there_is_nothing_to_watch(inv: Inventory) -> None:
    del inv.model["lvsha_mirror_services"]
    del inv.model["lvsha_mirror_probe"]
    assert heartbeat_of(inv, "mr1")["watch"] is None
    assert heartbeat_of(inv, "mr1")["resources"][-1] == "lvsha-mirror-serve"


def test_a_probe_with_a_path_is_an_http_get_of_it(inv: Inventory) -> None:
    inv.model["lvsha_mirror_probe"] = {"port": 8080, "path": "/health"}
    assert heartbeat_of(inv, "mr2")["watch"]["probe"] == {"address": "192.0.2.70", "port": 8080, "path": "/health"}


def test_the_default_preferred_node_is_the_first_node(inv: Inventory) -> None:
    del declaration(inv)["preferred"]
    # The first node in inventory order.
    inv.groups["mirrors"] = ["mr2", "mr1"]
    inv.groups["all"] = ["mr2", "mr1", "client"]
    assert heartbeat_of(inv, "mr1")["preferred"] == "mr2"
    assert heartbeat_of(inv, "mr2")["preferred"] == "mr2"
    assert build_plan(inv.hostvars(), inv.groups)["clusters"]["mirror"]["preferred"] == "mr2"


def test_the_preferred_node_is_the_declared_one(inv: Inventory) -> None:
    declaration(inv)["preferred"] = "mr2"
    assert heartbeat_of(inv, "mr1")["preferred"] == "mr2"
    assert heartbeat_of(inv, "mr2")["preferred"] == "mr2"


def test_explicit_module_settings_are_kept(inv: Inventory) -> None:
    inv.model["lvsha_mirror_modules"][0].update(read_only=False, use_chroot=False, uid=33, gid="www-data",
                                                max_connections=0, timeout=0)
    inv.model["lvsha_mirror_rsync_port"] = "8873"
    plan = plan_of(inv, "mr1")
    got = plan["modules"][0]
    assert (got["read_only"], got["use_chroot"], got["uid"], got["gid"], got["max_connections"], got["timeout"]) == \
        (False, False, 33, "www-data", 0, 0)
    assert plan["port"] == 8873


# ------------------------------------------------------------------ excludes

def test_anchored_excludes_of_a_module_holding_host_files() -> None:
    host_files = ["/etc/hostname", "/etc/ssh/", "/var/lib/lvsha-mirror/"]
    assert anchored_excludes("/etc", host_files) == ["/hostname", "/ssh/"]
    assert anchored_excludes("/etc/", host_files) == ["/hostname", "/ssh/"]
    assert anchored_excludes("/var/lib", host_files) == ["/lvsha-mirror/"]


def test_anchored_excludes_of_a_module_without_host_files() -> None:
    assert anchored_excludes("/srv/www", _schema.default("lvsha_mirror_host_files")) == []
    # A common prefix is not a parent directory.
    assert anchored_excludes("/etcetera", ["/etc/hostname"]) == []
    assert anchored_excludes("/etc/ssh", ["/etc/ssh/"]) == []


def test_a_module_over_etc_excludes_every_default_host_file_there(inv: Inventory) -> None:
    inv.model["lvsha_mirror_modules"][0].update(path="/etc", excludes=["/motd"])
    assert module_of(inv)["excludes"] == [
        "/hostname", "/hosts", "/network/", "/fstab", "/machine-id", "/ssh/", "/ha.d/", "/rsyncd.conf",
        "/rsyncd.secrets", "/lvsha/",  # the host's own files, anchored at the module's root
        "/node.txt", "*.swp",  # lvsha_mirror_excludes
        "/motd",  # the module's own
    ]


def test_host_files_from_the_model(inv: Inventory) -> None:
    inv.model["lvsha_mirror_host_files"] = ["/var/www/html/local.conf", "/var/www/html/node/", "/etc/hostname"]
    assert module_of(inv)["excludes"] == ["/local.conf", "/node/", "/node.txt", "*.swp"]


# ------------------------------------------------------------------ hosts allow

def test_hosts_allow_extras_follow_the_peer(inv: Inventory) -> None:
    inv.model["lvsha_mirror_modules"][0]["hosts_allow"] = ["192.0.2.0/24", "203.0.113.9"]
    assert module_of(inv)["hosts_allow"] == ["198.51.100.42", "192.0.2.0/24", "203.0.113.9/32"]


def test_hosts_allow_extras_are_appended_without_duplicates(inv: Inventory) -> None:
    # The peer named again (as an address or as a /32) and an extra named twice.
    extras = ["192.0.2.0/24", "198.51.100.42", "192.0.2.0/24", "198.51.100.42/32"]
    inv.model["lvsha_mirror_modules"][0]["hosts_allow"] = extras
    assert module_of(inv, "mr1")["hosts_allow"] == ["198.51.100.42", "192.0.2.0/24"]
    assert module_of(inv, "mr2")["hosts_allow"] == ["198.51.100.41", "192.0.2.0/24", "198.51.100.42/32"]


# ------------------------------------------------------------------ secrets

def test_the_plan_holds_no_secret(inv: Inventory) -> None:
    inv.model["lvsha_mirror_rsync_secrets"] = {"alice": "s3cret-value"}
    inv.model["lvsha_mirror_modules"][0]["auth_users"] = ["alice"]
    whole = build_plan(inv.hostvars(), inv.groups)
    for host in ("mr1", "mr2"):
        plan = whole["hosts"][host]["mirror"]
        assert plan["rsync_users"] == ["alice"]
        assert plan["modules"][0]["auth_users"] == ["alice"]
    assert "s3cret-value" not in json.dumps(whole)


@pytest.mark.parametrize("secrets", [
    {"alice": "s3cret-value", "bob": ""},
    {"alice": "s3cret-value\nsecond line"},
    {"Alice": "s3cret-value"},
    {"alice": "s3cret-value", "bob": 12345},
    ["alice:s3cret-value"],
    "alice:s3cret-value",
], ids=["empty-password", "two-line-password", "bad-user", "password-not-a-string", "a-list", "a-string"])
def test_bad_rsync_secrets_never_print_a_password(inv: Inventory, secrets: Any) -> None:
    inv.model["lvsha_mirror_rsync_secrets"] = secrets
    errors = errors_of(inv)
    assert [e.split(" = ")[0] for e in errors] == ["host mr1: lvsha_mirror_rsync_secrets"]
    assert "must map rsync user names to non-empty one-line passwords" in errors[0]
    assert not any("s3cret-value" in error or "12345" in error for error in errors), errors
    with pytest.raises(ModelError) as caught:
        build_plan(inv.hostvars(), inv.groups)
    assert "s3cret-value" not in str(caught.value.errors)


# ------------------------------------------------------------------ errors
# The bad-input cases are in tests/unit/catalogue/bad_input.yml.

def _set(**variables: Any) -> Edit:
    return lambda inv: inv.model.update(variables)


def _vip(**change: Any) -> Edit:
    return lambda inv: inv.model["lvsha_mirror_vip"].update(change)


def _module(**change: Any) -> Edit:
    return lambda inv: inv.model["lvsha_mirror_modules"][0].update(change)


def _host(name: str, **variables: Any) -> Edit:
    return lambda inv: inv.host_vars[name].update(variables)


MOD = "lvsha_mirror_modules[0]"


def test_every_error_is_reported_at_once(inv: Inventory) -> None:
    _module(read_only="no")(inv)
    _set(lvsha_mirror_interval=4)(inv)
    _host("mr2", lvsha_public_address="203.0.113.42")(inv)
    errors = errors_of(inv)
    assert [e.split(" = ")[0] for e in errors] == [
        f"host mr1: {MOD}.read_only", "host mr1: lvsha_mirror_interval", "host mr2: lvsha_public_address"]


def test_the_plan_raises_every_error(inv: Inventory) -> None:
    _vip(prefix=40)(inv)
    _set(lvsha_mirror_rsync_port=0)(inv)
    with pytest.raises(ModelError) as caught:
        build_plan(inv.hostvars(), inv.groups)
    assert [e.split(" = ")[0] for e in caught.value.errors] == [
        "host mr1: lvsha_mirror_vip.prefix", "host mr1: lvsha_mirror_rsync_port"]


def test_errors_name_the_pairs_first_node(inv: Inventory) -> None:
    # The cluster-wide values are read from the pair's first node in inventory order.
    _set(lvsha_mirror_interval=4)(inv)
    assert errors_of(inv) == ["host mr1: lvsha_mirror_interval = 4: must be 5..86400"]
    inv.groups["mirrors"] = ["mr2", "mr1"]
    inv.groups["all"] = ["mr2", "mr1", "client"]
    assert errors_of(inv) == ["host mr2: lvsha_mirror_interval = 4: must be 5..86400"]
