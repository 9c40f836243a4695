# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CHANGELOG.md is what changelogs/ says (the fragments of the coming release, then the
releases): a fragment added without `make changelog`, or an entry written into CHANGELOG.md
by hand, is caught here. `make docs-check` lints the fragments with antsibull-changelog."""
from __future__ import annotations

from changelog_md import REPO, changelog, fragments, sections


def test_changelog_md_is_generated_from_the_fragments() -> None:
    assert (REPO / "CHANGELOG.md").read_text(encoding="utf-8") == changelog(), "run `make changelog`"


def test_every_fragment_section_is_a_configured_one() -> None:
    assert set(fragments()) <= {section[0] for section in sections()}
