"""Who holds a lock a statement is about to wait for: read from ``pg_locks``, which
blocks nobody."""

from __future__ import annotations

import dataclasses

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from schemaops.locking import classify
from schemaops.locking.timeouts import seconds


@dataclasses.dataclass(frozen=True)
class Holder:
    """A session holding a lock on a table a statement is about to lock."""

    relation: str
    pid: int
    mode: str
    state: str
    application: str
    age: float
    autovacuum: bool
    wraparound: bool
    query: str = ""

    @property
    def cancellable(self) -> bool:
        """A plain autovacuum: PostgreSQL cancels it for a waiting lock anyway."""
        return self.autovacuum and not self.wraparound

    def describe(self) -> str:
        if self.autovacuum:
            kind = "anti-wraparound autovacuum" if self.wraparound else "autovacuum"
            return f"{kind} pid {self.pid} ({self.mode} on {self.relation})"
        who = f"{self.application}, " if self.application else ""
        query = f", query {self.query!r}" if self.query else ""
        return (
            f"pid {self.pid} ({who}{self.state} for {self.age:.1f}s{query}, holds {self.mode} "
            f"on {self.relation})"
        )


_IN_THE_WAY = (
    "SELECT l.pid, l.mode, coalesce(a.state, ''), coalesce(a.application_name, ''),"
    " coalesce(extract(epoch FROM clock_timestamp() - a.xact_start), 0),"
    " a.backend_type = 'autovacuum worker',"
    " coalesce(a.query LIKE '%%to prevent wraparound%%', false),"
    " left(split_part(btrim(coalesce(a.query, ''), E' \\n\\t'), E'\\n', 1), 80)"
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'relation' AND l.relation = to_regclass(%s) AND l.granted"
    " AND l.pid <> pg_backend_pid() AND l.mode = ANY (%s)"
    " AND (a.xact_start < clock_timestamp() - make_interval(secs => %s)"
    " OR a.backend_type = 'autovacuum worker')"
    " ORDER BY a.xact_start"
)


def in_the_way(connection: BaseDatabaseWrapper, text: str, lock_timeout: str) -> list[Holder]:
    """Return who holds a lock that ``text`` would queue behind for long, on its table
    or a table its foreign keys reference: transactions open for longer than
    ``lock_timeout``, and autovacuum.

    Queuing behind them makes every writer queue behind us for up to
    ``lock_timeout``, most likely for nothing.
    """
    relations = classify.locked_relations(text)
    if not relations or seconds(lock_timeout) <= 0:
        return []
    found: list[Holder] = []
    with connection.cursor() as cursor:
        for name, mode in relations:
            cursor.execute(
                _IN_THE_WAY, [name, list(classify.CONFLICTING[mode]), seconds(lock_timeout)]
            )
            found.extend(Holder(name, *row) for row in cursor.fetchall())
    return found


def describe_lock_wait(connection: BaseDatabaseWrapper, text: str) -> str:
    """Name the relation ``text`` waited for, and who holds locks on it."""
    name = classify.target(text)
    if name is None:
        return "a lock"
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT l.pid, l.mode, coalesce(a.application_name, ''),"
                " coalesce(a.state, '') FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.relation = to_regclass(%s) AND l.granted"
                " AND l.pid <> pg_backend_pid() ORDER BY l.pid",
                [name],
            )
            holders = cursor.fetchall()
    except DatabaseError:
        holders = []
    if not holders:
        return f"a lock on relation {name}"
    described = "; ".join(
        f"pid {pid} holds {mode}" + (f" ({app}, {state})" if app else f" ({state})")
        for pid, mode, app, state in holders[:3]
    )
    return f"a lock on relation {name}, held by {described}"


def cancel(connection: BaseDatabaseWrapper, holders: list[Holder]) -> None:
    """Cancel the current query of each of ``holders`` (``pg_cancel_backend``)."""
    with connection.cursor() as cursor:
        for holder in holders:
            cursor.execute("SELECT pg_cancel_backend(%s)", [holder.pid])
