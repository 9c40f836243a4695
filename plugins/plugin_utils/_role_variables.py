# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' own variables set in the inventory (``heartbeat_*``, ``drbd_*``, ...), checked
against the roles' argument specs for the roles that the plan gives each host, and, for the
roles of a heartbeat pair, alike on both nodes. Controller-side only."""
from __future__ import annotations

import functools
import ipaddress
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema
from ansible_collections.lvsha.cluster.plugins.plugin_utils._model_common import (RETIRED, Findings, NotShown, integer,
                                                                                  unknown_field)

ROLES = Path(__file__).resolve().parents[2] / "roles"
# What an argument spec entry says about a value (not its documentation or default).
SPEC_KEYS = ("type", "elements", "choices", "options", "no_log")
# Roles whose settings shape what both nodes of a pair must agree on (ha.cf, the .res files,
# the pull account).
PAIR_ROLES = ("heartbeat", "drbd", "nfs", "rsync_mirror")
# Imported by every role of the plan: their options are checked on every host that has a role.
IMPORTED_ROLES = ("debian_packages",)


@functools.lru_cache(maxsize=None)
def _main_options(role: str) -> Dict[str, Dict[str, Any]]:
    """The options of a role's main entry point, as its argument spec has them (read once)."""
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return specs["argument_specs"]["main"].get("options") or {}


@functools.lru_cache(maxsize=None)
def role_defaults(role: str) -> Dict[str, Any]:
    """The defaults of a role's main entry point."""
    return {name: spec.get("default") for name, spec in _main_options(role).items()}


@functools.lru_cache(maxsize=None)
def role_options(role: str) -> Dict[str, Dict[str, Any]]:
    """The options of a role's main entry point named after the role."""
    return {name: {key: spec[key] for key in SPEC_KEYS if key in spec}
            for name, spec in _main_options(role).items() if name.startswith(role + "_")}


def _is_option_name(name: str, role: str) -> bool:
    """ROLE_NAME is the role's public variable space; ROLE__NAME are its internal facts."""
    return name.startswith(role + "_") and not name.startswith(role + "__")


def _valid(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type", "str")
    text = f"must be {'an' if kind == 'int' else 'a'} {kind}" + (f" of {spec['elements']}" if "elements" in spec else "")
    if "choices" in spec:
        text += f", one of {', '.join(map(str, spec['choices']))}"
    return text


def role_variable_errors(hostvars: Mapping[str, Mapping[str, Any]], roles: Mapping[str, List[str]],
                         pairs: Mapping[str, List[str]]) -> List[str]:
    """Each inventory variable named after a role that the host runs, checked against that
    role's argument spec. Only those variables are read (Ansible's hostvars template lazily)."""
    find = Findings()
    for host in sorted(roles):
        for role in [*roles[host], *IMPORTED_ROLES] if roles[host] else []:
            options = role_options(role)
            for name in sorted(key for key in hostvars[host] if _is_option_name(key, role)):
                spec = options.get(name)
                value = hostvars[host][name]
                if name in RETIRED:
                    find.add(host, name, NotShown(), RETIRED[name])
                    continue
                if spec is None:
                    find.add(host, name, NotShown(), f"is not an option of role {role} (options: {', '.join(sorted(options))})")
                    continue
                if spec.get("no_log"):
                    # The value is never shown.
                    if isinstance(value, (Mapping, list)) != (spec.get("type") in ("dict", "list")):
                        find.add(host, name, NotShown(), f"{_valid(spec)} (role {role})")
                    else:
                        _bounded(find, host, name, value, spec, role)
                    continue
                if ArgumentSpecValidator({name: spec}).validate({name: value}).error_messages:
                    find.add(host, name, value, f"{_valid(spec)} (role {role})")
                    continue
                _bounded(find, host, name, value, spec, role)
            if role == "heartbeat":
                _heartbeat_timing(find, host, hostvars[host])
                _heartbeat_ping_nodes(find, host, hostvars[host])
    for cluster, nodes in pairs.items():
        if len(nodes) != 2:
            continue
        first, second = nodes
        for role in PAIR_ROLES:
            if role not in roles.get(first, []):
                continue
            names = sorted({key for node in nodes for key in hostvars[node] if _is_option_name(key, role)})
            for name in names:
                if name in role_options(role) and hostvars[first].get(name) != hostvars[second].get(name):
                    secret = role_options(role)[name].get("no_log")
                    find.add(second, name, NotShown() if secret else hostvars[second].get(name),
                             f"differs from the value on {first} "
                             f"({NotShown() if secret else hostvars[first].get(name)!r}); both nodes of cluster "
                             f"{cluster} must run role {role} alike: set it on the pair's group")
    return find.errors


def _plain(value: Any) -> Any:
    """A vaulted value as its text (decrypted as the run would); other values as they are."""
    if isinstance(value, (str, int, float, bool, list, Mapping)) or value is None:
        return value
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a secret that cannot be read here fails the run later, at its use
        return None


def _bounded(find: Findings, host: str, name: str, value: Any, spec: Mapping[str, Any], role: str) -> None:
    """The bounds of model_schema.yml that a role variable's type cannot say; a boolean is a true
    boolean (Ansible's bool type takes "no" and "false", which a template reads as true)."""
    shown = NotShown() if spec.get("no_log") else value
    if spec.get("type") == "bool":
        if not isinstance(value, bool):
            find.add(host, name, shown, f"must be true or false, not a string or number (role {role})")
        return
    bounds = _schema.role_bounds().get(name)
    if bounds is None:
        return
    if "rule" in bounds:
        RULES[name](find, host, name, value, f"{bounds['rule']} (role {role})")
        return
    items = value if isinstance(value, list) else [_plain(value)]
    for index, item in enumerate(items):
        path = f"{name}[{index}]" if isinstance(value, list) else name
        item_shown = NotShown() if spec.get("no_log") else item
        if "range" in bounds:
            low, high = bounds["range"]
            if integer(item) is None or not low <= integer(item) <= high:
                find.add(host, path, item, f"must be an integer {low}..{high} (role {role})")
        elif "choices" in bounds:
            if item not in bounds["choices"]:
                find.add(host, path, item_shown, f"must be one of {', '.join(bounds['choices'])} (role {role})")
        else:
            pattern, what = _schema.GRAMMARS[bounds["grammar"]]
            text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
            if not isinstance(text, str) or not pattern.fullmatch(text):
                find.add(host, path, item_shown, f"must be {what} (role {role})")


def _seconds(value: Any) -> Optional[float]:
    """A heartbeat time (2, "2", "500ms") in seconds; None where its grammar already failed."""
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not _schema.GRAMMARS["duration"][0].fullmatch(text):
        return None
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text)


# More ping nodes than this are a mistake (heartbeat pings each of them every keepalive).
MAX_PING_NODES = 8


def _heartbeat_timing(find: Findings, host: str, variables: Mapping[str, Any]) -> None:
    """ha.cf's rules between its times: heartbeat's own (deadtime and deadping more than twice
    keepalive: it refuses to start otherwise), a heartbeat more often than the late warning, the
    warning before the peer is declared dead, and initdead at least twice deadtime (a booting
    peer's network may take that long)."""
    defaults = role_defaults("heartbeat")
    value = {name: variables.get(name, defaults[name])
             for name in ("heartbeat_keepalive", "heartbeat_warntime", "heartbeat_deadtime", "heartbeat_initdead",
                          "heartbeat_deadping")}
    keepalive, deadtime = _seconds(value["heartbeat_keepalive"]), _seconds(value["heartbeat_deadtime"])
    warntime, initdead = integer(value["heartbeat_warntime"]), integer(value["heartbeat_initdead"])
    deadping = _seconds(value["heartbeat_deadping"])
    if keepalive is None or deadtime is None or warntime is None or initdead is None or deadping is None:
        return
    if keepalive <= 0:
        find.add(host, "heartbeat_keepalive", value["heartbeat_keepalive"], "must be more than 0 (role heartbeat)")
        return
    for name, time in (("heartbeat_deadtime", deadtime), ("heartbeat_deadping", deadping)):
        if time <= 2 * keepalive:
            find.add(host, name, value[name], f"must be more than twice heartbeat_keepalive "
                                              f"({value['heartbeat_keepalive']}): heartbeat refuses to start (role heartbeat)")
    if not keepalive < warntime < deadtime:
        find.add(host, "heartbeat_warntime", warntime,
                 f"must lie between heartbeat_keepalive ({value['heartbeat_keepalive']}) and heartbeat_deadtime "
                 f"({value['heartbeat_deadtime']}): keepalive < warntime < deadtime (role heartbeat)")
    if initdead < 2 * deadtime:
        find.add(host, "heartbeat_initdead", initdead,
                 f"must be at least twice heartbeat_deadtime ({value['heartbeat_deadtime']}) (role heartbeat)")


def _heartbeat_ping_nodes(find: Findings, host: str, variables: Mapping[str, Any]) -> None:
    """Ping nodes stand for the clients' network: a few third hosts, each named once, none of them
    an address of this node (it would always answer)."""
    nodes = variables.get("heartbeat_ping_nodes")
    if not isinstance(nodes, list):
        return
    if len(nodes) > MAX_PING_NODES:
        find.add(host, "heartbeat_ping_nodes", nodes, f"must name at most {MAX_PING_NODES} ping nodes (role heartbeat)")
    own = {str(variables[name]): name for name in variables if name.startswith("lvsha_") and name.endswith("_address")}
    for index, node in enumerate(nodes):
        if node in nodes[:index]:
            find.add(host, f"heartbeat_ping_nodes[{index}]", node, "is named twice (role heartbeat)")
        elif node in own:
            find.add(host, f"heartbeat_ping_nodes[{index}]", node,
                     f"is this node's own {own[node]}: a ping node must be a third host, such as the clients' "
                     "router (role heartbeat)")


# heartbeat_paths: ha.cf's media, each path a segment (unicast to the peer) or a mapping.
PATH_FIELDS = ("segment", "method", "group", "ttl", "serial")
PATH_SEGMENTS = ("public", "private")
PATH_METHODS = ("ucast", "bcast", "mcast")
SERIAL_RE = re.compile(r"/dev/tty[A-Za-z0-9]{1,12}")


def _heartbeat_paths(find: Findings, host: str, name: str, value: Any, valid: str) -> None:
    """Each medium heartbeat sends over, as ha.cf writes it: ucast, bcast or mcast on a segment's
    interface, or a serial line. The words of these lines come from here alone."""
    if not value:
        find.add(host, name, value, f"must be {valid}")
    seen = set()
    for index, item in enumerate(value):
        path = f"{name}[{index}]"
        medium = {"segment": item} if isinstance(item, str) else item
        if not isinstance(medium, Mapping) or not medium:
            find.add(host, path, item, f"must be {valid}")
            continue
        unknown_field(find, host, path, medium, PATH_FIELDS, "heartbeat path")
        if "serial" in medium:
            if set(medium) != {"serial"}:
                find.add(host, path, dict(medium), "a serial path names its device alone: {serial: /dev/ttyS0} (role heartbeat)")
            elif not isinstance(medium["serial"], str) or not SERIAL_RE.fullmatch(medium["serial"]):
                find.add(host, f"{path}.serial", medium["serial"], "must be a serial device such as /dev/ttyS0 (role heartbeat)")
            key = ("device", str(medium["serial"]))
        else:
            segment, method = medium.get("segment"), medium.get("method", "ucast")
            if segment not in PATH_SEGMENTS:
                where = path if isinstance(item, str) else f"{path}.segment"
                find.add(host, where, segment, f"must be one of {', '.join(PATH_SEGMENTS)} (role heartbeat)")
            if method not in PATH_METHODS:
                find.add(host, f"{path}.method", method, f"must be one of {', '.join(PATH_METHODS)} (role heartbeat)")
            _mcast_options(find, host, path, medium, method == "mcast")
            key = ("segment", str(segment))
        if key in seen:
            find.add(host, path, item, f"names {key[0]} {key[1]} a second time (role heartbeat)")
        seen.add(key)


def _mcast_options(find: Findings, host: str, path: str, medium: Mapping[str, Any], mcast: bool) -> None:
    """An mcast path's group (required) and ttl; neither on another method."""
    if not mcast:
        for key in ("group", "ttl"):
            if key in medium:
                find.add(host, f"{path}.{key}", medium[key], "applies to method mcast only (role heartbeat)")
        return
    group = medium.get("group")
    if not isinstance(group, str) or not _schema.GRAMMARS["ipv4"][0].fullmatch(group) \
            or not ipaddress.IPv4Address(group).is_multicast:
        find.add(host, f"{path}.group", group, "must be an IPv4 multicast address such as 239.192.0.1 (role heartbeat)")
    ttl = integer(medium.get("ttl", 1))
    if ttl is None or not 1 <= ttl <= 255:
        find.add(host, f"{path}.ttl", medium.get("ttl"), "must be an integer 1..255 (role heartbeat)")


def _mon_alerts(find: Findings, host: str, name: str, value: Any, valid: str) -> None:
    """mon's extra alerts: each a line's words (the same for alert and upalert), or a mapping of
    the two; every word of the alert lines comes from here."""
    pattern = _schema.GRAMMARS["mon_alert"][0]
    for index, item in enumerate(value if isinstance(value, list) else [value]):
        path = f"{name}[{index}]"
        lines = {"alert": item} if isinstance(item, str) else item
        if not isinstance(lines, Mapping) or "alert" not in lines:
            find.add(host, path, item, f"must be {valid}")
            continue
        unknown_field(find, host, path, lines, ("alert", "upalert"), "mon alert")
        for key, line in lines.items():
            where = path if isinstance(item, str) else f"{path}.{key}"
            if not isinstance(line, str) or not pattern.fullmatch(line):
                find.add(host, where, line, f"must be {valid}")


# Role variables whose bound is a rule (model_schema.yml's text) checked by a function here.
RULES: Dict[str, Callable[[Findings, str, str, Any, str], None]] = {"heartbeat_paths": _heartbeat_paths,
                                                                    "mon_extra_alerts": _mon_alerts}
