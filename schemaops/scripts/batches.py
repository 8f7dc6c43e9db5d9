"""Batched backfills (``-- schemaops: batch``): reading the directive above a
statement, and running that statement once per range of an integer key, each
range committed on its own, with the rows done reported.

Key ranges rather than "repeat until no row changes": each batch is one index
range scan, the walk always ends, and how far it got is known.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from schemaops import statements
from schemaops.exceptions import ScriptError
from schemaops.locking.timeouts import DURATION, seconds
from schemaops.scripts import directives

# ``-- schemaops: batch size=... key=... table=... pause=...`` above one statement.
BATCH_OPTIONS = ("size", "key", "table", "pause")
BATCH_DEFAULT_SIZE = 10000
BATCH_PLACEHOLDERS = (":batch_start", ":batch_end")
_BATCH_TARGET = re.compile(
    r"^(?:UPDATE(?:\s+ONLY)?|DELETE\s+FROM(?:\s+ONLY)?)\s+"
    r"(?P<name>(?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"(?<!:):batch_(?:start|end)\b")

REPORT_SECONDS = 2.0
# Runs one batch's SQL (with what to add to its error: which keys, what stayed);
# returns its row count.
RunRange = Callable[[str, str, str], int]


class Batch(NamedTuple):
    """``-- schemaops: batch ...``: run the statement below once per key range, each
    range committed on its own.

    The statement limits itself with ``:batch_start`` (inclusive) and
    ``:batch_end`` (exclusive); the runner walks ``table``'s integer ``key``
    from its smallest to its largest value, ``size`` keys at a time, pausing
    ``pause`` seconds between ranges. ``key`` ``None`` means the table's primary key.
    """

    line: int
    table: str
    size: int = BATCH_DEFAULT_SIZE
    key: str | None = None
    pause: float = 0.0


def _read_batch(path: Path, line: int, options: str, statement: statements.Statement) -> Batch:
    """Read the options of a batch directive at ``line`` for ``statement``."""
    values = directives.key_values(path, line, options, BATCH_OPTIONS, "batch option")
    size = values.get("size", str(BATCH_DEFAULT_SIZE))
    if not size.isdigit() or int(size) < 1:
        raise ScriptError(f"{path}:{line}: batch size={size!r} must be a whole number above 0.")
    pause = values.get("pause", "0")
    if not DURATION.match(pause):
        raise ScriptError(
            f"{path}:{line}: batch pause={pause!r} is not a duration; write e.g. 100ms or 1s."
        )
    code = statements.without_literals(statement.text)
    found = set(_PLACEHOLDER.findall(code))
    missing = [name for name in BATCH_PLACEHOLDERS if name not in found]
    if missing:
        raise ScriptError(
            f"{path}:{statement.line}: the batched statement does not use "
            f"{' and '.join(missing)}. Limit it to one range of keys, e.g. ... WHERE plan "
            "IS NULL AND id >= :batch_start AND id < :batch_end;"
        )
    table = values.get("table")
    if table is None:
        target = _BATCH_TARGET.match(statement.text)
        if target is None:
            raise ScriptError(
                f"{path}:{line}: cannot tell which table's keys to walk for the statement at "
                f"line {statement.line}. Name it: -- schemaops: batch table=accounts key=id"
            )
        table = target.group("name")
    return Batch(line, table, int(size), values.get("key"), seconds(pause))


def find_batches(
    path: Path, text: str, found: tuple[statements.Statement, ...]
) -> dict[int, Batch]:
    """Find the batch directives of a section's text and the statement each stands above
    (its index in ``found``).

    Raises:
        ScriptError: a directive stands inside or after a statement, or is malformed.
    """
    batches: dict[int, Batch] = {}
    if "batch" not in text:
        return batches
    for number, line in enumerate(text.split("\n"), start=1):
        options = directives.batch_options(line)
        if options is None:
            continue
        index = next((i for i, s in enumerate(found) if s.line > number), None)
        if index is None or (index > 0 and found[index - 1].last_line >= number):
            raise ScriptError(
                f"{path}:{number}: a batch directive must stand on its own line above the "
                "statement it batches."
            )
        batches[index] = _read_batch(path, number, options, found[index])
    return batches


def bind_batch(text: str, start: int, end: int) -> str:
    """Return a batched statement's text with ``:batch_start`` and ``:batch_end`` (outside
    strings and comments) replaced by the range's bounds."""
    code = statements.without_literals(text)
    values = {":batch_start": str(start), ":batch_end": str(end)}
    parts: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(code):
        parts.append(text[pos : match.start()])
        parts.append(values[match.group()])
        pos = match.end()
    parts.append(text[pos:])
    return "".join(parts)


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
