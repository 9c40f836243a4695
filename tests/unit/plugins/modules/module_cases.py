"""Run a module against a YAML case: exact argv in, recorded output out, expected result.

A case file is a list of cases::

    - id: adds-one-service
      params: {services: [...]}        # module arguments
      check_mode: false                # optional
      diff: false                      # optional (sets _ansible_diff)
      commands:                        # every command the module must run, in order
        - argv: [/usr/sbin/ipvsadm, -Sn]
          stdin: "..."                 # optional: data the module must feed on stdin
          rc: 0
          out: "..."                   # stdout recorded from the real tool
          err: ""
      result:                          # subset of the module result that must match
        changed: true
      failed: false                    # optional: expect fail_json
      msg_contains: "..."              # optional: fragment of the failure message

Commands resolve through ``get_bin_path`` to ``/usr/sbin/NAME`` unless the case
gives ``bin_paths: {NAME: PATH}``. A case that expects more commands than the module
runs, or fewer, fails.

Every command must run in the target's C locale (LANG, LC_ALL and LC_MESSAGES), which the
module asks ``locale -a`` for once (ansible-core's get_best_parsable_locale): that query is
answered with the case's ``locales`` (default Debian 12's, ``C``, ``C.utf8``, ``POSIX``) and
is not listed in ``commands``; ``locale`` names the locale expected (default ``C.utf8``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19 reads the arguments from basic._ANSIBLE_ARGS
    import contextlib

    @contextlib.contextmanager
    def patch_module_args(args: dict[str, Any]):
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()):
            yield


# `locale -a` on Debian 12 with no locale generated.
DEBIAN_LOCALES = "C\nC.utf8\nPOSIX\n"


class ModuleExit(Exception):
    def __init__(self, result: dict[str, Any], failed: bool) -> None:
        super().__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


def load_cases(path: Path) -> list[Any]:
    cases = yaml.safe_load(path.read_text())
    return [pytest.param(case, id=case["id"]) for case in cases]


def _exit_json(self: basic.AnsibleModule, **kwargs: Any) -> None:
    raise ModuleExit(kwargs, failed=False)


def _fail_json(self: basic.AnsibleModule, msg: str = "", **kwargs: Any) -> None:
    kwargs["msg"] = msg
    raise ModuleExit(kwargs, failed=True)


def run_case(main: Any, case: dict[str, Any]) -> dict[str, Any]:
    """Run ``main()`` of a module under the case and check every expectation."""
    expected = list(case.get("commands", []))
    bin_paths = case.get("bin_paths", {})
    seen: list[list[str]] = []
    locale = case.get("locale", "C.utf8")
    asked_locales: list[list[str]] = []

    def run_command(self: basic.AnsibleModule, args: Any, *a: Any, **kw: Any):
        argv = [str(x) for x in args]
        if argv == [get_bin_path(self, "locale"), "-a"]:
            asked_locales.append(argv)
            assert len(asked_locales) == 1, "locale -a asked twice in one run"
            return 0, case.get("locales", DEBIAN_LOCALES), ""
        assert kw.get("environ_update") == {"LANG": locale, "LC_ALL": locale, "LC_MESSAGES": locale}, argv
        seen.append(argv)
        assert expected, f"unexpected command {argv}"
        step = expected.pop(0)
        assert argv == step["argv"]
        if "stdin" in step:
            assert kw.get("data") == step["stdin"]
        return step.get("rc", 0), step.get("out", ""), step.get("err", "")

    def get_bin_path(self: basic.AnsibleModule, arg: str, required: bool = False, opt_dirs: Any = None) -> str:
        return bin_paths.get(arg, f"/usr/sbin/{arg}")

    args = dict(case.get("params", {}))
    args["_ansible_check_mode"] = bool(case.get("check_mode", False))
    args["_ansible_diff"] = bool(case.get("diff", False))
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, "run_command", run_command), \
            mock.patch.object(basic.AnsibleModule, "get_bin_path", get_bin_path), \
            mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json), \
            mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json):
        with pytest.raises(ModuleExit) as caught:
            main()
    outcome = caught.value
    assert outcome.failed == bool(case.get("failed", False)), json.dumps(outcome.result, default=str)
    assert not expected, f"commands not run: {[s['argv'] for s in expected]}"
    if "msg_contains" in case:
        assert case["msg_contains"] in outcome.result["msg"]
    for key, value in case.get("result", {}).items():
        assert outcome.result.get(key) == value, f"{key}: {outcome.result.get(key)!r} != {value!r}"
    return outcome.result
