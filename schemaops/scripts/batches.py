"""Batched backfills (``-- schemaops: batch``): one statement run once per range of
an integer key, each range committed on its own, with the rows done reported.

Key ranges rather than "repeat until no row changes": each batch is one index
range scan, the walk always ends, and how far it got is known.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from schemaops.exceptions import ScriptError
from schemaops.scripts.loader import Batch, bind_batch

REPORT_SECONDS = 2.0
# Runs one batch's SQL (with what to add to its error: which keys, what stayed);
# returns its row count.
RunRange = Callable[[str, str, str], int]


def batch_key(connection: Any, batch: Batch, at: str) -> tuple[str, str]:
    """Return the batched table (as PostgreSQL quotes it) and its integer key column.

    Raises:
        ScriptError: no such table, no single-column primary key (and no ``key=``),
            no such column, or not an integer one; ``at`` names the directive.
    """
    key = batch.key
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)::oid, to_regclass(%s)::text", [batch.table] * 2)
        row = cursor.fetchone()
        if row is None or row[0] is None:
            raise ScriptError(
                f"{at}: batch table {batch.table!r} does not exist. Name the table whose "
                "keys the statement walks: -- schemaops: batch table=... key=..."
            )
        oid, table = row
        if key is None:
            cursor.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
                " WHERE i.indrelid = %s AND i.indisprimary",
                [oid],
            )
            columns = [name for (name,) in cursor.fetchall()]
            if len(columns) != 1:
                raise ScriptError(
                    f"{at}: {table} has no single-column primary key to walk. Name an "
                    "indexed integer column: -- schemaops: batch key=..."
                )
            key = columns[0]
        elif key.startswith('"') and key.endswith('"'):
            key = key[1:-1].replace('""', '"')
        else:
            key = key.lower()
        cursor.execute(
            "SELECT quote_ident(attname), format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s AND attname = %s AND attnum > 0 AND NOT attisdropped",
            [oid, key],
        )
        column = cursor.fetchone()
    if column is None:
        raise ScriptError(f"{at}: {table} has no column {key!r} to batch by (key=).")
    if column[1] not in ("smallint", "integer", "bigint"):
        raise ScriptError(
            f"{at}: batch key {table}.{column[0]} is {column[1]}; batches walk an "
            "integer key. Name an integer column with key=..."
        )
    return str(table), str(column[0])


def key_bounds(connection: Any, table: str, key: str) -> tuple[int | None, int | None]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min({key}), max({key}) FROM {table}")
        row = cursor.fetchone()
    assert row is not None
    return row[0], row[1]


def walk(
    connection: Any,
    batch: Batch,
    text: str,
    *,
    where: str,
    label: str,
    progress: Callable[[str], None],
    run_range: RunRange,
) -> None:
    """Run ``text`` once per range of ``batch.size`` keys with ``run_range``, reporting
    rows done; ranges beyond the largest key found at the start are walked too if
    rows arrived meanwhile. ``where`` (file:line) names the directive in errors."""
    table, key = batch_key(connection, batch, where)
    low, high = key_bounds(connection, table, key)
    if low is None or high is None:
        progress(f"  {label}: batch: {table} is empty, nothing to do")
        return
    first = low
    rows = batches = 0
    last_report = time.monotonic()
    while True:
        start = low
        while start <= high:
            end = start + batch.size
            kept = (
                f" The {batches} batches before it (keys {first}..{start - 1}) stayed "
                "committed; write the statement so that running it again is harmless "
                "(e.g. WHERE plan IS NULL)."
                if batches
                else ""
            )
            rows += run_range(
                bind_batch(text, start, end), f" (batch of keys {start}..{end - 1})", kept
            )
            batches += 1
            start = end
            now = time.monotonic()
            if now - last_report >= REPORT_SECONDS:
                percent = min(100, (start - first) * 100 // max(1, high - first + 1))
                progress(
                    f"  {label}: batch {batches}: {rows:,} rows done, keys up to "
                    f"{start - 1:,} of {high:,} ({percent}%)"
                )
                last_report = now
            if batch.pause:
                time.sleep(batch.pause)
        low = start
        newest = key_bounds(connection, table, key)[1]
        if newest is None or newest < low:
            break
        high = newest
    progress(
        f"  {label}: {rows:,} rows done in {batches} batches of {batch.size:,} keys "
        f"({table}.{key} {first:,}..{high:,})"
    )
