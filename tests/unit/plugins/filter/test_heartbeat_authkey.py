# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The heartbeat_authkey and heartbeat_media filters (plugins/filter/heartbeat.py).

The heartbeat role feeds it the stdout_lines of ``uname -n; cat /etc/ha.d/authkeys`` (the
cat only when the file is readable), so the first line is a node name, not authkeys syntax.
"""
from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.lvsha.cluster.plugins.filter.heartbeat import FilterModule, heartbeat_authkey, heartbeat_media

SHA1_AND_MD5 = """\
lb1
# heartbeat authkeys, written by lvsha.cluster
auth 1
1 sha1 3f9d1c0b7a6e5d4c3b2a19080706050403020100
2 md5 oldmd5key
"""


def test_sha1_entry_selected_by_auth() -> None:
    assert heartbeat_authkey(SHA1_AND_MD5) == "3f9d1c0b7a6e5d4c3b2a19080706050403020100"


def test_md5_entry_selected_by_auth() -> None:
    assert heartbeat_authkey(SHA1_AND_MD5.replace("auth 1", "auth 2")) == "oldmd5key"


def test_auth_line_may_follow_the_keys() -> None:
    assert heartbeat_authkey(["lb1", "1 md5 first", "2 sha1 second", "auth 2"]) == "second"


def test_whitespace_and_tabs() -> None:
    assert heartbeat_authkey(["lb1", "  auth\t3  ", "3\tsha1\tk3y  "]) == "k3y"


@pytest.mark.parametrize("text", [
    "lb1\nauth 1\n1 crc\n",
    "lb1\nauth 1\n1 crc notakey\n",
    "lb1\nauth 2\n1 sha1 good\n2 crc\n",
], ids=["crc", "crc-with-key", "crc-selected-beside-sha1"])
def test_crc_is_refused(text: str) -> None:
    assert heartbeat_authkey(text) == ""


def test_selected_entry_missing() -> None:
    assert heartbeat_authkey("lb1\nauth 3\n1 sha1 one\n2 md5 two\n") == ""


def test_no_auth_line() -> None:
    assert heartbeat_authkey("lb1\n1 sha1 one\n") == ""


def test_sha1_without_key() -> None:
    assert heartbeat_authkey("lb1\nauth 1\n1 sha1\n") == ""


# The commented lines come AFTER the real ones: a later auth line wins and a later entry for
# the same index replaces the earlier one, so a filter that read comments would pick them.
@pytest.mark.parametrize("text, key", [
    ("lb1\nauth 1\n#auth 2\n1 sha1 one\n2 md5 two\n", "one"),
    ("lb1\nauth 1\n  # auth 2\n1 sha1 one\n2 md5 two\n", "one"),
    ("lb1\nauth 1\n1 sha1 one\n#1 sha1 commented\n", "one"),
    ("lb1\nauth 1\n1 sha1 one\n # 1 md5 commented\n", "one"),
    ("lb1\nauth 1\n#auth 2\n1 sha1 one\n2 md5 two\n#1 md5 commented\n", "one"),
    ("lb1\nauth 1\n#auth 2\n#2 sha1 commented\n", ""),
], ids=["auth", "indented-auth", "key", "indented-key", "both", "only-commented-selection"])
def test_commented_lines_are_ignored(text: str, key: str) -> None:
    assert heartbeat_authkey(text) == key


@pytest.mark.parametrize("lines", [["lb1"], "lb1\n", [], "", None], ids=["lines", "text", "no-lines", "no-text", "none"])
def test_missing_file_gives_no_key(lines: Any) -> None:
    # /etc/ha.d/authkeys absent or unreadable: only uname -n was printed, or nothing at all.
    assert heartbeat_authkey(lines) == ""


@pytest.mark.parametrize("node", ["1", "auth", "sha1", "lb1.example.org"])
def test_the_uname_first_line_is_skipped(node: str) -> None:
    # A node name never has spaces, so it is never a complete authkeys line.
    assert heartbeat_authkey([node, "auth 1", "1 sha1 key1"]) == "key1"


def test_text_and_list_input_agree() -> None:
    assert heartbeat_authkey(SHA1_AND_MD5.splitlines()) == heartbeat_authkey(SHA1_AND_MD5)
    crlf = SHA1_AND_MD5.replace("\n", "\r\n")
    assert heartbeat_authkey(crlf) == heartbeat_authkey(SHA1_AND_MD5)


def test_filter_is_registered() -> None:
    assert FilterModule().filters() == {"heartbeat_authkey": heartbeat_authkey, "heartbeat_media": heartbeat_media}


def test_media_write_a_segment_name_as_its_mapping_and_keep_mappings() -> None:
    paths = ["public", {"segment": "private", "method": "bcast"}, {"serial": "/dev/ttyS0"}]
    assert heartbeat_media(paths) == [{"segment": "public"}, {"segment": "private", "method": "bcast"},
                                      {"serial": "/dev/ttyS0"}]
    assert heartbeat_media([]) == []
