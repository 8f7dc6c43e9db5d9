"""``lock_timeout`` and ``statement_timeout``: durations, and setting them for a block."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the console script reads durations with no Django set up
    from django.db.backends.base.base import BaseDatabaseWrapper

DURATION = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>us|ms|s|min|h|d)?$")
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(value: str) -> float:
    """Return a duration such as ``500ms``, ``2s`` or ``1min`` in seconds (bare numbers
    are milliseconds, as PostgreSQL reads ``lock_timeout``)."""
    match = DURATION.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a duration")
    return float(match.group("number")) * _SECONDS[match.group("unit") or "ms"]


def set_timeouts(
    connection: BaseDatabaseWrapper, lock_timeout: str, statement_timeout: str, *, local: bool
) -> tuple[str, str]:
    """Set both timeouts (``SET LOCAL`` when ``local``, else for the session); return
    the values they had."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout'),"
            " set_config('lock_timeout', %s, %s), set_config('statement_timeout', %s, %s)",
            [lock_timeout, local, statement_timeout, local],
        )
        row = cursor.fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


@contextmanager
def timeouts(
    connection: BaseDatabaseWrapper, lock_timeout: str, statement_timeout: str, *, local: bool
) -> Iterator[None]:
    """Set the timeouts for the block: ``SET LOCAL`` in a transaction, else for the
    session, restored afterwards."""
    from schemaops.locking.errors import usable

    before = set_timeouts(connection, lock_timeout, statement_timeout, local=local)
    try:
        yield
    finally:
        if not local and connection.connection is not None and usable(connection):
            set_timeouts(connection, *before, local=False)
