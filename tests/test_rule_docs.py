"""Every rule has a page in docs/rules/, and its examples are true: the Bad block
is flagged by that rule, the Good block by nothing at all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemaops.exceptions import ScriptError
from schemaops.lint import report, rules
from schemaops.lint.context import LintContext
from schemaops.lint.engine import lint_plain
from tests.conftest import REPO_ROOT

RULES_DOCS = REPO_ROOT / "docs" / "rules"
_BLOCK = re.compile(r"^## (?P<kind>Bad|Good)\n\n```sql\n(?P<sql>.*?)\n```", re.M | re.S)


def examples(name: str) -> dict[str, str]:
    text = (RULES_DOCS / f"{name}.md").read_text(encoding="utf-8")
    assert text.startswith(f"# {name}\n"), name
    return {m["kind"]: m["sql"] for m in _BLOCK.finditer(text)}


def lint_text(sql: str, tmp_path: Path) -> list[str]:
    """The rules that fire on ``sql`` as a plain file (invalid-file if it cannot be read)."""
    path = tmp_path / "example.sql"
    path.write_text(sql + "\n", encoding="utf-8")
    try:
        return [f.rule for f in lint_plain(path, LintContext())]
    except ScriptError as exc:
        return [report.invalid_file(str(exc)).rule]


@pytest.mark.parametrize("name", sorted(rules.known_names()))
def test_each_rule_page_has_true_examples(name: str, tmp_path: Path) -> None:
    blocks = examples(name)
    assert set(blocks) == {"Bad", "Good"}, name
    assert name in lint_text(blocks["Bad"], tmp_path)
    assert lint_text(blocks["Good"], tmp_path) == []


def test_the_index_lists_every_rule_and_nothing_else() -> None:
    index = (RULES_DOCS / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| \[`([a-z-]+)`\]", index, re.M))
    assert listed == rules.known_names()
    pages = {p.stem for p in RULES_DOCS.glob("*.md")} - {"index"}
    assert pages == rules.known_names()


def test_every_rule_page_is_in_the_site_navigation() -> None:
    nav = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [p.stem for p in RULES_DOCS.glob("*.md") if f"rules/{p.name}" not in nav]
    assert missing == []
