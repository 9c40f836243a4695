# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mirror part of the cluster model (plugin_utils/_mirror_model.py), through the cluster
plan of plugin_utils/_cluster_plan.py: each node's ``mirror`` section, heartbeat's preferred
node and resource chain, and the model checks.

The good model is inventories/example-mirror (cluster ``mirror``, declared in
group_vars/mirrors.yml); every bad case edits one thing in it and expects an error naming
the host, the variable path and the bad value.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, List

import pytest

from ansible_collections.lvsha.cluster.plugins.plugin_utils._cluster_plan import build_plan, check
from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._mirror_model import anchored_excludes
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import ModelError
from model_inventory import Inventory, assert_reported, catalogue_params

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
        "lvsha-mirror-sync", "IPaddr2::192.0.2.70/24/eth1", "lvsha-mirror-serve"]


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
    assert heartbeat_of(inv, "mr1")["resources"][1] == "IPaddr2::192.0.2.70/24/eth3"


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


# ------------------------------------------------------------------ the bad-input catalogue

def _set(**variables: Any) -> Edit:
    return lambda inv: inv.model.update(variables)


def _pop(name: str) -> Edit:
    return lambda inv: inv.model.pop(name)


def _vip(**change: Any) -> Edit:
    return lambda inv: inv.model["lvsha_mirror_vip"].update(change)


def _module(**change: Any) -> Edit:
    return lambda inv: inv.model["lvsha_mirror_modules"][0].update(change)


def _second_module(**change: Any) -> Edit:
    def edit(inv: Inventory) -> None:
        second = {"name": "logs", "path": "/srv/logs"}
        second.update(change)
        inv.model["lvsha_mirror_modules"].append(second)
    return edit


def _host(name: str, **variables: Any) -> Edit:
    return lambda inv: inv.host_vars[name].update(variables)


def _declare(**change: Any) -> Edit:
    return lambda inv: declaration(inv).update(change)


def _one_node(inv: Inventory) -> None:
    inv.groups["mirrors"].remove("mr2")


def _third_node(inv: Inventory) -> None:
    inv.add_host("mr3", "mirrors", lvsha_public_address="192.0.2.43", lvsha_private_address="198.51.100.43")


def _drop(host: str, name: str) -> Edit:
    """``name`` set on the other node only."""
    def edit(inv: Inventory) -> None:
        inv.host_vars[host].pop(name, None)
        inv.model.pop(name, None)
        inv.host_vars[[h for h in inv.groups["mirrors"] if h != host][0]][name] = "eth2"
    return edit


MOD = "lvsha_mirror_modules[0]"
MOD1 = "lvsha_mirror_modules[1]"
PATH_VALID = "an absolute, normalised path without spaces or quotes"
PATTERNS_VALID = "must be a list of rsync exclude patterns"

# (id, edit, host, variable path, bad value, part of what is valid)
CATALOGUE = [
    # the pair
    ("one-node", _one_node, "mr1", "lvsha_cluster.name", "mirror",
     "is declared on 1 host(s) (mr1); a cluster is one heartbeat pair"),
    ("three-nodes", _third_node, "mr1", "lvsha_cluster.name", "mirror",
     "is declared on 3 host(s) (mr1, mr2, mr3); a cluster is one heartbeat pair"),
    ("preferred-not-a-node", _declare(preferred="client"), "mr1",
     "lvsha_cluster.preferred", "client", "must name a node of cluster mirror (mr1, mr2)"),
    ("mirror-primary-retired", _set(lvsha_mirror_primary="mr1"), "mr1",
     "lvsha_mirror_primary", "mr1", "is replaced by lvsha_cluster.preferred (set on the pair's group)"),
    # the floating address
    ("vip-missing", _pop("lvsha_mirror_vip"), "mr1", "lvsha_mirror_vip", None, "is required: a mapping"),
    ("vip-not-a-mapping", _set(lvsha_mirror_vip="192.0.2.70/24"), "mr1",
     "lvsha_mirror_vip", "192.0.2.70/24", "is required: a mapping {address, prefix, interface}"),
    ("vip-not-ipv4", _vip(address="192.0.2.300"), "mr1",
     "lvsha_mirror_vip.address", "192.0.2.300", "must be an IPv4 address"),
    ("vip-address-missing", lambda inv: inv.model["lvsha_mirror_vip"].pop("address"), "mr1",
     "lvsha_mirror_vip.address", None, "must be an IPv4 address"),
    ("vip-prefix-0", _vip(prefix=0), "mr1", "lvsha_mirror_vip.prefix", 0, "must be 1..32"),
    ("vip-prefix-33", _vip(prefix=33), "mr1", "lvsha_mirror_vip.prefix", 33, "must be 1..32"),
    ("vip-unknown-field", _vip(netmask="255.255.255.0"), "mr1",
     "lvsha_mirror_vip.netmask", "255.255.255.0", "is not a VIP field; use address, interface, prefix"),
    ("vip-interface-with-space", _vip(interface="eth1 eth2"), "mr1",
     "lvsha_mirror_vip.interface", "eth1 eth2", "must be a network interface name"),
    ("vip-interface-not-a-string", _vip(interface=1), "mr1",
     "lvsha_mirror_vip.interface", 1, "must be a network interface name"),
    # the nodes
    ("node-outside-vip-subnet", _host("mr2", lvsha_public_address="203.0.113.42"), "mr2",
     "lvsha_public_address", "203.0.113.42", "must be inside the VIP's subnet 192.0.2.0/24"),
    ("node-holds-the-vip-address", _host("mr1", lvsha_public_address="192.0.2.70"), "mr1",
     "lvsha_public_address", "192.0.2.70", "must differ from the floating address"),
    ("node-without-public-interface", _drop("mr1", "lvsha_public_interface"), "mr1",
     "lvsha_public_interface", None, "is required on every node of cluster mirror"),
    ("node-without-private-interface", _drop("mr2", "lvsha_private_interface"), "mr2",
     "lvsha_private_interface", None, "is required on every node of cluster mirror"),
    ("node-without-private-address", lambda inv: inv.host_vars["mr2"].pop("lvsha_private_address"), "mr2",
     "lvsha_private_address", None, "is required"),
    ("node-with-bad-private-address", _host("mr2", lvsha_private_address="198.51.100.420"), "mr2",
     "lvsha_private_address", "198.51.100.420", "must be an IPv4 address"),
    ("nodes-share-a-private-address", _host("mr2", lvsha_private_address="198.51.100.41"), "mr1",
     "lvsha_private_address", "198.51.100.41", "need distinct private addresses"),
    # the modules
    ("modules-missing", _pop("lvsha_mirror_modules"), "mr1",
     "lvsha_mirror_modules", None, "is required: a list of mirrored directories"),
    ("modules-empty", _set(lvsha_mirror_modules=[]), "mr1",
     "lvsha_mirror_modules", [], "is required: a list of mirrored directories"),
    ("modules-not-a-list", _set(lvsha_mirror_modules={"name": "www", "path": "/var/www/html"}), "mr1",
     "lvsha_mirror_modules", {"name": "www", "path": "/var/www/html"}, "is required: a list"),
    ("module-not-a-mapping", _set(lvsha_mirror_modules=["/var/www/html"]), "mr1",
     MOD, "/var/www/html", "must be a mapping with name and path"),
    ("module-unknown-field", _module(exclude=["*.tmp"]), "mr1",
     f"{MOD}.exclude", ["*.tmp"], "is not a mirror module field; use auth_users, comment, excludes"),
    ("module-bad-name", _module(name="web root"), "mr1", f"{MOD}.name", "web root", "letters, digits"),
    ("module-without-name", lambda inv: inv.model["lvsha_mirror_modules"][0].pop("name"), "mr1",
     f"{MOD}.name", None, "letters, digits"),
    ("module-named-like-the-state-module", _module(name="lvsha-state"), "mr1",
     f"{MOD}.name", "lvsha-state", "not lvsha-state, which the pair uses"),
    ("module-name-twice", _second_module(name="www"), "mr1",
     f"{MOD1}.name", "www", "is already used by lvsha_mirror_modules[0]"),
    ("path-relative", _module(path="var/www/html"), "mr1", f"{MOD}.path", "var/www/html", PATH_VALID),
    ("path-missing", lambda inv: inv.model["lvsha_mirror_modules"][0].pop("path"), "mr1",
     f"{MOD}.path", None, "must be the mirrored directory"),
    ("path-not-normalised", _module(path="/var/www/../www/html"), "mr1",
     f"{MOD}.path", "/var/www/../www/html", PATH_VALID),
    ("path-root", _module(path="/"), "mr1", f"{MOD}.path", "/", "must not be /: a pull with --delete"),
    ("path-with-space", _module(path="/var/www/my html"), "mr1", f"{MOD}.path", "/var/www/my html", "without spaces"),
    ("path-twice", _second_module(path="/var/www/html"), "mr1",
     f"{MOD1}.path", "/var/www/html", "overlaps lvsha_mirror_modules[0].path /var/www/html"),
    ("path-inside-another", _second_module(path="/var/www/html/images"), "mr1",
     f"{MOD1}.path", "/var/www/html/images", "overlaps lvsha_mirror_modules[0].path"),
    ("path-around-another", _second_module(path="/var/www"), "mr1",
     f"{MOD1}.path", "/var/www", "each file must belong to one module"),
    ("comment-two-lines", _module(comment="web\nroot"), "mr1", f"{MOD}.comment", "web\nroot", "must be one line"),
    ("comment-not-a-string", _module(comment=["web"]), "mr1", f"{MOD}.comment", ["web"], "must be one line"),
    ("read-only-not-bool", _module(read_only="yes"), "mr1", f"{MOD}.read_only", "yes", "must be true or false"),
    ("use-chroot-not-bool", _module(use_chroot=1), "mr1", f"{MOD}.use_chroot", 1, "must be true or false"),
    ("uid-with-space", _module(uid="web user"), "mr1",
     f"{MOD}.uid", "web user", "must be a user or group name or number"),
    ("uid-negative", _module(uid=-1), "mr1", f"{MOD}.uid", -1, "must be a user or group name or number"),
    ("gid-bool", _module(gid=True), "mr1", f"{MOD}.gid", True, "must be a user or group name or number"),
    ("auth-users-not-a-list", _module(auth_users="alice"), "mr1",
     f"{MOD}.auth_users", "alice", "must be a list of rsync user names"),
    ("auth-user-upper-case", _module(auth_users=["Alice"]), "mr1",
     f"{MOD}.auth_users", ["Alice"], "lower case, digits, _ and -"),
    ("auth-user-without-secret", _module(auth_users=["alice"]), "mr1",
     f"{MOD}.auth_users", "alice", "has no password: add it to lvsha_mirror_rsync_secrets"),
    ("hosts-allow-host-bits", _module(hosts_allow=["192.0.2.1/24"]), "mr1",
     f"{MOD}.hosts_allow", "192.0.2.1/24", "host bits zero, such as 192.0.2.0/24"),
    ("hosts-allow-name", _module(hosts_allow=["client.example.net"]), "mr1",
     f"{MOD}.hosts_allow", "client.example.net", "must be an address or a network"),
    ("hosts-allow-not-a-list", _module(hosts_allow="192.0.2.0/24"), "mr1",
     f"{MOD}.hosts_allow", "192.0.2.0/24", "must be a list of addresses or networks"),
    ("max-connections-negative", _module(max_connections=-1), "mr1", f"{MOD}.max_connections", -1, "must be 0..1000"),
    ("max-connections-not-a-number", _module(max_connections="many"), "mr1",
     f"{MOD}.max_connections", "many", "must be an integer 0..1000"),
    ("timeout-too-long", _module(timeout=86401), "mr1", f"{MOD}.timeout", 86401, "must be 0..86400"),
    ("timeout-bool", _module(timeout=True), "mr1", f"{MOD}.timeout", True, "must be an integer 0..86400"),
    ("module-excludes-not-a-list", _module(excludes="*.tmp"), "mr1", f"{MOD}.excludes", "*.tmp", PATTERNS_VALID),
    # the pair's settings
    ("interval-4", _set(lvsha_mirror_interval=4), "mr1", "lvsha_mirror_interval", 4, "must be 5..86400"),
    ("interval-86401", _set(lvsha_mirror_interval=86401), "mr1", "lvsha_mirror_interval", 86401, "must be 5..86400"),
    ("interval-not-a-number", _set(lvsha_mirror_interval="1m"), "mr1",
     "lvsha_mirror_interval", "1m", "must be an integer 5..86400"),
    ("excludes-not-a-list", _set(lvsha_mirror_excludes="*.swp"), "mr1",
     "lvsha_mirror_excludes", "*.swp", PATTERNS_VALID),
    ("excludes-empty-pattern", _set(lvsha_mirror_excludes=["/node.txt", ""]), "mr1",
     "lvsha_mirror_excludes", ["/node.txt", ""], "non-empty strings, one line each"),
    ("excludes-two-lines", _set(lvsha_mirror_excludes=["/node.txt\n*.swp"]), "mr1",
     "lvsha_mirror_excludes", ["/node.txt\n*.swp"], "one line each"),
    ("host-files-not-a-list", _set(lvsha_mirror_host_files="/etc/hostname"), "mr1",
     "lvsha_mirror_host_files", "/etc/hostname", "must be a list of absolute paths"),
    ("host-files-relative", _set(lvsha_mirror_host_files=["etc/hostname"]), "mr1",
     "lvsha_mirror_host_files", ["etc/hostname"], "(directories end in /) that a pull never overwrites"),
    ("host-files-not-normalised", _set(lvsha_mirror_host_files=["/etc//hosts"]), "mr1",
     "lvsha_mirror_host_files", ["/etc//hosts"], "must be a list of absolute paths"),
    ("services-without-unit-type", _set(lvsha_mirror_services=["nginx"]), "mr1",
     "lvsha_mirror_services", ["nginx"], "must be a list of systemd units such as nginx.service"),
    ("services-a-socket", _set(lvsha_mirror_services=["nginx.service", "nginx.socket"]), "mr1",
     "lvsha_mirror_services", ["nginx.service", "nginx.socket"], "systemd units"),
    ("services-not-a-list", _set(lvsha_mirror_services="nginx.service"), "mr1",
     "lvsha_mirror_services", "nginx.service", "must be a list of systemd units"),
    ("notify-command-two-lines", _set(lvsha_mirror_notify_command="logger took over\nreboot"), "mr1",
     "lvsha_mirror_notify_command", "logger took over\nreboot", "must be one shell command line, or empty"),
    ("notify-mail-without-domain", _set(lvsha_mirror_notify_mail="ops"), "mr1",
     "lvsha_mirror_notify_mail", "ops", "must be one mail address such as ops@example.net"),
    ("notify-mail-two-addresses", _set(lvsha_mirror_notify_mail="ops@example.net, dev@example.net"), "mr1",
     "lvsha_mirror_notify_mail", "ops@example.net, dev@example.net", "one mail address"),
    ("rsync-secrets-empty-password", _set(lvsha_mirror_rsync_secrets={"bob": "pw", "alice": ""}), "mr1",
     "lvsha_mirror_rsync_secrets", ["alice", "bob"], "non-empty one-line passwords"),
    ("rsync-secrets-not-a-mapping", _set(lvsha_mirror_rsync_secrets=["alice"]), "mr1",
     "lvsha_mirror_rsync_secrets", "(not a mapping)", "must map rsync user names"),
    ("module-on-a-host-directory", _module(path="/etc/ssh"), "mr1",
     f"{MOD}.path", "/etc/ssh", "lies in /etc/ssh/, which holds this node's own files"),
    ("module-inside-a-host-directory", _module(path="/etc/ha.d/resource.d"), "mr1",
     f"{MOD}.path", "/etc/ha.d/resource.d", "lies in /etc/ha.d/"),
    ("module-on-the-mirror-state", _module(path="/var/lib/lvsha-mirror"), "mr1",
     f"{MOD}.path", "/var/lib/lvsha-mirror", "lies in /var/lib/lvsha-mirror/"),
    ("rsync-port-0", _set(lvsha_mirror_rsync_port=0), "mr1", "lvsha_mirror_rsync_port", 0, "must be 1..65535"),
    ("rsync-port-65536", _set(lvsha_mirror_rsync_port=65536), "mr1",
     "lvsha_mirror_rsync_port", 65536, "must be 1..65535"),
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
