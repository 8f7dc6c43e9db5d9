"""Arbitrary and mutated SQL: the linter never raises, reports positions inside the
text, and its work grows linearly with the input (no pathological pattern).

The growth check compares two sizes of the same input in one process (a ratio,
not a speed target): linear work gives about 8x for 8x the input, quadratic 64x.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemaops import statements
from schemaops.lint import rules
from schemaops.lint.context import LintContext
from schemaops.lint.engine import lint_statements
from tests.conftest import REPO_ROOT

FRAGMENTS = [
    "'",
    '"',
    "$$",
    "$a$",
    "$1",
    "E'",
    "\\'",
    "''",
    "/*",
    "*/",
    "--",
    "\n",
    ";",
    "(",
    ")",
    ",",
    "::",
    " ",
    "BEGIN",
    "COMMIT",
    "ATOMIC",
    "END",
    "CASE",
    "CREATE",
    "UNIQUE",
    "INDEX",
    "CONCURRENTLY",
    "ON",
    "ONLY",
    "TABLE",
    "ALTER",
    "ADD",
    "COLUMN",
    "CONSTRAINT",
    "CHECK",
    "NOT",
    "NULL",
    "VALID",
    "VALIDATE",
    "SET",
    "DEFAULT",
    "DROP",
    "RENAME",
    "TO",
    "TYPE",
    "UPDATE",
    "DELETE",
    "WHERE",
    "TRUNCATE",
    "REINDEX",
    "int",
    "serial",
    "varchar(10)",
    "timestamp",
    "now()",
    "random()",
    "t",
    "c",
    "public.t",
    "IS",
    "PRIMARY KEY",
    "REFERENCES",
    "USING",
    "GENERATED",
    "ALWAYS",
    "AS",
    "STORED",
    "IDENTITY",
    "é",
    "\x00",
]
CORPUS = [
    path.read_text(encoding="utf-8")
    for path in sorted((REPO_ROOT / "project" / "demo" / "sqlmigrations").glob("*.sql"))
] + [
    "CREATE INDEX i ON t (c); ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;",
    "BEGIN; ALTER TABLE t ADD CONSTRAINT k CHECK (c IS NOT NULL) NOT VALID; "
    "ALTER TABLE t VALIDATE CONSTRAINT k; COMMIT; UPDATE t SET c = 1;",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; DROP TABLE x;",
    "DO $body$ BEGIN EXECUTE 'DROP TABLE t'; END $body$; CREATE TABLE n (id serial);",
]

sql_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=80).map(" ".join)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A corpus script with fragments inserted, deleted and replaced."""
    text = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(0, 12))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        fragment = draw(st.sampled_from(FRAGMENTS))
        if action == "insert":
            text = text[:position] + fragment + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
        else:
            text = text[:position] + fragment + text[position + len(fragment) :]
    return text


def lint(text: str, *, atomic: bool = False, pg_version: int = 14) -> list[object]:
    context = LintContext(pg_version=pg_version)
    context.start_unit(atomic=atomic)
    return list(lint_statements(statements.split(text), "x.sql", context))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(sql_text, mutated(), st.text()), st.booleans(), st.integers(9, 18))
def test_never_raises_and_positions_are_in_the_text(
    text: str, atomic: bool, pg_version: int
) -> None:
    lines = text.split("\n")
    for finding in lint(text, atomic=atomic, pg_version=pg_version):
        assert finding.rule in rules.RULES  # type: ignore[attr-defined]
        assert 1 <= finding.line <= len(lines)  # type: ignore[attr-defined]
        assert 1 <= finding.column <= len(lines[finding.line - 1]) + 1  # type: ignore[attr-defined]


def _cost(text: str) -> float:
    """Best of three CPU times to split and lint ``text``."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        lint(text)
        best = min(best, time.process_time() - start)
    return best


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(sql_text, mutated()).filter(lambda s: len(s.strip()) >= 2))
def test_work_grows_linearly_with_the_input(snippet: str) -> None:
    """The same snippet repeated to ~20k and to 8x that: at most 3x the linear ratio."""
    small = snippet * max(1, 20_000 // len(snippet))
    large = small * 8
    small_cost, large_cost = _cost(small), _cost(large)
    assert large_cost <= 24 * max(small_cost, 0.002), (
        f"{len(small)} chars: {small_cost:.4f}s; {len(large)} chars: {large_cost:.4f}s; "
        f"snippet {snippet[:80]!r}"
    )


def test_known_pathological_shapes_stay_linear() -> None:
    """Unclosed constructs repeated: each once ran to the end of the text at every
    opening, which made the work quadratic."""
    for unit in ["$a$ ", "/* ", "' ", "E'\\' ", '" ', "( ", "BEGIN ATOMIC ", "CASE "]:
        small = "SELECT " + unit * 3_000
        large = "SELECT " + unit * 24_000
        assert _cost(large) <= 24 * max(_cost(small), 0.002), unit
