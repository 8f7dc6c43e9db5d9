"""Arbitrary and mutated SQL: the linter never raises, reports positions inside the
text, and its work grows linearly with the input (no pathological pattern); read
as the server reads it and as psql reads a file (meta-commands, COPY data), and
from files (NUL bytes and other bad input are messages naming the file).

The growth check compares two sizes of the same input in one process (a ratio,
not a speed target): linear work gives about 8x for 8x the input, quadratic 64x.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemaops import statements
from schemaops.lint import report, rules
from schemaops.lint.config import LintConfig
from schemaops.lint.context import LintContext
from schemaops.lint.engine import lint_statements
from schemaops.lint.files import lint_paths
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
    # What psql reads itself: meta-commands, separators, COPY data and its end.
    "\\",
    "\\set ON_ERROR_STOP on\n",
    "\\i other.sql",
    "\\gset",
    "\\g",
    "\\\\",
    "\\;",
    "\\.",
    "\n\\.\n",
    "COPY t (c) FROM stdin;\n",
    "FROM STDIN",
    "\\copy t from stdin\n",
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
    "\\set ON_ERROR_STOP on\nCOPY t (a, b) FROM stdin;\n1\tx;y\n\\.\nCREATE INDEX i ON t (a);\n"
    "SELECT count(*) AS n FROM t \\gset\n\\echo :n\nDROP TABLE t;",
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


def lint(
    text: str, *, atomic: bool = False, pg_version: int = 14, psql: bool = False
) -> list[object]:
    context = LintContext(pg_version=pg_version)
    context.start_unit(atomic=atomic)
    found = statements.scan(text, psql=psql).statements
    return list(lint_statements(found, "x.sql", context))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(sql_text, mutated(), st.text()), st.booleans(), st.integers(9, 18), st.booleans())
def test_never_raises_and_positions_are_in_the_text(
    text: str, atomic: bool, pg_version: int, psql: bool
) -> None:
    lines = text.split("\n")
    for finding in lint(text, atomic=atomic, pg_version=pg_version, psql=psql):
        assert finding.rule in rules.RULES  # type: ignore[attr-defined]
        assert 1 <= finding.line <= len(lines)  # type: ignore[attr-defined]
        assert 1 <= finding.column <= len(lines[finding.line - 1]) + 1  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(sql_text, mutated()), st.sampled_from(["plain.sql", "0001_script.sql"]))
def test_a_file_is_linted_or_named_in_one_message_never_raised(text: str, name: str) -> None:
    """A script or a plain file: findings inside the file, or one invalid-file
    message naming it (a NUL byte, a meta-command in a script, an open string...)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        run = lint_paths([path], LintConfig())
    lines = text.split("\n")
    if run.errors:
        assert run.units == 0
        assert not run.findings
        (error,) = run.errors
        finding = report.invalid_file(error)
        assert finding.path == str(path), error
        assert 1 <= finding.line <= len(lines), error
        return
    assert run.units == 1
    for finding in run.findings:
        assert finding.rule in rules.known_names()
        assert 1 <= finding.line <= len(lines)


def _cost(text: str, psql: bool = False) -> float:
    """Best of three CPU times to split and lint ``text``."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        lint(text, psql=psql)
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


def test_psql_shapes_stay_linear() -> None:
    """Meta-commands inside one long statement (each blanked out of it once), and
    COPY blocks with and without their end."""
    for unit in [
        "\\x\n",
        "\\\\ ",
        "\\echo ' \n",
        "COPY t FROM stdin;\n",
        "COPY t FROM stdin;\n\\.\n",
    ]:
        small = "SELECT " + unit * 3_000
        large = "SELECT " + unit * 24_000
        assert _cost(large, psql=True) <= 24 * max(_cost(small, psql=True), 0.002), unit
