"""The statement scanner: where statements start and end, as PostgreSQL sees it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlparse

from schemaops import statements

REPO_ROOT = Path(__file__).resolve().parent.parent


def texts(sql: str) -> list[str]:
    return [s.text for s in statements.split(sql)]


def test_splits_at_top_level_semicolons() -> None:
    assert texts("SELECT 1; SELECT 2;\nSELECT 3") == ["SELECT 1", "SELECT 2", "SELECT 3"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'a;b'",
        "SELECT 'it''s; fine'",
        "SELECT E'it\\'s; fine'",
        'SELECT 1 AS "semi;colon"',
        "SELECT $$ ; $$",
        "SELECT $tag$ $$ ; $tag$",
        "SELECT 1 /* ; /* nested ; */ ; */",
    ],
)
def test_semicolons_inside_literals_and_comments_do_not_split(sql: str) -> None:
    assert texts(sql + ";\nSELECT 2;") == [sql, "SELECT 2"]


def test_semicolon_in_a_line_comment_does_not_split() -> None:
    assert texts("SELECT 1 -- ; comment\n;\nSELECT 2;") == ["SELECT 1 -- ; comment", "SELECT 2"]


def test_dollar_quoted_function_body_is_one_statement() -> None:
    sql = """CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.x := 1; RETURN NEW;
END;
$fn$;
DO $$ BEGIN PERFORM 1; END $$;"""
    found = texts(sql)
    assert len(found) == 2
    assert found[1] == "DO $$ BEGIN PERFORM 1; END $$"


def test_begin_atomic_body_is_one_statement() -> None:
    sql = (
        "CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC\n"
        "  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT 3;"
    )
    assert len(texts(sql)) == 2
    assert texts(sql)[1] == "SELECT 3"


def test_transaction_begin_is_not_an_atomic_body() -> None:
    assert texts("BEGIN; SELECT 1; COMMIT;") == ["BEGIN", "SELECT 1", "COMMIT"]


def test_identifier_with_dollar_is_not_a_dollar_quote() -> None:
    assert texts("SELECT a$b$ FROM t; SELECT 2;") == ["SELECT a$b$ FROM t", "SELECT 2"]


def test_positions_skip_leading_comments_and_are_one_based() -> None:
    sql = "-- header\n\n  /* note */ CREATE TABLE t (id int);\nSELECT 1;"
    first, second = statements.split(sql)
    assert (first.line, first.column) == (3, 14)
    assert (second.line, second.column) == (4, 1)
    assert sql[first.start : first.end] == first.text


def test_unterminated_constructs_are_reported_not_raised() -> None:
    for sql, what in [
        ("SELECT 'open", "string"),
        ("SELECT $x$ open", "dollar-quoted string $x$"),
        ("SELECT 1 /* open", "block comment"),
        ('SELECT "open', "quoted identifier"),
    ]:
        (statement,) = statements.split(sql)
        assert statement.unterminated == what


def test_empty_statements_are_dropped() -> None:
    assert texts(";;  ; -- only comments\n/* x */;") == []


def normalise(statement: str) -> str:
    return " ".join(statement.rstrip(";").split())


def test_agrees_with_sqlparse_on_the_demo_scripts() -> None:
    for path in sorted((REPO_ROOT / "project/demo/sqlmigrations").glob("*.sql")):
        text = path.read_text()
        ours = [normalise(s) for s in texts(text)]
        theirs = [
            normalise(sqlparse.format(s, strip_comments=True))
            for s in sqlparse.split(text)
            if sqlparse.format(s, strip_comments=True).strip()
        ]
        assert ours == theirs, path.name


def test_agrees_with_sqlparse_on_a_mixed_corpus() -> None:
    corpus = ";\n".join(
        [
            "CREATE TABLE a (id bigint GENERATED ALWAYS AS IDENTITY, note text DEFAULT 'x;y')",
            "CREATE INDEX CONCURRENTLY a_note ON a (note)",
            "CREATE FUNCTION h() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
            "ALTER TABLE a ADD CONSTRAINT c CHECK (note <> ';') NOT VALID",
            "UPDATE a SET note = E'a\\'b;' WHERE id = 1",
            "COMMENT ON COLUMN a.note IS 'semi;colon \"quoted\"'",
        ]
    )
    ours = [normalise(s) for s in texts(corpus)]
    theirs = [normalise(s) for s in sqlparse.split(corpus)]
    assert ours == theirs
