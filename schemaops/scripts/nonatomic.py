"""A non-atomic section: run in autocommit, statement by statement, between a committed
``started`` row and a committed row that ends the run. Each statement is retried on
its own; a ``CONCURRENTLY`` one gets its own lock budget, a batched one runs once per
range of keys."""

from __future__ import annotations

import dataclasses
import datetime
import time

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from schemaops import conf
from schemaops.locking import classify
from schemaops.locking.discipline import Budget, GaveUp, LockDiscipline
from schemaops.locking.errors import (
    first_line,
    is_lock_timeout,
    original_error,
    session_lost,
    usable,
)
from schemaops.locking.retry import queue_budget
from schemaops.locking.timeouts import timeouts
from schemaops.models import HistoryEntry, Outcome
from schemaops.scripts import batches, messages, recording
from schemaops.scripts.batches import Batch
from schemaops.scripts.script import Script, Section
from schemaops.statements import Statement


def run(
    discipline: LockDiscipline,
    record: recording.RunRecord,
    outcome: str,
    settings: tuple[str, str, int],
) -> HistoryEntry:
    """Run ``record``'s section statement by statement under ``settings``
    (lock_timeout, statement_timeout, retries), each finished one recorded; return
    the ``outcome`` row written at the end.

    Raises:
        ScriptFailed: a statement failed, or its lock budget ran out (the ones
            before it stayed applied; a ``failed`` row written).
    """
    lock_timeout, statement_timeout, retries = settings
    started_at = timezone.now()
    start = time.monotonic()
    entry = record.record(Outcome.STARTED, started_at, None)
    deadline = start + queue_budget(retries)
    section = record.section
    run = _Run(
        discipline,
        record,
        started_at,
        start,
        lock_timeout,
        statement_timeout,
        retries,
        deadline,
    )
    with timeouts(discipline.connection, lock_timeout, statement_timeout, local=False):
        for index, statement in enumerate(section.statements):
            statement_start = time.monotonic()
            batch = section.batches.get(index)
            if batch is not None:
                run.execute_batched(statement, batch)
            elif classify.is_concurrently(statement.text):
                run.execute_concurrently(statement)
            else:
                run.execute(statement, statement.text)
            run.finished(entry, index, statement, statement_start)
    duration_ms = int((time.monotonic() - start) * 1000)
    return record.record(outcome, started_at, duration_ms)


class _Failure:
    """What the last failed try of a statement left: its error, whether the session
    survived it, and what became of an INVALID index it left."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.alive = True
        self.leftover = ""


@dataclasses.dataclass(frozen=True)
class _Run:
    """One non-atomic run of a script's section: what its statements share."""

    discipline: LockDiscipline
    record: recording.RunRecord
    started_at: datetime.datetime
    start: float
    lock_timeout: str
    statement_timeout: str
    retries: int
    deadline: float  # until when it may wait for long transactions to end

    @property
    def script(self) -> Script:
        return self.record.script

    @property
    def section(self) -> Section:
        return self.record.section

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return self.discipline.connection

    def finished(
        self, entry: HistoryEntry, index: int, statement: Statement, since: float
    ) -> None:
        """Record that a statement committed, right after it (a kill in between
        leaves it as "may have run")."""
        try:
            self.record.recorder.finished(
                entry, index + 1, statement.line, int((time.monotonic() - since) * 1000)
            )
        except DatabaseError as exc:
            message = messages.finish_not_recorded(self.script, self.section, statement, exc)
            raise self.record.failed(self.started_at, self._elapsed_ms(), None, message) from exc

    def execute_concurrently(self, statement: Statement) -> None:
        """Run a ``CONCURRENTLY`` statement with its own, longer lock budget, reporting
        an index build's progress while it runs.

        Such a statement waits for every transaction older than it (old
        snapshots, lockers) without blocking reads or writes, so it gets
        ``CONCURRENT_LOCK_TIMEOUT`` instead of the short ``lock_timeout``.
        """
        budget = self.script.parsed.directives.concurrent_lock_timeout or (
            conf.concurrent_lock_timeout()
        )
        concurrent = dataclasses.replace(self, lock_timeout=budget)
        with (
            timeouts(self.connection, budget, self.statement_timeout, local=False),
            self.discipline.index_build_progress(
                messages.label(self.script, statement), statement.text
            ),
        ):
            concurrent.execute(statement, statement.text)

    def execute_batched(self, statement: Statement, batch: Batch) -> None:
        """Run ``statement`` once per range of keys (:mod:`schemaops.scripts.batches`),
        each range with its own lock budget and retries."""
        batches.walk(
            self.connection,
            batch,
            statement.text,
            where=f"{self.section.path}:{batch.line}",
            label=messages.label(self.script, statement),
            progress=self.discipline.progress,
            run_range=lambda sql, where, kept: self.execute(statement, sql, where, kept),
        )

    def execute(self, statement: Statement, sql: str, where: str = "", kept: str = "") -> int:
        """Run one statement in autocommit, retrying lock timeouts; return its row count.

        A concurrent index build that fails leaves an INVALID index: it is
        dropped before each attempt and after a failure, or named in the error.
        """
        script, section = self.script, self.section
        index = classify.concurrent_index(statement.text)
        budget = Budget(self.lock_timeout, self.retries, self.deadline)
        label = messages.label(script, statement)
        failed = _Failure()

        def attempt() -> int:
            dropped = self.discipline.drop_invalid_index(statement.text)
            if dropped:
                # Left by an earlier failed or killed build; IF NOT EXISTS would keep it.
                self.discipline.progress(
                    f"  {script.id}: dropped INVALID index {dropped} left by an earlier build"
                )
            self.discipline.wait_unqueued(label, statement.text, budget)
            with self.connection.cursor() as cursor:
                cursor.execute(sql)
                return max(int(cursor.rowcount), 0)

        def lock_timeout_at(raised: BaseException) -> str | None:
            failed.error = original_error(raised)
            failed.alive = usable(self.connection)
            failed.leftover = self._drop_left(index, statement) if index and failed.alive else ""
            return statement.text if failed.alive and is_lock_timeout(failed.error) else None

        try:
            return self.discipline.retrying(
                attempt, budget, lambda text: label, lock_timeout_at=lock_timeout_at
            )
        except GaveUp as gave_up:
            message = messages.statement_gave_up(
                script, section, statement, gave_up, where=where, left=kept + failed.leftover
            )
            cause: BaseException | None = gave_up.__cause__
        except DatabaseError as raised:
            failure = failed.error or original_error(raised)
            lost = not failed.alive or session_lost(self.connection, failure)
            left = kept + failed.leftover
            message = messages.statement_failed(
                script, section, statement, failure, where=where, lost=lost, left=left
            )
            cause = failure
        raise self.record.failed(
            self.started_at, self._elapsed_ms(), statement, message
        ) from cause

    def _drop_left(self, index: str, statement: Statement) -> str:
        """Drop the INVALID index ``index`` a failed build of ``statement`` left; say
        what became of it, for the error."""
        try:
            if self.discipline.drop_invalid_index(statement.text):
                return f" The INVALID index {index} it left was dropped."
        except DatabaseError as drop_error:
            return (
                f" It left the INVALID index {index}, which could not be "
                f"dropped ({first_line(drop_error)}): DROP INDEX CONCURRENTLY "
                f"{index};"
            )
        return ""

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self.start) * 1000)
