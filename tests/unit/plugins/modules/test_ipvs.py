# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML cases for lvsha.cluster.ipvs (see test_ipvs.yaml)."""
from __future__ import annotations

import copy
import grp
import os
import pwd
import stat
from pathlib import Path
from typing import Any, Dict, Iterator
from unittest import mock

import pytest

from ansible_collections.lvsha.cluster.plugins.modules import ipvs
from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.module_cases import load_cases, run_case
from ansible_collections.lvsha.cluster.tests.unit.plugins.modules.recordings import resolve_case

HERE = Path(__file__).resolve().parent


def _substitute(value: Any, mapping: Dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, text in mapping.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, list):
        return [_substitute(item, mapping) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, mapping) for key, item in value.items()}
    return value


def prepare(case: Dict[str, Any], tmp_path: Path) -> Dict[str, Any]:
    """Resolve recorded and hand-written outputs (recordings.py) and ``save_path`` into tmp_path."""
    case = resolve_case(case, "ipvsadm")
    params = case.setdefault("params", {})
    if params.get("save_path"):
        params["save_path"] = str(tmp_path / params["save_path"])
        case["result"] = _substitute(case.get("result", {}), {"save_path": params["save_path"]})
    return case


@pytest.mark.parametrize("case", load_cases(HERE / "test_ipvs.yaml"))
def test_ipvs(case: Dict[str, Any], tmp_path: Path) -> None:
    case = prepare(case, tmp_path)
    path = Path(case["params"]["save_path"]) if case["params"].get("save_path") else None
    if path is not None and "save_before" in case:
        path.write_text(case["save_before"])
    with mock.patch.object(ipvs, "ipvs_loaded", return_value=case.get("ipvs_loaded", True)):
        run_case(ipvs.main, case)
    if path is not None and "save_after" in case:
        assert path.read_text() == case["save_after"]
        assert not [p for p in path.parent.iterdir() if p.name.startswith(".ipvs-")], "temporary file left behind"


SAVE_CASE: Dict[str, Any] = {
    "params": {"services": [], "save_path": "rules"},
    "commands": [{"argv": ["/usr/sbin/ipvsadm", "-Sn"], "recorded": "save_mixed"},
                 {"argv": ["/usr/sbin/ipvsadm", "-Ln", "--thresholds"], "recorded": "list_mixed_thresholds"}],
    "result": {"changed": True},
}


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o027], indirect=True, ids=["077", "022", "027"])
def test_new_save_file_is_world_readable(umask: int, tmp_path: Path) -> None:
    # The documented contract: a new save file is 0644 whatever the umask (mkstemp makes 0600,
    # and atomic_move sets 0666 & ~umask on a file it creates).
    case = prepare(copy.deepcopy(SAVE_CASE), tmp_path)
    with mock.patch.object(ipvs, "ipvs_loaded", return_value=True):
        run_case(ipvs.main, case)
    assert oct(stat.S_IMODE((tmp_path / "rules").stat().st_mode)) == "0o644"


@pytest.mark.parametrize("umask", [0o022], indirect=True, ids=["022"])
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664], ids=oct)
def test_existing_save_file_keeps_its_mode(umask: int, mode: int, tmp_path: Path) -> None:
    # Only a new file gets 0644; an administrator's mode on an existing file is kept.
    (tmp_path / "rules").write_text("-A -t 192.0.2.9:80 -s wlc\n")
    (tmp_path / "rules").chmod(mode)
    case = prepare(copy.deepcopy(SAVE_CASE), tmp_path)
    with mock.patch.object(ipvs, "ipvs_loaded", return_value=True):
        run_case(ipvs.main, case)
    assert (tmp_path / "rules").read_text() != "-A -t 192.0.2.9:80 -s wlc\n"
    assert oct(stat.S_IMODE((tmp_path / "rules").stat().st_mode)) == oct(mode)


def test_restore_is_fed_in_c_locale() -> None:
    seen: Dict[str, Any] = {}
    module = mock.MagicMock()
    module.get_bin_path.return_value = "/usr/sbin/ipvsadm"
    module.run_command.side_effect = lambda argv, **kw: seen.update(kw) or (0, "", "")
    runner = ipvs._runner(module)
    runner.restore(["-D -t 192.0.2.1:80"])
    assert seen["environ_update"]["LC_ALL"] == "C"
    assert seen["data"] == "-D -t 192.0.2.1:80\n"
    assert seen["binary_data"] is True


def _save_run(tmp_path: Path, check_mode: bool = False, **file_options: Any) -> Dict[str, Any]:
    """One run with save_path and the given file options, the IPVS table unchanged."""
    case = prepare(copy.deepcopy(SAVE_CASE), tmp_path)
    case["params"].update(file_options)
    case["check_mode"] = check_mode
    del case["result"]
    with mock.patch.object(ipvs, "ipvs_loaded", return_value=True):
        return run_case(ipvs.main, case)


def test_save_path_takes_the_mode_owner_and_group_asked(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    owner, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    assert _save_run(tmp_path, mode="0600", owner=owner, group=group)["changed"] is True
    assert oct(stat.S_IMODE(rules.stat().st_mode)) == "0o600"
    content = rules.read_text()
    # Again: nothing to do. Then only the mode differs: changed, the content kept.
    assert _save_run(tmp_path, mode="0600", owner=owner, group=group)["changed"] is False
    assert _save_run(tmp_path, mode="u=rw,g=r")["changed"] is True
    assert oct(stat.S_IMODE(rules.stat().st_mode)) == "0o640" and rules.read_text() == content
    # Check mode predicts the change of mode and makes none.
    assert _save_run(tmp_path, check_mode=True, mode="0644")["changed"] is True
    assert oct(stat.S_IMODE(rules.stat().st_mode)) == "0o640"
    assert _save_run(tmp_path, check_mode=True, mode="0640")["changed"] is False


def test_file_options_need_save_path() -> None:
    case = {"params": {"services": [], "mode": "0600", "owner": "root"}, "failed": True,
            "msg_contains": "mode, owner apply to save_path, which is not set"}
    with mock.patch.object(ipvs, "ipvs_loaded", return_value=True):
        run_case(ipvs.main, case)
