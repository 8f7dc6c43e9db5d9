"""``schemaops trace`` against PostgreSQL's documented lock levels and against what the
linter's classifier (schemaops/locking/classify.py) predicts, statement by statement.

One rehearsal of a corpus of scripts (one case per script, on tables that existed
before the plan) runs once for the module; each test reads one case of it. The
Django tier's corpus is tests/traceapp's migrations (test_trace_django.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections
from psycopg import sql

from schemaops.locking import classify
from tests.conftest import REPO_ROOT

BASE = """
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int, n int, t text);
CREATE INDEX child_parent_idx ON child (parent_id);
CREATE TABLE fk_child (id int PRIMARY KEY, parent_id int REFERENCES parent (id));
CREATE TABLE events (id int, at date NOT NULL, n int) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 (id int, at date NOT NULL, n int);
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
"""
TABLES = ["parent", "child", "fk_child", "events", "events_2024", "events_2025"]

AE, SRE, SHARE, SUE = (
    "AccessExclusiveLock",
    "ShareRowExclusiveLock",
    "ShareLock",
    "ShareUpdateExclusiveLock",
)

# (script, statement, the strongest lock on each table that existed before: what
# PostgreSQL's documentation says it takes). In order: each runs after the ones before.
CASES = [
    ("create_index", "CREATE INDEX child_n_idx ON child (n)", {"child": SHARE}),
    (
        "create_index_concurrently",
        "CREATE INDEX CONCURRENTLY child_t_idx ON child (t)",
        {"child": SUE},
    ),
    ("add_column", "ALTER TABLE child ADD COLUMN extra int", {"child": AE}),
    (
        "add_foreign_key",
        "ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) "
        "REFERENCES parent (id) NOT VALID",
        {"child": SRE, "parent": SRE},
    ),
    (
        "validate_constraint",
        "ALTER TABLE child VALIDATE CONSTRAINT child_parent_fk",
        {"child": SUE, "parent": "RowShareLock"},
    ),
    ("set_not_null", "ALTER TABLE child ALTER COLUMN n SET NOT NULL", {"child": AE}),
    ("change_type", "ALTER TABLE child ALTER COLUMN n TYPE bigint", {"child": AE}),
    ("set_fillfactor", "ALTER TABLE child SET (fillfactor = 70)", {"child": SUE}),
    ("set_statistics", "ALTER TABLE child ALTER COLUMN n SET STATISTICS 500", {"child": SUE}),
    (
        "create_trigger",
        "CREATE TRIGGER child_noop BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION noop()",
        {"child": SRE},
    ),
    ("disable_trigger", "ALTER TABLE child DISABLE TRIGGER child_noop", {"child": SRE}),
    (
        "add_check_not_valid",
        "ALTER TABLE child ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID",
        {"child": AE},
    ),
    (
        "attach_partition",
        "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') "
        "TO ('2026-01-01')",
        {"events": SUE, "events_2025": AE},
    ),
    (
        "index_on_partitioned_table",
        "CREATE INDEX events_n_idx ON events (n)",
        {"events": SHARE, "events_2024": SHARE, "events_2025": SHARE},
    ),
    ("comment", "COMMENT ON TABLE child IS 'children'", {"child": SUE}),
    ("rename_column", "ALTER TABLE child RENAME COLUMN t TO title", {"child": AE}),
    ("drop_index", "DROP INDEX child_parent_idx", {"child": AE}),
    ("drop_table_with_foreign_key", "DROP TABLE fk_child", {"fk_child": AE, "parent": AE}),
]  # fmt: skip

# Statements whose tables the text does not name (the trace's unnamed-relation note):
# no classifier of statement text can see them.
UNNAMED = {
    "index_on_partitioned_table": {"events_2024", "events_2025"},
    "drop_index": {"child"},
    "drop_table_with_foreign_key": {"parent"},
}


def base_name(table: str) -> str:
    return table.removeprefix("public.")


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


class Corpus:
    """The ``runner`` test database with the corpus's base applied and its cases
    pending, driven by ``manage.py`` processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SCHEMAOPS_TEST_SCRIPT_DIRS": f"ops={self.folder}",
            "SCHEMAOPS_TEST_RUNNER_DB": str(connections["runner"].settings_dict["NAME"]),
            "PYTHONPATH": str(REPO_ROOT),
            **extra,
        }

    def command(self, *args: str) -> list[str]:
        return [sys.executable, str(REPO_ROOT / "manage.py"), *args, "--database", "runner"]

    def manage(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=REPO_ROOT,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=180,
        )

    def trace(self, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        done = self.manage("schemaops", "trace", "--format", "json", *args)
        return done, (json.loads(done.stdout) if done.stdout.strip() else {})


def params() -> dict[str, Any]:
    found = dict(connections["runner"].get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        found.pop(key, None)
    return found


def query(text: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(**params(), autocommit=True) as conn:
        return list(conn.execute(text, args).fetchall())


def scratch_databases() -> list[str]:
    return [
        r[0]
        for r in query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'schemaops\\_trace\\_%'"
        )
    ]


def clean_runner(tables: list[str]) -> None:
    """Drop what a corpus created on ``runner`` and empty its registry (the test
    database lets TRUNCATE through)."""
    with psycopg.connect(**params(), autocommit=True) as conn:
        for table in tables:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table)))
        conn.execute("DROP FUNCTION IF EXISTS noop()")
        conn.execute("DROP DOMAIN IF EXISTS positive")
        conn.execute("DROP DOMAIN IF EXISTS score")
        conn.execute("SET schemaops.allow_truncate = on")
        conn.execute("TRUNCATE schemaops_historyentry, schemaops_finishedstatement CASCADE")


@pytest.fixture(scope="module")
def corpus(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Corpus]:
    """The base applied on ``runner`` (``schemaops migrate``), nothing else pending."""
    with django_db_blocker.unblock():
        folder = tmp_path_factory.mktemp("corpus") / "ops"
        folder.mkdir()
        write(folder, "0001_base.sql", BASE)
        found = Corpus(folder)
        done = found.manage("schemaops", "migrate", "--verbosity", "0")
        assert done.returncode == 0, done.stderr
        try:
            yield found
        finally:
            clean_runner(TABLES)


@pytest.fixture(scope="module")
def traced(corpus: Corpus) -> dict[str, Any]:
    """The corpus's cases, one script each, rehearsed once: the trace's JSON."""
    for number, (name, statement, _) in enumerate(CASES, start=2):
        write(corpus.folder, f"{number:04d}_{name}.sql", statement + ";\n")
    before = query("SELECT count(*) FROM schemaops_historyentry")
    done, report = corpus.trace()
    assert done.returncode == 0, (done.stderr, report.get("failure"))
    for number, (name, _, _) in enumerate(CASES, start=2):
        (corpus.folder / f"{number:04d}_{name}.sql").unlink()
    # The real database was only read: no row, no table the cases create.
    assert query("SELECT count(*) FROM schemaops_historyentry") == before
    assert query("SELECT to_regclass('child_n_idx')") == [(None,)]
    return report


def case_statement(report: dict[str, Any], name: str) -> dict[str, Any]:
    number = next(i for i, (case, _, _) in enumerate(CASES, start=2) if case == name)
    step = next(s["number"] for s in report["steps"] if f"ops:{number:04d} " in s["step"] + " ")
    found = [s for s in report["statements"] if s["step"] == step]
    assert len(found) == 1, found
    return found[0]


def strongest_on_existing_tables(statement: dict[str, Any]) -> dict[str, str]:
    modes = classify_modes()
    found: dict[str, str] = {}
    for lock in statement["locks"]:
        if lock["existed"] and lock["kind"] in ("r", "p"):
            name = base_name(lock["relation"])
            if name not in found or modes.index(lock["mode"]) > modes.index(found[name]):
                found[name] = lock["mode"]
    return found


def classify_modes() -> list[str]:
    from schemaops.locking.classify import MODES

    return list(MODES)


@pytest.mark.parametrize(("name", "statement", "documented"), CASES, ids=[c[0] for c in CASES])
def test_the_trace_sees_the_lock_postgresql_documents(
    traced: dict[str, Any], name: str, statement: str, documented: dict[str, str]
) -> None:
    assert strongest_on_existing_tables(case_statement(traced, name)) == documented


@pytest.mark.parametrize(("name", "statement", "documented"), CASES, ids=[c[0] for c in CASES])
def test_the_linter_predicts_the_write_blocking_locks_the_trace_saw(
    traced: dict[str, Any], name: str, statement: str, documented: dict[str, str]
) -> None:
    blocking = {
        table: mode
        for table, mode in strongest_on_existing_tables(case_statement(traced, name)).items()
        if mode in (SHARE, SRE, "ExclusiveLock", AE) and table not in UNNAMED.get(name, set())
    }
    predicted = {base_name(t): mode for t, mode in classify.locked_relations(statement)}
    assert predicted == blocking


@pytest.mark.parametrize("name", sorted(UNNAMED))
def test_a_lock_on_a_table_the_statement_does_not_name_is_pointed_out(
    traced: dict[str, Any], name: str
) -> None:
    statement = case_statement(traced, name)
    index = traced["statements"].index(statement)
    notes = [n["message"] for n in traced["notes"] if n["statement"] == index]
    pointed = {
        t for t in UNNAMED[name] if any(f" on {t}," in m and "not name" in m for m in notes)
    }
    assert pointed == UNNAMED[name]


def test_a_column_type_change_rewrites_the_table(traced: dict[str, Any]) -> None:
    assert "child" in case_statement(traced, "change_type")["rewritten"]


def test_adding_a_nullable_column_rewrites_nothing(traced: dict[str, Any]) -> None:
    assert case_statement(traced, "add_column")["rewritten"] == []


def test_a_concurrent_build_is_watched_from_another_connection(traced: dict[str, Any]) -> None:
    statement = case_statement(traced, "create_index_concurrently")
    assert statement["observed"] == "polled"
    assert not statement["in_transaction"]


def test_the_scratch_database_is_dropped_afterwards(traced: dict[str, Any]) -> None:
    assert scratch_databases() == []


# Transactions, the verdict and failures ----------------------------------------------


# A second rehearsal, of cases about transactions, the verdict and rewrites, with
# --max-lock 100ms.
SECOND = [
    ("flag", "ALTER TABLE child ADD COLUMN flag boolean;\nUPDATE child SET flag = true;\n"),
    ("slow", "ALTER TABLE child ADD COLUMN slow int;\nSELECT pg_sleep(0.3);\n"),
    (
        "slow_with_a_reason",
        '-- schemaops: ignore=trace-lock-held reason="child is empty until launch"\n'
        "ALTER TABLE child ADD COLUMN slow2 int;\nSELECT pg_sleep(0.3);\n",
    ),
    # A domain with a constraint makes any default a rewrite; one created earlier in
    # the same deploy is not in the database the linter reads its facts from.
    ("score_domain", "CREATE DOMAIN score AS int CHECK (VALUE >= 0);\n"),
    ("score", "ALTER TABLE child ADD COLUMN s score DEFAULT 0;\n"),
    # One that existed before: the trace found the linter silent, it now reads the
    # database's domains.
    ("positive", "ALTER TABLE child ADD COLUMN p positive DEFAULT 1;\n"),
    ("identity", "ALTER TABLE child ADD COLUMN serial_no bigint GENERATED ALWAYS AS IDENTITY;\n"),
]


@pytest.fixture(scope="module")
def second(corpus: Corpus) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    names = [f"{number:04d}_{name}.sql" for number, (name, _) in enumerate(SECOND, start=2)]
    for file, (_, text) in zip(names, SECOND, strict=True):
        write(corpus.folder, file, text)
    try:
        return corpus.trace("--max-lock", "100ms")
    finally:
        for file in names:
            (corpus.folder / file).unlink()


def of_script(report: dict[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
    """The statements of the SECOND case ``name``, with their indexes."""
    number = next(i for i, (case, _) in enumerate(SECOND, start=2) if case == name)
    step = next(s["number"] for s in report["steps"] if f"ops:{number:04d} " in s["step"] + " ")
    return [(i, s) for i, s in enumerate(report["statements"]) if s["step"] == step]


def notes_of(report: dict[str, Any], index: int) -> list[dict[str, Any]]:
    return [note for note in report["notes"] if note["statement"] == index]


def test_access_exclusive_held_while_more_statements_run_is_pointed_out(
    second: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, report = second
    (index, first), (_, following) = of_script(report, "flag")
    assert first["transaction"] == following["transaction"]
    assert first["in_transaction"]
    assert [n["kind"] for n in notes_of(report, index)] == ["held-while-more-run"]
    held = next(lock for lock in first["locks"] if lock["mode"] == AE)
    assert held["held_ms"] >= first["duration_ms"] + following["duration_ms"]


def test_a_lock_held_longer_than_max_lock_fails_the_trace(
    second: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    done, report = second
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    [failing] = [n for n in report["notes"] if n["fails"]]
    [(index, _), _] = of_script(report, "slow")
    assert failing["statement"] == index
    assert failing["kind"] == "trace-lock-held"
    assert "ACCESS EXCLUSIVE on child" in failing["message"]


def test_a_suppression_with_a_reason_lets_a_long_lock_through(
    second: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, report = second
    [(index, _), _] = of_script(report, "slow_with_a_reason")
    [note] = [n for n in notes_of(report, index) if n["kind"] == "trace-lock-held"]
    assert note["suppressed"] == "child is empty until launch"
    assert not note["fails"]


def test_a_rewrite_no_lint_rule_predicted_is_pointed_out(
    second: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, report = second
    [(index, statement)] = of_script(report, "score")
    assert "child" in statement["rewritten"]
    assert statement["lint"] == []
    assert [n["kind"] for n in notes_of(report, index)] == ["unpredicted-rewrite"]


@pytest.mark.parametrize("name", ["positive", "identity"])
def test_a_rewrite_the_trace_found_is_predicted_by_the_linter(
    second: tuple[subprocess.CompletedProcess[str], dict[str, Any]], name: str
) -> None:
    _, report = second
    [(index, statement)] = of_script(report, name)
    assert "child" in statement["rewritten"]
    assert statement["lint"] == ["adding-field-with-default"]
    assert notes_of(report, index) == []


def test_a_plan_its_checks_refuse_is_not_rehearsed(corpus: Corpus) -> None:
    base = corpus.folder / "0001_base.sql"
    text = base.read_text(encoding="utf-8")
    base.write_text(text + "-- changed after it was applied\n", encoding="utf-8")
    try:
        done = corpus.manage("schemaops", "trace")
    finally:
        base.write_text(text, encoding="utf-8")
    assert done.returncode == 2, done.stderr
    assert "ops:0001" in done.stderr
    assert "Nothing was rehearsed." in done.stderr
    assert "Traceback" not in done.stderr
    assert scratch_databases() == []


def test_a_step_that_fails_in_the_rehearsal_is_reported_and_the_scratch_dropped(
    corpus: Corpus,
) -> None:
    write(corpus.folder, "0002_bad.sql", "ALTER TABLE child ADD COLUMN n int;\n")
    try:
        done, report = corpus.trace()
    finally:
        (corpus.folder / "0002_bad.sql").unlink()
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert report["failure"]["step"] == 1
    assert 'column "n" of relation "child" already exists' in report["statements"][0]["error"]
    assert scratch_databases() == []


def test_ctrl_c_drops_the_scratch_database(corpus: Corpus) -> None:
    write(corpus.folder, "0002_long.sql", "SELECT pg_sleep(60);\n")
    process = subprocess.Popen(
        corpus.command("schemaops", "trace"),
        cwd=REPO_ROOT,
        env=corpus.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not query(
            "SELECT 1 FROM pg_stat_activity WHERE datname LIKE 'schemaops\\_trace\\_%' "
            "AND query LIKE 'SELECT pg_sleep(60)%'"
        ):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert len(scratch_databases()) == 1
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        (corpus.folder / "0002_long.sql").unlink()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "scratch database was dropped" in stderr
    assert scratch_databases() == []


def test_nothing_pending_means_nothing_to_rehearse(corpus: Corpus) -> None:
    done = corpus.manage("schemaops", "trace")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Nothing to rehearse: both tiers are up to date."
    assert scratch_databases() == []


def test_an_embedded_scratch_server_rehearses_the_same(corpus: Corpus) -> None:
    write(corpus.folder, "0002_index.sql", "CREATE INDEX child_n_idx ON child (n);\n")
    try:
        done, report = corpus.trace("--scratch", "embedded")
    finally:
        (corpus.folder / "0002_index.sql").unlink()
    assert done.returncode == 0, done.stderr
    assert report["scratch"].startswith("an embedded PostgreSQL")
    assert strongest_on_existing_tables(report["statements"][0]) == {"child": SHARE}


def test_with_data_the_rehearsal_meets_the_rows(corpus: Corpus) -> None:
    # A constraint that no row of parent meets: on the schema alone it is added,
    # with the rows (--with-data) it fails, as the deploy would.
    write(corpus.folder, "0002_check.sql", "ALTER TABLE parent ADD CHECK (id < 0);\n")
    with psycopg.connect(**params(), autocommit=True) as conn:
        conn.execute("INSERT INTO parent VALUES (1)")
    try:
        schema_only, _ = corpus.trace()
        with_data, report = corpus.trace("--with-data")
    finally:
        (corpus.folder / "0002_check.sql").unlink()
        with psycopg.connect(**params(), autocommit=True) as conn:
            conn.execute("DELETE FROM parent")
    assert schema_only.returncode == 0, schema_only.stderr
    assert with_data.returncode == 3, with_data.stderr
    assert report["with_data"] is True
    assert "is violated by some row" in report["statements"][0]["error"]
