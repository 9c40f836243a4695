# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""heartbeat's files: the key in use in an authkeys file; the media of heartbeat_paths."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Union

AUTH_RE = re.compile(r"^\s*auth\s+(\d+)\s*$")
KEY_RE = re.compile(r"^\s*(\d+)\s+(sha1|md5|crc)(?:\s+(\S+))?\s*$")


def heartbeat_authkey(lines: Union[str, List[str]]) -> str:
    """The key that ``auth N`` selects, if its method is sha1 or md5; "" otherwise.

    Lines that are not authkeys syntax (the role prepends ``uname -n``) are skipped.
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    selected, keys = None, {}
    for line in lines or []:
        match = AUTH_RE.match(line)
        if match:
            selected = match.group(1)
            continue
        match = KEY_RE.match(line)
        if match and match.group(2) != "crc" and match.group(3):
            keys[match.group(1)] = match.group(3)
    return keys.get(selected, "") if selected else ""


def heartbeat_media(paths: List[Union[str, Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    """heartbeat_paths (checked by the model) with each segment name written as the mapping it
    stands for, ``{"segment": NAME}``: unicast to the peer on that segment."""
    return [{"segment": path} if isinstance(path, str) else dict(path) for path in paths or []]


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"heartbeat_authkey": heartbeat_authkey, "heartbeat_media": heartbeat_media}
