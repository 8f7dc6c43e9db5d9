"""An atomic section: its statements and its registry row in one transaction, rolled
back and run again whole when a statement hits ``lock_timeout`` or would queue
behind a long transaction."""

from __future__ import annotations

import time

from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from schemaops.exceptions import ScriptFailed
from schemaops.locking.discipline import Budget, GaveUp, LockDiscipline, WouldQueue
from schemaops.locking.errors import is_lock_timeout, original_error, session_lost
from schemaops.locking.timeouts import timeouts
from schemaops.models import HistoryEntry
from schemaops.scripts import messages, recording
from schemaops.scripts.script import Section
from schemaops.statements import Statement


class _Attempt:
    """One attempt of an atomic script: when it started, the statement it is at, and
    that statement's own error (leaving the atomic block on a dead connection
    raises another one, "the connection is closed")."""

    def __init__(self) -> None:
        self.started_at = timezone.now()
        self.start = time.monotonic()
        self.current: Statement | None = None
        self.error: BaseException | None = None
        self.ran = False

    def restart(self) -> None:
        self.started_at, self.start = timezone.now(), time.monotonic()
        self.current, self.error, self.ran = None, None, True

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.start) * 1000)


def run(
    discipline: LockDiscipline,
    record: recording.RunRecord,
    outcome: str,
    settings: tuple[str, str, int],
) -> HistoryEntry:
    """Run ``record``'s section in one transaction that ends with its ``outcome`` row,
    under ``settings`` (lock_timeout, statement_timeout, retries); return the row.

    Raises:
        ScriptFailed: a statement failed, or the lock budget ran out (rolled back,
            a ``failed`` row written).
    """
    script, section = record.script, record.section
    connection = discipline.connection
    lock_timeout, statement_timeout, retries = settings
    budget = Budget.from_now(lock_timeout, retries)
    # Inside a caller's transaction (RunScript in an atomic migration), waiting
    # would hold the caller's locks: take the lock under lock_timeout instead.
    watch_queue = not connection.in_atomic_block
    tried = _Attempt()

    def attempt() -> HistoryEntry:
        for statement in section.statements if watch_queue else ():
            discipline.wait_unqueued(messages.label(script, statement), statement.text, budget)
        tried.restart()
        with transaction.atomic(using=discipline.using):
            with (
                timeouts(connection, lock_timeout, statement_timeout, local=True),
                connection.cursor() as cursor,
            ):
                try:
                    for tried.current in section.statements:
                        if watch_queue and discipline.would_queue(
                            tried.current.text, lock_timeout
                        ):
                            raise WouldQueue(tried.current.text)
                        cursor.execute(tried.current.text)
                except DatabaseError as exc:
                    tried.error = original_error(exc)
                    raise
            return record.record(outcome, tried.started_at, tried.elapsed_ms())

    def lock_timeout_at(raised: BaseException) -> str | None:
        current = tried.current
        failure = tried.error or raised
        return current.text if current is not None and is_lock_timeout(failure) else None

    try:
        return discipline.retrying(
            attempt,
            budget,
            lambda text: messages.label(script, _statement_of(section, text)),
            lock_timeout_at=lock_timeout_at,
            what_happened="rolled back, ",
        )
    except (GaveUp, DatabaseError) as raised:
        error, cause = _failed(record, tried, raised, connection)
        raise error from cause


def _failed(
    record: recording.RunRecord,
    tried: _Attempt,
    raised: GaveUp | DatabaseError,
    connection: BaseDatabaseWrapper,
) -> tuple[ScriptFailed, BaseException | None]:
    """Write the ``failed`` row of a run that gave up or hit a database error (rolled
    back); return the error to raise and its cause."""
    script, section = record.script, record.section
    if isinstance(raised, GaveUp):
        statement = _statement_of(section, raised.text)
        message = messages.atomic_gave_up(script, section, statement, raised, ran=tried.ran)
        error = record.failed(tried.started_at, tried.elapsed_ms(), statement, message)
        return error, raised.__cause__
    failure = tried.error or raised
    lost = session_lost(connection, failure)
    message = messages.atomic_failed(script, section, tried.current, failure, lost=lost)
    return record.failed(tried.started_at, tried.elapsed_ms(), tried.current, message), failure


def _statement_of(section: Section, text: str) -> Statement:
    return next(s for s in section.statements if s.text == text)
