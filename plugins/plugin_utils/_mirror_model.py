# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mirror pair part of the cluster model: its rules, and what each node needs.

A mirror cluster (``lvsha_cluster.kind: mirror``, see ``docs/model.md``) is two nodes, each
with ``lvsha_public_address``/``_interface`` and ``lvsha_private_address``/``_interface``
(the pull runs over the private segment), and cluster-wide:

* ``lvsha_mirror_vip``: the floating address that clients use; it follows the serving node;
* ``lvsha_mirror_modules``: the mirrored directories, one rsync daemon module each;
* ``lvsha_mirror_interval``, ``lvsha_mirror_excludes``, ``lvsha_mirror_host_files``,
  ``lvsha_mirror_services``, ``lvsha_mirror_probe``, ``lvsha_mirror_notify_command``, ``lvsha_mirror_notify_mail``,
  ``lvsha_mirror_rsync_port``, ``lvsha_mirror_rsync_secrets``.

:func:`derive` checks one pair; :func:`host_section` gives one node its share: the peer to
pull from, the modules with their exclude lists, the settings of ``lvsha mirror``;
:func:`haresources` heartbeat's resource chain. No secret is in a section.
"""
from __future__ import annotations

import functools
import ipaddress
import posixpath
import re
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import (
    NAME_RE, PSEUDO_DIRS, URL_PATH_RE, Findings, abs_path, address_resource, check_pair_nodes, flag,
    floating_address, host_address, host_vip, in_range, pair_floating, pair_members, unknown_field)

KIND = "mirror"
# The cluster-wide variables: one value for both nodes.
SETTINGS = _schema.settings(KIND)
# Their values are never shown in a finding.
SECRET_SETTINGS = _schema.secrets(KIND)
MODULE = "lvsha_mirror_modules"
PROBE = "lvsha_mirror_probe"
PROBE_FIELDS = _schema.fields(PROBE)
# The module through which each node tells its peer which data it holds (see ``lvsha mirror``).
STATE_MODULE = "lvsha-state"
STATE_DIR = "/var/lib/lvsha-mirror"
CONFIG_DIR = "/etc/lvsha/mirror"
# A user name and an rsync password: the grammars of the schema (the pull account's, too).
USER_RE = _schema.GRAMMARS["user_name"][0]
PASSWORD_RE = _schema.GRAMMARS["rsync_password"][0]
UNIT_RE = re.compile(r"(?=.{1,255}\Z)[A-Za-z0-9:_.@-]+\.(service|target)\Z")
MAIL_RE = re.compile(r"[A-Za-z0-9_.+=-]{1,64}@[A-Za-z0-9.-]{1,253}\Z")
COMMENT_MAX = 200
# A line of an exclude file that rsync reads as more than a pattern: "!" clears the list,
# "#" and ";" start comments, "+ " and "- " make include and exclude rules.
PATTERN_RULES = ("!", "#", ";", "+ ", "- ")
PATTERN_MAX = 1024
PATTERN_BAD = ("\n", "\r", "\0")


def _patterns(find: Findings, host: str, path: str, raw: Any) -> List[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        find.add(host, path, raw, "must be a list of rsync exclude patterns")
        return []
    for index, pattern in enumerate(raw):
        if not isinstance(pattern, str) or not pattern or len(pattern) > PATTERN_MAX or not pattern.isprintable() \
                or pattern.startswith(PATTERN_RULES) or pattern != pattern.strip():
            find.add(host, f"{path}[{index}]", pattern,
                     f"must be one rsync exclude pattern: printable, up to {PATTERN_MAX} characters, no blanks at "
                     f"either end, not starting with {', '.join(repr(r) for r in PATTERN_RULES)} (rules, not patterns)")
            return []
    return list(raw)


def anchored_excludes(module_path: str, host_files: List[str]) -> List[str]:
    """The host files that lie under ``module_path``, as patterns anchored at the module's root."""
    root = module_path.rstrip("/") + "/"
    return ["/" + item[len(root):] for item in host_files if item.startswith(root) and item != root]


def _hosts_allow(find: Findings, host: str, path: str, raw: Any) -> List[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        find.add(host, path, raw, "must be a list of addresses or networks (192.0.2.0/24)")
        return []
    allowed = []
    for entry in raw:
        try:
            allowed.append(str(ipaddress.ip_network(str(entry), strict=True)))
        except ValueError:
            find.add(host, path, entry, "must be an address or a network with host bits zero, such as 192.0.2.0/24")
    return allowed


def _modules(find: Findings, host: str, model: Mapping[str, Any], secrets: Mapping[str, Any]) -> List[Dict[str, Any]]:
    raw = model.get("lvsha_mirror_modules")
    if not isinstance(raw, list) or not raw:
        find.add(host, "lvsha_mirror_modules", raw, "is required: a list of mirrored directories {name, path}")
        return []
    modules: List[Dict[str, Any]] = []
    names: Dict[str, int] = {}
    paths: Dict[str, int] = {}
    for index, item in enumerate(raw):
        path = f"lvsha_mirror_modules[{index}]"
        if not isinstance(item, Mapping):
            find.add(host, path, item, "must be a mapping with name and path")
            continue
        unknown_field(find, host, path, item, _schema.fields(MODULE), "mirror module")
        name = item.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name) or name == STATE_MODULE:
            find.add(host, f"{path}.name", name,
                     f"must be a name of letters, digits, '.', '_' and '-' (not {STATE_MODULE}, which the pair uses)")
        elif name in names:
            find.add(host, f"{path}.name", name, f"is already used by lvsha_mirror_modules[{names[name]}]")
        else:
            names[name] = index
        directory = abs_path(find, host, f"{path}.path", item.get("path"), "the mirrored directory", PSEUDO_DIRS)
        if directory == "/":
            find.add(host, f"{path}.path", directory,
                     "must not be /: a pull with --delete would rewrite the whole system; mirror the directories that matter")
            directory = None
        if directory is not None:
            for other, other_index in paths.items():
                if directory == other or directory.startswith(other + "/") or other.startswith(directory + "/"):
                    find.add(host, f"{path}.path", directory,
                             f"overlaps lvsha_mirror_modules[{other_index}].path {other}; each file must belong to one module")
                    break
            paths.setdefault(directory, index)
        comment = item.get("comment", "")
        if not isinstance(comment, str) or not comment.isprintable() or len(comment) > COMMENT_MAX:
            find.add(host, f"{path}.comment", comment, f"must be one line of printable text, at most {COMMENT_MAX} characters")
        # Both on unless set to false; a value that is not a boolean keeps them on.
        flags = {key: item.get(key, True) is not False for key in ("read_only", "use_chroot")}
        for key in flags:
            flag(find, host, f"{path}.{key}", item.get(key, True))
        owner = {}
        for field in ("uid", "gid"):
            value = item.get(field, _schema.default(f"{MODULE}.{field}"))
            if isinstance(value, bool) or not (isinstance(value, int) and value >= 0
                                               or isinstance(value, str) and USER_RE.fullmatch(value)):
                find.add(host, f"{path}.{field}", value,
                         "must be a user or group name or number; the sender reads every file as it (root keeps owners intact)")
            owner[field] = value
        users = item.get("auth_users", [])
        if not isinstance(users, list) or not all(isinstance(u, str) and USER_RE.fullmatch(u) for u in users):
            find.add(host, f"{path}.auth_users", users, "must be a list of rsync user names (lower case, digits, _ and -)")
            users = []
        for user in users:
            if user not in secrets:
                find.add(host, f"{path}.auth_users", user,
                         "has no password: add it to lvsha_mirror_rsync_secrets (a vaulted mapping user: password)")
        modules.append({
            "name": name, "path": directory, "comment": comment if isinstance(comment, str) else "",
            "read_only": flags["read_only"], "use_chroot": flags["use_chroot"], "uid": owner["uid"], "gid": owner["gid"],
            **{key: in_range(find, host, f"{path}.{key}", item.get(key, _schema.default(f"{MODULE}.{key}")), f"{MODULE}.{key}")
               for key in ("max_connections", "timeout")},
            "hosts_allow": _hosts_allow(find, host, f"{path}.hosts_allow", item.get("hosts_allow")),
            "auth_users": list(users),
            "excludes": _patterns(find, host, f"{path}.excludes", item.get("excludes")),
        })
    return modules


def _notify(find: Findings, host: str, model: Mapping[str, Any]) -> Dict[str, Any]:
    command = model.get("lvsha_mirror_notify_command", "")
    if not isinstance(command, str) or any(c in command for c in "\n\r\0"):
        find.add(host, "lvsha_mirror_notify_command", command, "must be one shell command line, or empty")
        command = ""
    mail = model.get("lvsha_mirror_notify_mail", "")
    if mail and (not isinstance(mail, str) or not MAIL_RE.match(mail)):
        find.add(host, "lvsha_mirror_notify_mail", mail, "must be one mail address such as ops@example.net, or empty")
        mail = ""
    return {"command": command, "mail": mail or ""}


def _probe(find: Findings, host: str, model: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """lvsha_mirror_probe, checked: what lvsha-watch asks of the service on the floating address."""
    raw = model.get(PROBE)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        find.add(host, PROBE, raw, "must be a mapping {port, path}: TCP on port, or HTTP GET of path")
        return None
    unknown_field(find, host, PROBE, raw, PROBE_FIELDS, "probe")
    port = in_range(find, host, f"{PROBE}.port", raw.get("port"), f"{PROBE}.port")
    path = raw.get("path")
    if path is not None and not (isinstance(path, str) and URL_PATH_RE.fullmatch(path)):
        find.add(host, f"{PROBE}.path", path, "must be an absolute URL path such as /index.html "
                 "(letters, digits and ._~%/+=:@,-), or unset for a TCP probe")
        path = None
    return {"port": port, "path": path} if port is not None else None


def derive(find: Findings, cluster: Any) -> Dict[str, Any]:
    """The pair's address, modules and settings, checked; errors on cluster-wide values name
    the pair's first node, whose variables are the cluster's source."""
    hostvars, viewer, model, nodes = cluster.hostvars, cluster.source, cluster.settings, cluster.nodes
    secrets = model.get("lvsha_mirror_rsync_secrets", {})
    if not isinstance(secrets, Mapping) or not all(isinstance(u, str) and USER_RE.fullmatch(u) and isinstance(p, str)
                                                   and PASSWORD_RE.fullmatch(p) for u, p in secrets.items()):
        # The values are secrets: name the users only.
        find.add(viewer, "lvsha_mirror_rsync_secrets", sorted(map(str, secrets)) if isinstance(secrets, Mapping) else "(not a mapping)",
                 "must map rsync user names to non-empty one-line passwords (each "
                 f"{_schema.GRAMMARS['rsync_password'][1]})")
        secrets = {}
    vip = floating_address(find, viewer, model, "lvsha_mirror_vip")
    modules = _modules(find, viewer, model, secrets)
    interval = in_range(find, viewer, "lvsha_mirror_interval",
                        model.get("lvsha_mirror_interval", _schema.default("lvsha_mirror_interval")), "lvsha_mirror_interval")
    excludes = _patterns(find, viewer, "lvsha_mirror_excludes", model.get("lvsha_mirror_excludes"))
    host_files = model.get("lvsha_mirror_host_files", _schema.default("lvsha_mirror_host_files"))
    if not isinstance(host_files, list) or not all(
            isinstance(f, str) and f.startswith("/") and posixpath.normpath(f) == f.rstrip("/")
            and not any(c in f for c in PATTERN_BAD) for f in host_files):
        find.add(viewer, "lvsha_mirror_host_files", host_files,
                 "must be a list of absolute paths (directories end in /) that a pull never overwrites")
        host_files = _schema.default("lvsha_mirror_host_files")
    # A module on a host directory would have nothing to exclude and pull the peer's copy over it.
    protected = [d for d in host_files if d.endswith("/")] + [STATE_DIR + "/", CONFIG_DIR + "/"]
    for index, module in enumerate(modules):
        inside = next((d for d in protected if module["path"] and (module["path"] + "/").startswith(d)), None)
        if inside:
            find.add(viewer, f"lvsha_mirror_modules[{index}].path", module["path"],
                     f"lies in {inside}, which holds this node's own files (lvsha_mirror_host_files); mirror elsewhere")
    services = model.get("lvsha_mirror_services", [])
    if not isinstance(services, list) or not all(isinstance(s, str) and UNIT_RE.match(s) for s in services):
        find.add(viewer, "lvsha_mirror_services", services,
                 "must be a list of systemd units such as nginx.service, started on the serving node only")
        services = []
    port = in_range(find, viewer, "lvsha_mirror_rsync_port",
                    model.get("lvsha_mirror_rsync_port", _schema.default("lvsha_mirror_rsync_port")), "lvsha_mirror_rsync_port")
    check_pair_nodes(find, hostvars, nodes, cluster.name, vip, "lvsha_mirror_vip")
    addresses = {node: host_address(find, hostvars, node, "private", node, f"cluster {cluster.name}") for node in nodes}
    private = [a for a in addresses.values() if a]
    if len(private) == 2 and private[0] == private[1]:
        find.add(viewer, "lvsha_private_address", private[0], f"the nodes of cluster {cluster.name} need distinct private addresses")
    return {"nodes": nodes, "vip": vip, "modules": modules, "interval": interval, "excludes": excludes,
            "host_files": host_files, "services": services, "notify": _notify(find, viewer, model), "port": port,
            "probe": _probe(find, viewer, model), "addresses": addresses, "secrets": secrets}


members = pair_members
floating = functools.partial(pair_floating, variable="lvsha_mirror_vip")


def service_watch(derived: Dict[str, Any], cluster: Any, host: str) -> Optional[Dict[str, Any]]:
    """What lvsha-watch checks on the serving node: the services, and the probe if there is one."""
    if not derived["services"] and not derived["probe"]:
        return None
    address = derived["vip"]["address"]
    probe = dict(derived["probe"], address=address) if derived["probe"] else None
    return {"units": derived["services"], "probe": probe, "vip": {"address": address}, "notify": derived["notify"]}


def _vip(derived: Dict[str, Any], cluster: Any, host: str) -> Dict[str, Any]:
    return host_vip(derived["vip"], cluster.hostvars[host].get("lvsha_public_interface"))


def haresources(derived: Dict[str, Any], cluster: Any, host: str) -> List[str]:
    # Pull first (catch up, stop the timer), then the address, then the service.
    vip = _vip(derived, cluster, host)
    return ["lvsha-mirror-sync", address_resource(vip), "lvsha-mirror-serve"]


def host_section(derived: Dict[str, Any], cluster: Any, host: str) -> Dict[str, Any]:
    """What mirror node ``host`` needs. Holds no secret."""
    nodes = derived["nodes"]
    is_node = host in nodes
    peer = next((n for n in nodes if n != host), None) if is_node else None
    modules = []
    for module in derived["modules"]:
        excludes = anchored_excludes(module["path"], derived["host_files"]) + derived["excludes"] + module["excludes"]
        # The peer always; more readers only when the model names them, each once. Compared as
        # networks: _hosts_allow spells an address 198.51.100.42/32, the peer is 198.51.100.42.
        allow = [derived["addresses"][peer]] if peer else []
        seen = {ipaddress.ip_network(a) for a in allow}
        for entry in module["hosts_allow"]:
            if ipaddress.ip_network(entry) not in seen:
                seen.add(ipaddress.ip_network(entry))
                allow.append(entry)
        modules.append(dict(module, excludes=excludes, exclude_file=f"{CONFIG_DIR}/{module['name']}.exclude",
                            hosts_allow=allow))
    return {
        "cluster": cluster.name,
        "is_node": is_node,
        "nodes": nodes,
        "peer": peer,
        "listen_address": derived["addresses"].get(host),
        "peer_address": derived["addresses"].get(peer) if peer else None,
        "port": derived["port"],
        "vip": _vip(derived, cluster, host),
        "modules": modules,
        "interval": derived["interval"],
        "services": derived["services"],
        "notify": derived["notify"],
        "state_module": STATE_MODULE,
        "state_dir": STATE_DIR,
        "rsync_users": sorted(derived["secrets"]),
    }
