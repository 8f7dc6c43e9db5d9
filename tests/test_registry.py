"""The registry is append-only, enforced by the database itself."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from schemaops.models import HistoryEntry, Outcome, Tier

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
