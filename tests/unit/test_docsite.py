# Copyright: lvsha.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation site's guides (docs/docsite): the model guide is docs/model.md's text, and
every inventory example of the scenario guides names only fields the model has. antsibull-docs
lints the guides and the site is built in `make docs-check docsite`."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.lvsha.cluster.plugins.plugin_utils import _schema
from model_rst import REPO, model_rst

GUIDES = REPO / "docs" / "docsite" / "rst"


def test_the_model_guide_is_generated_from_docs_model_md() -> None:
    assert (GUIDES / "model.rst").read_text(encoding="utf-8") == model_rst(), "run `make docs`"


def test_every_guide_is_in_the_site() -> None:
    listed = {entry for section in yaml.safe_load((REPO / "docs/docsite/extra-docs.yml").read_text())["sections"]
              for entry in section["toctree"]}
    assert listed == {path.stem for path in GUIDES.glob("*.rst")}


def yaml_examples(path: Path) -> list[Any]:
    """The YAML code blocks of a guide (their indented bodies)."""
    text = path.read_text(encoding="utf-8")
    return [yaml.safe_load(re.sub(r"^    ", "", body, flags=re.M))
            for body in re.findall(r"^\.\. code-block:: yaml\n\n((?:    .*\n|\n)+)", text, re.M)]


def unknown_fields(value: Any, path: str) -> list[str]:
    if isinstance(value, list):
        return [name for item in value for name in unknown_fields(item, path)]
    if not isinstance(value, dict):
        return []
    found = []
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        try:
            _schema.field(child)
        except KeyError:
            found.append(child)
            continue
        found += unknown_fields(item, child)
    return found


@pytest.mark.parametrize("guide", sorted(path.name for path in GUIDES.glob("scenario_*.rst")))
def test_the_inventory_examples_name_model_fields(guide: str) -> None:
    examples = yaml_examples(GUIDES / guide)
    assert [unknown_fields(example, "") for example in examples] == [[]] * len(examples)
