# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The locale the modules run their tools in: what they parse (ipvsadm's and drbdadm's error
texts, ip's JSON, the tools' numbers) is the tools' untranslated output."""
from __future__ import annotations

import weakref
from typing import Any

from ansible.module_utils.common.locale import get_best_parsable_locale

# C only: ansible-core's own list puts en_US ahead of C. The UTF-8 C first, where the target
# has one, so that a non-ASCII name in a tool's message still decodes.
C_LOCALES = ["C.utf8", "C.UTF-8", "C", "POSIX"]

_chosen: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def c_locale_environ(module: Any) -> dict[str, str]:
    """LANG, LC_ALL and LC_MESSAGES for run_command's environ_update: the best C locale that the
    target has (`locale -a`, asked once per module run; plain C when it cannot tell)."""
    if module not in _chosen:
        name = get_best_parsable_locale(module, C_LOCALES)
        _chosen[module] = {"LANG": name, "LC_ALL": name, "LC_MESSAGES": name}
    return _chosen[module]
