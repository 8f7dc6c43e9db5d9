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


def psql_texts(sql: str) -> list[str]:
    return [s.text for s in statements.scan(sql, psql=True).statements]


def test_a_meta_command_line_does_not_swallow_the_next_statement() -> None:
    sql = "\\set ON_ERROR_STOP on\nCREATE INDEX i ON t (c);\n\\connect other\nDROP TABLE x;\n"
    scanned = statements.scan(sql, psql=True)
    assert [(s.line, s.text) for s in scanned.statements] == [
        (2, "CREATE INDEX i ON t (c)"),
        (4, "DROP TABLE x"),
    ]
    assert [(p.line, p.text) for p in scanned.psql_input] == [
        (1, "\\set ON_ERROR_STOP on"),
        (3, "\\connect other"),
    ]


def test_without_psql_a_meta_command_stays_in_the_statement() -> None:
    """The runner and RunSQL are read as the server reads them: unchanged."""
    assert texts("\\set x 1\nSELECT 1;") == ["\\set x 1\nSELECT 1"]


def test_a_meta_command_inside_a_statement_is_blanked_out_of_it() -> None:
    sql = "CREATE TABLE t (\n\\echo typed in the middle\n  id int);"
    (statement,) = statements.scan(sql, psql=True).statements
    assert statement.text.split() == ["CREATE", "TABLE", "t", "(", "id", "int)"]
    assert sql[statement.start : statement.end].startswith("CREATE TABLE t (\n\\echo")
    assert len(statement.text) == statement.end - statement.start


def test_g_meta_commands_end_the_statement_like_a_semicolon() -> None:
    assert psql_texts("SELECT 1 AS n \\gset\nSELECT 2 \\gx\nDROP TABLE y") == [
        "SELECT 1 AS n",
        "SELECT 2",
        "DROP TABLE y",
    ]


def test_a_double_backslash_separates_a_meta_command_from_sql() -> None:
    sql = "\\x \\\\ SELECT 1;\n\\echo 'a \\\\ b'\nSELECT 2;"
    assert psql_texts(sql) == ["SELECT 1", "SELECT 2"]


def test_backslashes_inside_literals_and_comments_are_not_meta_commands() -> None:
    sql = "SELECT 'a\\b', E'\\n', $$\\x$$ -- \\set\n/* \\i x */;"
    scanned = statements.scan(sql, psql=True)
    assert scanned.psql_input == ()
    assert [s.text for s in scanned.statements] == [sql[:-1]]


def test_copy_from_stdin_data_up_to_backslash_dot_is_not_sql() -> None:
    sql = "COPY t (a, b) FROM stdin;\n1\tit's; here\n2\t\\N\n\\.\nCREATE INDEX i ON t (a);\n"
    scanned = statements.scan(sql, psql=True)
    assert [(s.line, s.text) for s in scanned.statements] == [
        (1, "COPY t (a, b) FROM stdin"),
        (5, "CREATE INDEX i ON t (a)"),
    ]
    assert [(p.kind, p.line, p.text) for p in scanned.psql_input] == [
        ("copy data", 2, "1\tit's; here")
    ]
    assert scanned.unterminated is None


def test_copy_data_without_backslash_dot_runs_to_the_end() -> None:
    scanned = statements.scan("COPY t FROM STDIN WITH (FORMAT csv);\n1,'\n", psql=True)
    assert [s.text for s in scanned.statements] == ["COPY t FROM STDIN WITH (FORMAT csv)"]
    assert scanned.unterminated is None


def test_psql_copy_meta_command_reads_its_data_lines_too() -> None:
    sql = "\\copy t from stdin\n1;2\n\\.\nDROP TABLE x;"
    assert psql_texts(sql) == ["DROP TABLE x"]


def test_copy_to_stdout_has_no_data_lines() -> None:
    assert psql_texts("COPY t TO stdout;\nDROP TABLE x;") == ["COPY t TO stdout", "DROP TABLE x"]


def test_a_block_comment_left_open_after_the_last_statement_is_reported() -> None:
    scanned = statements.scan("SELECT 1;\n\n/* never closed\nSELECT 2;")
    assert [s.text for s in scanned.statements] == ["SELECT 1"]
    assert scanned.unterminated == ("block comment", 3)
