"""Running scripts against the database and recording what happened."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from schemaops import conf
from schemaops.exceptions import ScriptError, ScriptFailed
from schemaops.locking import classify
from schemaops.locking.discipline import Budget, GaveUp, LockDiscipline, WouldQueue, governing
from schemaops.locking.errors import (
    first_line,
    is_lock_timeout,
    original_error,
    server_details,
    session_lost,
    statement_position,
    usable,
)
from schemaops.locking.retry import queue_budget
from schemaops.locking.timeouts import timeouts
from schemaops.models import Direction, HistoryEntry, Outcome, Tier
from schemaops.recorder import Recorder
from schemaops.scripts import batches
from schemaops.scripts.batches import Batch
from schemaops.scripts.script import Script, Section
from schemaops.statements import Statement

# How often a batched statement reports the rows done so far.

Progress = Callable[[str], None]


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


class _Failure:
    """What the last failed try of a statement left: its error, whether the session
    survived it, and what became of an INVALID index it left."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.alive = True
        self.leftover = ""


def _statement_of(section: Section, text: str) -> Statement:
    return next(s for s in section.statements if s.text == text)


@dataclasses.dataclass(frozen=True)
class _Run:
    """One non-atomic run of a script's section: what its statements share."""

    script: Script
    section: Section
    direction: str
    started_at: object
    start: float
    lock_timeout: str
    statement_timeout: str
    retries: int
    deadline: float  # until when it may wait for long transactions to end


def _label(script: Script, statement: Statement) -> str:
    return f"{script.id}: line {statement.line}"


class ScriptExecutor:
    """Apply and revert scripts on database ``using``, one at a time.

    An atomic script runs in one transaction with its registry row, so it is
    either applied and recorded, or neither. A non-atomic script runs in
    autocommit, statement by statement, between a committed ``started`` row and
    a committed ``applied`` row; a ``started`` row with nothing after it is an
    interrupted script. Callers hold the runner lock (:class:`RunnerLock`).
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS, progress: Progress | None = None) -> None:
        self.using = using
        self.progress: Progress = progress or (lambda message: None)
        self.recorder = Recorder(using)
        self.discipline = LockDiscipline(using, self.progress)
        self._before = self.discipline.mark()

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.using]

    def apply(self, script: Script) -> HistoryEntry:
        """Run the up section of ``script``; raise :class:`ScriptFailed` on failure."""
        return self._run(script, script.parsed.up, Direction.UP, Outcome.APPLIED)

    def revert(self, script: Script) -> HistoryEntry:
        """Run the down section of ``script``; raise :class:`ScriptError` if it has none."""
        down = script.parsed.down
        if down is None:
            raise ScriptError(
                f"{script.id} ({script.path}) has no down section, so it cannot be rolled "
                "back. Add a -- migrate:down section (or a .down.sql file), or mark it pending "
                f"without running anything: manage.py schemaops repair {script.id} --as pending "
                "--reason '...'."
            )
        return self._run(script, down, Direction.DOWN, Outcome.REVERTED)

    def _settings(self, script: Script) -> tuple[str, str, int]:
        """Return the script's lock_timeout, statement_timeout and retries."""
        directives = script.parsed.directives
        return (
            directives.lock_timeout or conf.lock_timeout(),
            directives.statement_timeout or conf.statement_timeout(),
            conf.retries() if directives.retries is None else directives.retries,
        )

    def _run(self, script: Script, section: Section, direction: str, outcome: str) -> HistoryEntry:
        # What this run cost, for its row: attempts and time spent waiting for locks.
        self._before = self.discipline.mark()
        with governing(self.using):
            return self._run_section(script, section, direction, outcome)

    def _run_section(
        self, script: Script, section: Section, direction: str, outcome: str
    ) -> HistoryEntry:
        self.recorder.db_user  # noqa: B018 - read while the connection is healthy
        if section.atomic:
            return self._run_atomic(script, section, direction, outcome)
        if self.connection.in_atomic_block:
            raise ScriptError(
                f"{script.id} ({script.path}) cannot run in a transaction "
                f"({section.non_transactional}), but a transaction is open. From a Django "
                "migration, set atomic = False on the Migration class."
            )
        return self._run_autocommit(script, section, direction, outcome)

    def _record(
        self,
        script: Script,
        section: Section,
        direction: str,
        outcome: str,
        started_at: object,
        duration_ms: int | None,
        **extra: object,
    ) -> HistoryEntry:
        if duration_ms is not None:
            attempts, waited_ms = self.discipline.spent(self._before)
            extra.setdefault("attempts", attempts)
            extra.setdefault("waited_ms", waited_ms)
        return self.recorder.record(
            tier=Tier.SQL,
            location=script.location.name,
            version=script.version,
            name=script.name,
            checksum=script.checksum,
            direction=direction,
            outcome=outcome,
            started_at=started_at,  # type: ignore[arg-type]
            duration_ms=duration_ms,
            sql=section.text.strip("\n"),
            **extra,  # type: ignore[arg-type]
        )

    def _usable(self) -> bool:
        return usable(self.connection)

    def _queue_failure(
        self, script: Script, section: Section, statement: Statement, reason: str
    ) -> str:
        return (
            f"{script.id} failed at {section.path}:{statement.line}: {reason}, or raise "
            "retries in the script's header (the wait lasts as long as the retries' backoff "
            "in all)."
        )

    def _failure_message(
        self,
        script: Script,
        section: Section,
        statement: Statement | None,
        exc: BaseException,
        where: str = "",
    ) -> str:
        """``ID failed at FILE:LINE[:COLUMN]: what PostgreSQL said`` (its DETAIL and
        HINT go last, :func:`server_details`); the column where it names one."""
        at = f"{section.path}:{statement.line}" if statement else str(section.path)
        position = statement_position(exc)
        if statement is not None and position is not None and not where:
            before = statement.text[: position - 1]
            line = statement.line + before.count("\n")
            column = (
                len(before) - before.rfind("\n")
                if "\n" in before
                else statement.column + len(before)
            )
            at = f"{section.path}:{line}:{column}"
        return f"{script.id} failed at {at}{where}: {first_line(exc)}"

    def _failed(
        self,
        script: Script,
        section: Section,
        direction: str,
        started_at: object,
        duration_ms: int,
        statement: Statement | None,
        message: str,
    ) -> ScriptFailed:
        """Append a ``failed`` row on a fresh transaction; return the error to raise
        (saying so if the row could not be written)."""
        try:
            if not self._usable():
                self.connection.close()
            self._record(
                script,
                section,
                direction,
                Outcome.FAILED,
                started_at,
                duration_ms,
                error=message,
                failed_statement=statement.text if statement else "",
                failed_line=statement.line if statement else None,
            )
        except DatabaseError as exc:
            return ScriptFailed(
                f"{message} The failure could not be recorded ({first_line(exc)}); run manage.py "
                "schemaops status once the database is back."
            )
        return ScriptFailed(message)

    def _run_atomic(
        self, script: Script, section: Section, direction: str, outcome: str
    ) -> HistoryEntry:
        lock_timeout, statement_timeout, retries = self._settings(script)
        budget = Budget.from_now(lock_timeout, retries)
        # Inside a caller's transaction (RunScript in an atomic migration), waiting
        # would hold the caller's locks: take the lock under lock_timeout instead.
        watch_queue = not self.connection.in_atomic_block
        tried = _Attempt()

        def attempt() -> HistoryEntry:
            for statement in section.statements if watch_queue else ():
                self.discipline.wait_unqueued(_label(script, statement), statement.text, budget)
            tried.restart()
            with transaction.atomic(using=self.using):
                with (
                    timeouts(self.connection, lock_timeout, statement_timeout, local=True),
                    self.connection.cursor() as cursor,
                ):
                    try:
                        for tried.current in section.statements:
                            if watch_queue and self.discipline.would_queue(
                                tried.current.text, lock_timeout
                            ):
                                raise WouldQueue(tried.current.text)
                            cursor.execute(tried.current.text)
                    except DatabaseError as exc:
                        tried.error = original_error(exc)
                        raise
                return self._record(
                    script, section, direction, outcome, tried.started_at, tried.elapsed_ms()
                )

        def lock_timeout_at(raised: BaseException) -> str | None:
            current = tried.current
            failure = tried.error or raised
            return current.text if current is not None and is_lock_timeout(failure) else None

        try:
            return self.discipline.retrying(
                attempt,
                budget,
                lambda text: _label(script, _statement_of(section, text)),
                lock_timeout_at=lock_timeout_at,
                what_happened="rolled back, ",
            )
        except GaveUp as gave_up:
            statement = _statement_of(section, gave_up.text)
            if gave_up.queued:
                message = self._queue_failure(script, section, statement, gave_up.reason)
                message += " Nothing of it was kept." if tried.ran else " Nothing of it was run."
            else:
                message = (
                    f"{script.id} failed at {section.path}:{statement.line}: {gave_up.reason}. "
                    "Nothing of it was kept. Run it when the table is quieter, or raise "
                    "lock_timeout/retries in the script's header."
                )
            raise self._failed(
                script,
                section,
                direction,
                tried.started_at,
                tried.elapsed_ms(),
                statement,
                message,
            ) from gave_up.__cause__
        except DatabaseError as raised:
            failure = tried.error or raised
            lost = (
                " The connection to the database was lost."
                if session_lost(self.connection, failure)
                else ""
            )
            message = self._failure_message(script, section, tried.current, failure) + (
                f".{lost} Nothing of it was kept (the transaction rolled back)."
                + server_details(failure)
            )
            raise self._failed(
                script,
                section,
                direction,
                tried.started_at,
                tried.elapsed_ms(),
                tried.current,
                message,
            ) from failure

    def _run_autocommit(
        self, script: Script, section: Section, direction: str, outcome: str
    ) -> HistoryEntry:
        lock_timeout, statement_timeout, retries = self._settings(script)
        started_at = timezone.now()
        start = time.monotonic()
        entry = self._record(script, section, direction, Outcome.STARTED, started_at, None)
        deadline = start + queue_budget(retries)
        run = _Run(
            script,
            section,
            direction,
            started_at,
            start,
            lock_timeout,
            statement_timeout,
            retries,
            deadline,
        )
        with timeouts(self.connection, lock_timeout, statement_timeout, local=False):
            for index, statement in enumerate(section.statements):
                statement_start = time.monotonic()
                batch = section.batches.get(index)
                if batch is not None:
                    self._run_batched(run, statement, batch)
                elif classify.is_concurrently(statement.text):
                    self._run_concurrently(run, statement)
                else:
                    self._run_statement(run, statement, statement.text)
                self._finished(run, entry, index, statement, statement_start)
        duration_ms = int((time.monotonic() - start) * 1000)
        return self._record(script, section, direction, outcome, started_at, duration_ms)

    def _finished(
        self, run: _Run, entry: HistoryEntry, index: int, statement: Statement, since: float
    ) -> None:
        """Record that a statement committed, right after it (a kill in between
        leaves it as "may have run")."""
        try:
            self.recorder.finished(
                entry, index + 1, statement.line, int((time.monotonic() - since) * 1000)
            )
        except DatabaseError as exc:
            message = (
                f"{run.script.id}: the statement at {run.section.path}:{statement.line} "
                f"committed, but recording that failed: {first_line(exc)}. It and the "
                "statements before it stayed applied (non-atomic script)." + server_details(exc)
            )
            duration_ms = int((time.monotonic() - run.start) * 1000)
            raise self._failed(
                run.script, run.section, run.direction, run.started_at, duration_ms, None, message
            ) from exc

    def _run_concurrently(self, run: _Run, statement: Statement) -> None:
        """Run a ``CONCURRENTLY`` statement with its own, longer lock budget, reporting
        an index build's progress while it runs.

        Such a statement waits for every transaction older than it (old
        snapshots, lockers) without blocking reads or writes, so it gets
        ``CONCURRENT_LOCK_TIMEOUT`` instead of the short ``lock_timeout``.
        """
        budget = run.script.parsed.directives.concurrent_lock_timeout or (
            conf.concurrent_lock_timeout()
        )
        concurrent = dataclasses.replace(run, lock_timeout=budget)
        with (
            timeouts(self.connection, budget, run.statement_timeout, local=False),
            self.discipline.index_build_progress(_label(run.script, statement), statement.text),
        ):
            self._run_statement(concurrent, statement, statement.text)

    def _run_batched(self, run: _Run, statement: Statement, batch: Batch) -> None:
        """Run ``statement`` once per range of keys (:mod:`schemaops.scripts.batches`),
        each range with its own lock budget and retries."""
        batches.walk(
            self.connection,
            batch,
            statement.text,
            where=f"{run.section.path}:{batch.line}",
            label=_label(run.script, statement),
            progress=self.progress,
            run_range=lambda sql, where, kept: self._run_statement(
                run, statement, sql, where, kept
            ),
        )

    def _run_statement(
        self,
        run: _Run,
        statement: Statement,
        sql: str,
        where: str = "",
        kept: str = "",
    ) -> int:
        """Run one statement in autocommit, retrying lock timeouts; return its row count.

        A concurrent index build that fails leaves an INVALID index: it is
        dropped before each attempt and after a failure, or named in the error.
        """
        script, section = run.script, run.section
        index = classify.concurrent_index(statement.text)
        budget = Budget(run.lock_timeout, run.retries, run.deadline)
        label = _label(script, statement)
        failed = _Failure()

        def attempt() -> int:
            dropped = self.discipline.drop_invalid_index(statement.text)
            if dropped:
                # Left by an earlier failed or killed build; IF NOT EXISTS would keep it.
                self.progress(
                    f"  {script.id}: dropped INVALID index {dropped} left by an earlier build"
                )
            self.discipline.wait_unqueued(label, statement.text, budget)
            with self.connection.cursor() as cursor:
                cursor.execute(sql)
                return max(int(cursor.rowcount), 0)

        def lock_timeout_at(raised: BaseException) -> str | None:
            failed.error = original_error(raised)
            failed.alive = self._usable()
            failed.leftover = ""
            if index and failed.alive:
                try:
                    if self.discipline.drop_invalid_index(statement.text):
                        failed.leftover = f" The INVALID index {index} it left was dropped."
                except DatabaseError as drop_error:
                    failed.leftover = (
                        f" It left the INVALID index {index}, which could not be "
                        f"dropped ({first_line(drop_error)}): DROP INDEX CONCURRENTLY "
                        f"{index};"
                    )
            return statement.text if failed.alive and is_lock_timeout(failed.error) else None

        stayed = " The statements before this one stayed applied (non-atomic script)."
        try:
            return self.discipline.retrying(
                attempt, budget, lambda text: label, lock_timeout_at=lock_timeout_at
            )
        except GaveUp as gave_up:
            if gave_up.queued:
                message = self._queue_failure(script, section, statement, gave_up.reason) + stayed
            else:
                message = (
                    f"{script.id} failed at {section.path}:{statement.line}{where}: "
                    f"{gave_up.reason}.{stayed}{kept}{failed.leftover}"
                )
            cause: BaseException | None = gave_up.__cause__
        except DatabaseError as raised:
            failure = failed.error or original_error(raised)
            message = self._failure_message(script, section, statement, failure, where) + "."
            if not failed.alive or session_lost(self.connection, failure):
                message += " The connection to the database was lost."
            message += stayed + kept + failed.leftover + server_details(failure)
            cause = failure
        duration_ms = int((time.monotonic() - run.start) * 1000)
        raise self._failed(
            script, section, run.direction, run.started_at, duration_ms, statement, message
        ) from cause
