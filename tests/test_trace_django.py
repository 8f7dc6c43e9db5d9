"""``schemaops trace`` of Django migrations (tests/traceapp): each operation's
statements, its deferred SQL, and the locks PostgreSQL documents for them, seen
through the same execute_wrapper as the scripts' statements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.test_trace import AE, SHARE, SRE, SUE, Corpus, params, scratch_databases

TRACEAPP = {"SCHEMAOPS_TEST_TRACE_APP": "1"}


@pytest.fixture(scope="module")
def traced(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """traceapp.0001 applied on ``runner``, then the migrations after it rehearsed."""
    with django_db_blocker.unblock():
        folder = tmp_path_factory.mktemp("django-corpus") / "ops"
        folder.mkdir()
        corpus = Corpus(folder)
        try:
            done = corpus.manage("migrate", "traceapp", "0001", "--verbosity", "0", **TRACEAPP)
            assert done.returncode == 0, done.stderr
            done = corpus.manage("schemaops", "trace", "--format", "json", **TRACEAPP)
            assert done.returncode == 0, done.stderr
            import json

            yield json.loads(done.stdout)
        finally:
            with psycopg.connect(**params(), autocommit=True) as conn:
                conn.execute(
                    "DROP TABLE IF EXISTS traceapp_book, traceapp_author, traceapp_marker CASCADE"
                )
                conn.execute("DELETE FROM django_migrations WHERE app = 'traceapp'")
                conn.execute("SET schemaops.allow_truncate = on")
                conn.execute("TRUNCATE schemaops_historyentry, schemaops_finishedstatement")


def of_migration(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    step = next(s["number"] for s in report["steps"] if s["step"] == f"migration traceapp.{name}")
    return [s for s in report["statements"] if s["step"] == step]


def strongest(statement: dict[str, Any]) -> dict[str, str]:
    from schemaops.locking.classify import MODES

    found: dict[str, str] = {}
    for lock in statement["locks"]:
        if lock["existed"] and lock["kind"] == "r":
            name = lock["relation"]
            if name not in found or MODES.index(lock["mode"]) > MODES.index(found[name]):
                found[name] = lock["mode"]
    return found


def test_the_plan_is_the_pending_migrations(traced: dict[str, Any]) -> None:
    assert [s["step"] for s in traced["steps"]] == [
        "migration traceapp.0002_book_title_index",
        "migration traceapp.0003_book_author",
        "migration traceapp.0004_book_pages_not_null",
        "migration traceapp.0005_book_pages_bigint",
        "migration traceapp.0006_book_pages_index",
        "migration traceapp.0007_book_pages_check",
        "migration traceapp.0008_marker",
    ]


def test_add_index_takes_share(traced: dict[str, Any]) -> None:
    [statement] = of_migration(traced, "0002_book_title_index")
    assert statement["operation"].startswith("Create index book_title_idx")
    assert strongest(statement) == {"traceapp_book": SHARE}


def test_a_foreign_key_column_locks_both_tables_and_its_index_is_deferred(
    traced: dict[str, Any],
) -> None:
    column, index = of_migration(traced, "0003_book_author")
    assert strongest(column) == {"traceapp_book": AE, "traceapp_author": SRE}
    assert index["sql"].startswith("CREATE INDEX")
    assert index["operation"].endswith("(deferred SQL)")
    assert index["line"] == column["line"]
    # The migration is one transaction: the index runs under the column's lock.
    assert index["transaction"] == column["transaction"]
    first = traced["statements"].index(column)
    kinds = [n["kind"] for n in traced["notes"] if n["statement"] == first]
    assert "held-while-more-run" in kinds


def test_not_null_takes_access_exclusive(traced: dict[str, Any]) -> None:
    statements = of_migration(traced, "0004_book_pages_not_null")
    assert any("SET NOT NULL" in s["sql"] for s in statements)
    assert strongest(statements[0]) == {"traceapp_book": AE}


def test_a_type_change_rewrites_the_table(traced: dict[str, Any]) -> None:
    [statement] = [s for s in of_migration(traced, "0005_book_pages_bigint") if "TYPE" in s["sql"]]
    assert strongest(statement) == {"traceapp_book": AE}
    assert "traceapp_book" in statement["rewritten"]


def test_a_concurrent_index_in_a_non_atomic_migration_takes_share_update_exclusive(
    traced: dict[str, Any],
) -> None:
    [statement] = of_migration(traced, "0006_book_pages_index")
    assert statement["observed"] == "polled"
    assert strongest(statement) == {"traceapp_book": SUE}


def test_validate_after_not_valid_in_one_transaction_keeps_access_exclusive(
    traced: dict[str, Any],
) -> None:
    add, validate = of_migration(traced, "0007_book_pages_check")
    assert strongest(add) == {"traceapp_book": AE}
    assert strongest(validate) == {"traceapp_book": SUE}  # taken by it, beside the kept one
    assert add["transaction"] == validate["transaction"]


def test_code_that_names_the_database_alias_reaches_the_scratch(
    traced: dict[str, Any],
) -> None:
    [statement] = of_migration(traced, "0008_marker")
    assert statement["sql"] == "CREATE TABLE traceapp_marker (id int)"
    with psycopg.connect(**params(), autocommit=True) as conn:
        [(found,)] = conn.execute("SELECT to_regclass('traceapp_marker')").fetchall()
    assert found is None  # not on the real database


def test_the_bookkeeping_is_not_traced(traced: dict[str, Any]) -> None:
    sql = " ".join(s["sql"] for s in traced["statements"])
    assert "django_migrations" not in sql
    assert "schemaops_historyentry" not in sql
    assert "pg_locks" not in sql


def test_no_scratch_database_is_left(traced: dict[str, Any]) -> None:
    assert scratch_databases() == []
