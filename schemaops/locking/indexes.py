"""Index builds: the INVALID index a failed ``CREATE INDEX CONCURRENTLY`` leaves."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper


def drop_invalid_index(connection: BaseDatabaseWrapper, name: str) -> bool:
    """Drop index ``name`` if it exists and is INVALID; return whether one was dropped.

    A build that failed or was cancelled leaves its index INVALID; a rerun with
    ``IF NOT EXISTS`` would keep it, and one without fails ("already exists").
    """
    with connection.cursor() as cursor:
        # PostgreSQL quotes the name itself (regclass output), so the
        # DROP names exactly the index the catalog found.
        cursor.execute(
            "SELECT i.indexrelid::regclass::text FROM pg_index i"
            " WHERE i.indexrelid = to_regclass(%s) AND NOT i.indisvalid",
            [name],
        )
        row = cursor.fetchone()
        if row is None:
            return False
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS " + row[0])
    return True
