"""The registry is append-only, enforced by the database itself."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from schemaops.models import FinishedStatement, HistoryEntry, Outcome, Tier
from tests.conftest import REPO_ROOT, demo_manage

pytestmark = pytest.mark.django_db

REJECTED = r"pgtrigger: Cannot update or delete rows from schemaops_historyentry table"


def record(version: str = "0001", outcome: str = Outcome.APPLIED) -> HistoryEntry:
    return HistoryEntry.objects.create(
        tier=Tier.SQL,
        location="testloc",
        version=version,
        name="add_index",
        outcome=outcome,
        started_at=timezone.now(),
        database="default",
    )


def test_insert_is_allowed() -> None:
    entry = record()
    assert HistoryEntry.objects.filter(pk=entry.pk).exists()


def test_orm_save_of_existing_row_is_rejected() -> None:
    entry = record()
    entry.outcome = Outcome.FAILED
    with pytest.raises(DatabaseError, match=REJECTED), transaction.atomic():
        entry.save()
    assert HistoryEntry.objects.get(pk=entry.pk).outcome == Outcome.APPLIED


def test_queryset_update_is_rejected() -> None:
    entry = record()
    with pytest.raises(DatabaseError, match=REJECTED), transaction.atomic():
        HistoryEntry.objects.filter(pk=entry.pk).update(outcome=Outcome.FAILED)
    assert HistoryEntry.objects.get(pk=entry.pk).outcome == Outcome.APPLIED


def test_queryset_delete_is_rejected() -> None:
    entry = record()
    with pytest.raises(DatabaseError, match=REJECTED), transaction.atomic():
        HistoryEntry.objects.all().delete()
    assert HistoryEntry.objects.filter(pk=entry.pk).exists()


def test_instance_delete_is_rejected() -> None:
    entry = record()
    with pytest.raises(DatabaseError, match=REJECTED), transaction.atomic():
        entry.delete()
    assert HistoryEntry.objects.filter(pk=entry.pk).exists()


def test_raw_sql_update_is_rejected() -> None:
    entry = record()
    with (
        pytest.raises(DatabaseError, match=REJECTED),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE schemaops_historyentry SET outcome = 'failed' WHERE id = %s", [entry.pk]
        )
    assert HistoryEntry.objects.get(pk=entry.pk).outcome == Outcome.APPLIED


def test_raw_sql_delete_is_rejected() -> None:
    entry = record()
    with (
        pytest.raises(DatabaseError, match=REJECTED),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM schemaops_historyentry WHERE id = %s", [entry.pk])
    assert HistoryEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE schemaops_finishedstatement SET line = 9",
        "DELETE FROM schemaops_finishedstatement",
    ],
)
def test_finished_statements_are_append_only_too(sql: str) -> None:
    entry = record(outcome=Outcome.STARTED)
    FinishedStatement.objects.create(
        entry=entry, number=1, line=3, finished_at=timezone.now(), duration_ms=5
    )
    with (
        pytest.raises(DatabaseError, match="Cannot update or delete rows from schemaops_finished"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert list(entry.finished_statements.values_list("number", "line")) == [(1, 3)]


def test_latest_per_change_returns_the_newest_row_of_each_change() -> None:
    record("0001", Outcome.FAILED)
    newest_0001 = record("0001", Outcome.APPLIED)
    only_0002 = record("0002", Outcome.STARTED)

    latest = {
        e.version: e for e in HistoryEntry.objects.filter(location="testloc").latest_per_change()
    }

    assert latest == {"0001": newest_0001, "0002": only_0002}
    assert latest["0001"].outcome == Outcome.APPLIED


def test_latest_per_change_query_uses_the_latest_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = HistoryEntry.objects.latest_per_change().query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "schemaops_history_latest" in plan


FLUSHING_TESTS = '''
from django.test import TransactionTestCase
from django.utils import timezone

from schemaops.models import HistoryEntry


class Flushed(TransactionTestCase):
    """Each test starts from empty tables: Django flushes them with TRUNCATE."""

    def test_1_writes_history(self):
        HistoryEntry.objects.create(
            tier="sql", location="x", version="1", outcome="applied",
            started_at=timezone.now(), database="default",
        )

    def test_2_starts_empty(self):
        self.assertFalse(HistoryEntry.objects.filter(location="x").exists())
'''


@pytest.mark.django_db(transaction=True)
def test_truncate_is_refused_where_migrate_created_the_registry(empty_database: str) -> None:
    migrated = demo_manage("migrate", "schemaops", database_url=empty_database)
    assert migrated.returncode == 0, migrated.stderr
    with (
        psycopg.connect(empty_database) as conn,
        pytest.raises(psycopg.errors.RaiseException) as error,
    ):
        # CASCADE: the finished statements refer to it (plain TRUNCATE stops there).
        conn.execute("TRUNCATE schemaops_historyentry CASCADE")
    assert "is append-only: TRUNCATE would erase" in str(error.value)
    assert error.value.diag.message_hint is not None
    assert "docs/registry.md" in error.value.diag.message_hint
    with (
        psycopg.connect(empty_database) as conn,
        pytest.raises(psycopg.errors.RaiseException) as error,
    ):
        conn.execute("TRUNCATE schemaops_finishedstatement")
    assert "schemaops_finishedstatement is append-only" in str(error.value)


@pytest.mark.django_db(transaction=True)
def test_a_projects_transactional_tests_still_flush_the_registry(
    empty_database: str, tmp_path: Path
) -> None:
    (tmp_path / "flushing_tests.py").write_text(FLUSHING_TESTS, encoding="utf-8")
    env_path = f"{tmp_path}{os.pathsep}{REPO_ROOT}"
    done = demo_manage(
        "test", "flushing_tests", "--noinput", database_url=empty_database, pythonpath=env_path
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 2 tests" in done.stderr
    assert "OK" in done.stderr
