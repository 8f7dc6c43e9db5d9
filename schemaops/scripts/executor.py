"""Running scripts against the database and recording what happened."""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from schemaops import conf
from schemaops.exceptions import ScriptError, ScriptFailed
from schemaops.models import Direction, HistoryEntry, Outcome, Tier
from schemaops.recorder import Recorder
from schemaops.scripts.loader import Batch, Script, Section, bind_batch, seconds
from schemaops.scripts.progress import IndexBuildProgress
from schemaops.statements import Statement

LOCK_NOT_AVAILABLE = "55P03"
RETRY_BASE_DELAY = 0.25
RETRY_MAX_DELAY = 10.0
# How often a batched statement reports the rows done so far.
BATCH_REPORT_SECONDS = 2.0
# Waiting for a long transaction to end: how often pg_locks is read, and the wait reported.
QUEUE_POLL_SECONDS = 0.1
QUEUE_REPORT_SECONDS = 10.0

_CONCURRENT_INDEX = re.compile(
    r"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?P<name>(?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)\s+ON\b",
    re.IGNORECASE,
)
# Statements that wait for older transactions without blocking reads or writes.
_CONCURRENTLY = re.compile(
    r"^(?:(?:CREATE\s+(?:UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY\b"
    r"|REINDEX\b.*?\bCONCURRENTLY\b|ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b)",
    re.IGNORECASE | re.DOTALL,
)
# Those pg_stat_progress_create_index reports on.
_REPORTS_INDEX_PROGRESS = re.compile(r"^(?:CREATE\s+(?:UNIQUE\s+)?INDEX|REINDEX)\b", re.IGNORECASE)
# The relation a statement locks first, for "waited for a lock on ..." messages.
_TARGET = re.compile(
    r"^(?:ALTER\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?|LOCK(?:\s+TABLE)?(?:\s+ONLY)?"
    r"|UPDATE(?:\s+ONLY)?|DELETE\s+FROM(?:\s+ONLY)?|INSERT\s+INTO|TRUNCATE(?:\s+TABLE)?"
    r"|DROP\s+TABLE(?:\s+IF\s+EXISTS)?|CREATE\s+(?:UNIQUE\s+)?INDEX\b.*?\bON(?:\s+ONLY)?"
    r"|COMMENT\s+ON\s+(?:TABLE|COLUMN))\s+(?P<name>(?:\"[^\"]+\"|[\w$]+)"
    r"(?:\.(?:\"[^\"]+\"|[\w$]+))?)",
    re.IGNORECASE | re.DOTALL,
)

Progress = Callable[[str], None]

# Lock modes a statement takes that make writers (ROW EXCLUSIVE) queue behind
# it, and the modes held by others that make it wait (PostgreSQL's conflict table).
_CONFLICTING = {
    "ShareLock": (
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ),
    "ShareRowExclusiveLock": (
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ),
    "AccessExclusiveLock": (
        "AccessShareLock",
        "RowShareLock",
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ),
}
_VALIDATE_ONLY = re.compile(
    r"^ALTER\s+TABLE\b[^;]*?\s+VALIDATE\s+CONSTRAINT\s+(?:\"[^\"]+\"|[\w$]+)$", re.I | re.S
)
_FOREIGN_KEY_ONLY = re.compile(
    r"^ALTER\s+TABLE\b[^,]*?\bADD\s+(?:CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\b[^,]*$",
    re.I | re.S,
)
_PLAIN_INDEX = re.compile(r"^CREATE\s+(?:UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY\b)", re.I)
_EXCLUSIVE = re.compile(r"^(?:ALTER\s+TABLE|DROP\s+TABLE|TRUNCATE)\b", re.I)


def writer_blocking_mode(text: str) -> str | None:
    """Return the lock mode ``text`` takes on its table if writers would queue behind
    it (``ShareLock`` and stronger), else ``None``."""
    if _PLAIN_INDEX.match(text):
        return "ShareLock"
    if _VALIDATE_ONLY.match(text):
        return None
    if _FOREIGN_KEY_ONLY.match(text):
        return "ShareRowExclusiveLock"
    if _EXCLUSIVE.match(text):
        return "AccessExclusiveLock"
    return None


class _WouldQueue(Exception):
    """Taking the lock now would queue behind a long transaction, and writers behind us."""


@dataclasses.dataclass(frozen=True)
class _Holder:
    """A session holding a lock on a table a statement is about to lock."""

    relation: str
    pid: int
    mode: str
    state: str
    application: str
    age: float
    autovacuum: bool
    wraparound: bool

    def describe(self) -> str:
        if self.autovacuum:
            kind = "anti-wraparound autovacuum" if self.wraparound else "autovacuum"
            return f"{kind} pid {self.pid} ({self.mode} on {self.relation})"
        who = f"{self.application}, " if self.application else ""
        return (
            f"pid {self.pid} ({who}{self.state} for {self.age:.1f}s, holds {self.mode} on "
            f"{self.relation})"
        )


def queue_budget(retries: int) -> float:
    """Return how long a statement may wait for long transactions to end: as long as
    its ``retries`` would back off in all (55.75 s for 10)."""
    return sum(min(RETRY_BASE_DELAY * 2.0**attempt, RETRY_MAX_DELAY) for attempt in range(retries))


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


def sqlstate(exc: BaseException) -> str | None:
    """Return the SQLSTATE of a database error (Django wraps psycopg's in ``__cause__``)."""
    for candidate in (exc, exc.__cause__):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if state:
            return str(state)
    return None


def original_error(exc: BaseException) -> BaseException:
    """Return the first database error of the chain ``exc`` ended.

    With ``DEBUG = True``, Django 4.2 logs a failed query by opening a cursor
    on the same connection; when the connection died, that raises "the
    connection is closed" on top of the server's own message, which we want.
    """
    found = exc
    seen = {id(exc)}
    context = exc.__context__
    while context is not None and id(context) not in seen:
        seen.add(id(context))
        if isinstance(context, DatabaseError):
            found = context
        context = context.__context__
    return found


def _message(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def backoff(attempt: int) -> float:
    """Return the delay before retry ``attempt`` (0-based): exponential, with jitter."""
    delay: float = min(RETRY_BASE_DELAY * 2.0**attempt, RETRY_MAX_DELAY)
    return delay * random.uniform(0.5, 1.5)


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
        self._may_cancel_autovacuum = True

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

    @contextmanager
    def _timeouts(self, lock_timeout: str, statement_timeout: str, local: bool) -> Iterator[None]:
        """Set the timeouts for the block: ``SET LOCAL`` in a transaction, else for the
        session, restored afterwards."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('lock_timeout'), current_setting('statement_timeout'),"
                " set_config('lock_timeout', %s, %s), set_config('statement_timeout', %s, %s)",
                [lock_timeout, local, statement_timeout, local],
            )
            row = cursor.fetchone()
        assert row is not None
        try:
            yield
        finally:
            if not local and self.connection.connection is not None and self._usable():
                with self.connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('lock_timeout', %s, false), "
                        "set_config('statement_timeout', %s, false)",
                        [row[0], row[1]],
                    )

    def _lost(self, error: BaseException) -> bool:
        """Whether ``error`` ended the session (server shut down, backend terminated)."""
        state = sqlstate(error) or ""
        raw = self.connection.connection
        return (
            state.startswith("08")
            or state in ("57P01", "57P02", "57P03")
            or raw is None
            or bool(getattr(raw, "closed", False))
        )

    def _usable(self) -> bool:
        try:
            return bool(self.connection.is_usable())
        except Exception:
            return False

    def _describe_lock_wait(self, statement: Statement) -> str:
        """Name the relation ``statement`` waited for, and who holds locks on it."""
        match = _TARGET.match(statement.text)
        if match is None:
            return "a lock"
        name = match.group("name")
        try:
            with self.connection.cursor() as cursor:
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

    def _in_the_way(self, statement: Statement, lock_timeout: str) -> list[_Holder]:
        """Return who holds a lock on ``statement``'s table that it would queue behind
        for long: transactions open for longer than ``lock_timeout``, and autovacuum.

        Queuing behind them makes every writer queue behind us for up to
        ``lock_timeout``, most likely for nothing.
        """
        mode = writer_blocking_mode(statement.text)
        match = _TARGET.match(statement.text) if mode else None
        if mode is None or match is None or seconds(lock_timeout) <= 0:
            return []
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT l.pid, l.mode, coalesce(a.state, ''), coalesce(a.application_name, ''),"
                " coalesce(extract(epoch FROM clock_timestamp() - a.xact_start), 0),"
                " a.backend_type = 'autovacuum worker',"
                " coalesce(a.query LIKE '%%to prevent wraparound%%', false)"
                " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'relation' AND l.relation = to_regclass(%s) AND l.granted"
                " AND l.pid <> pg_backend_pid() AND l.mode = ANY (%s)"
                " AND (a.xact_start < clock_timestamp() - make_interval(secs => %s)"
                " OR a.backend_type = 'autovacuum worker')"
                " ORDER BY a.xact_start",
                [match.group("name"), list(_CONFLICTING[mode]), seconds(lock_timeout)],
            )
            return [_Holder(match.group("name"), *row) for row in cursor.fetchall()]

    def _check_queue(self, statement: Statement, lock_timeout: str) -> None:
        """Raise :class:`_WouldQueue` if ``statement`` would queue behind a long holder."""
        if self._in_the_way(statement, lock_timeout):
            raise _WouldQueue()

    def _cancel_autovacuum(self, holders: list[_Holder]) -> bool:
        """Cancel the (non-wraparound) autovacuum workers in ``holders``; return whether
        it was allowed."""
        try:
            with self.connection.cursor() as cursor:
                for holder in holders:
                    cursor.execute("SELECT pg_cancel_backend(%s)", [holder.pid])
        except DatabaseError as exc:
            self._may_cancel_autovacuum = False
            self.progress(
                f"  could not cancel autovacuum pid {holders[0].pid} ({_message(exc)}); waiting "
                "for it instead"
            )
            return False
        return True

    def _clear_the_way(
        self, script: Script, statement: Statement, lock_timeout: str, deadline: float
    ) -> str | None:
        """Wait, without queuing for the lock, until nobody holds ``statement``'s table
        for long; return the holders still there at ``deadline``, else ``None``.

        A plain autovacuum is cancelled at once: PostgreSQL cancels it anyway
        when a lock request has waited ``deadlock_timeout`` behind it, but every
        writer would queue behind that wait. Anything else is waited for,
        polling ``pg_locks``, which blocks nobody.
        """
        reported = 0.0
        while holders := self._in_the_way(statement, lock_timeout):
            described = "; ".join(holder.describe() for holder in holders[:3])
            vacuums = [h for h in holders if h.autovacuum and not h.wraparound]
            if (
                len(vacuums) == len(holders)
                and self._may_cancel_autovacuum
                and self._cancel_autovacuum(vacuums)
            ):
                self.progress(
                    f"  {script.id}: line {statement.line} cancelled {described}: "
                    "autovacuum gives way to a waiting lock anyway, and cancelling it now "
                    "spares the writers that would queue meanwhile"
                )
                time.sleep(QUEUE_POLL_SECONDS)
                continue
            now = time.monotonic()
            if now >= deadline:
                return described
            if now - reported >= QUEUE_REPORT_SECONDS:
                self.progress(
                    f"  {script.id}: line {statement.line} waits for {described} to end before "
                    f"taking its lock; not queuing, so writers are not blocked (up to "
                    f"{deadline - now:.0f}s more)"
                )
                reported = now
            time.sleep(QUEUE_POLL_SECONDS)
        return None

    def _pause_before_retry(
        self,
        script: Script,
        statement: Statement,
        lock_timeout: str,
        waited: str,
        attempt: int,
        retries: int,
        what_happened: str,
    ) -> None:
        """Report a lock wait and sleep before retry ``attempt`` (1-based)."""
        delay = backoff(attempt - 1)
        self.progress(
            f"  {script.id}: line {statement.line} waited {lock_timeout} for {waited}; "
            f"{what_happened}retry {attempt}/{retries} in {delay:.1f}s"
        )
        time.sleep(delay)

    def _queue_failure(
        self, script: Script, section: Section, statement: Statement, holders: str, waited: float
    ) -> str:
        return (
            f"{script.id} failed at {section.path}:{statement.line}: waited {waited:.0f}s for "
            f"{holders} to end. Queuing behind it for the lock would have blocked every writer "
            "of the table. Run it once that transaction ends (or end it: SELECT "
            "pg_terminate_backend(pid)), or raise retries in the script's header (the wait "
            "lasts as long as the retries' backoff in all)."
        )

    def _failure_message(
        self, script: Script, section: Section, statement: Statement | None, exc: BaseException
    ) -> str:
        where = f"{section.path}:{statement.line}" if statement else str(section.path)
        return f"{script.id} failed at {where}: {_message(exc)}"

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
                f"{message} The failure could not be recorded ({_message(exc)}); run manage.py "
                "schemaops status once the database is back."
            )
        return ScriptFailed(message)

    def _run_atomic(
        self, script: Script, section: Section, direction: str, outcome: str
    ) -> HistoryEntry:
        lock_timeout, statement_timeout, retries = self._settings(script)
        budget = queue_budget(retries)
        deadline = time.monotonic() + budget
        # Inside a caller's transaction (RunScript in an atomic migration), waiting
        # would hold the caller's locks: take the lock under lock_timeout instead.
        watch_queue = not self.connection.in_atomic_block
        attempt = 0
        while True:
            for statement in section.statements if watch_queue else ():
                blocked = self._clear_the_way(script, statement, lock_timeout, deadline)
                if blocked is not None:
                    message = self._queue_failure(script, section, statement, blocked, budget)
                    message += " Nothing of it was run."
                    raise self._failed(
                        script, section, direction, timezone.now(), 0, statement, message
                    )
            started_at = timezone.now()
            start = time.monotonic()
            current: Statement | None = None
            # The statement's own error: leaving the atomic block on a dead
            # connection raises another one ("the connection is closed").
            statement_error: BaseException | None = None
            try:
                with transaction.atomic(using=self.using):
                    with (
                        self._timeouts(lock_timeout, statement_timeout, local=True),
                        self.connection.cursor() as cursor,
                    ):
                        try:
                            for current in section.statements:
                                if watch_queue:
                                    self._check_queue(current, lock_timeout)
                                cursor.execute(current.text)
                        except DatabaseError as exc:
                            statement_error = original_error(exc)
                            raise
                    duration_ms = int((time.monotonic() - start) * 1000)
                    return self._record(
                        script, section, direction, outcome, started_at, duration_ms
                    )
            except _WouldQueue:
                # Rolled back: wait outside any transaction, holding no lock.
                assert current is not None
                blocked = self._clear_the_way(script, current, lock_timeout, deadline)
                if blocked is None and time.monotonic() < deadline:
                    continue
                duration_ms = int((time.monotonic() - start) * 1000)
                message = self._queue_failure(
                    script, section, current, blocked or "a long transaction", budget
                )
                message += " Nothing of it was kept."
                raise self._failed(
                    script, section, direction, started_at, duration_ms, current, message
                ) from None
            except DatabaseError as raised:
                failure = statement_error or raised
                duration_ms = int((time.monotonic() - start) * 1000)
                if sqlstate(failure) == LOCK_NOT_AVAILABLE and current is not None:
                    waited = self._describe_lock_wait(current)
                    if attempt < retries:
                        attempt += 1
                        self._pause_before_retry(
                            script,
                            current,
                            lock_timeout,
                            waited,
                            attempt,
                            retries,
                            "rolled back, ",
                        )
                        continue
                    message = (
                        f"{script.id} failed at {section.path}:{current.line}: could not get "
                        f"{waited} within lock_timeout={lock_timeout}, after {retries} "
                        "retries. Nothing of it was kept. Run it when the table is quieter, or "
                        "raise lock_timeout/retries in the script's header."
                    )
                else:
                    lost = (
                        " The connection to the database was lost." if self._lost(failure) else ""
                    )
                    message = self._failure_message(script, section, current, failure) + (
                        f".{lost} Nothing of it was kept (the transaction rolled back)."
                    )
                raise self._failed(
                    script, section, direction, started_at, duration_ms, current, message
                ) from failure

    def _drop_invalid_index(self, name: str) -> bool:
        """Drop index ``name`` if it exists and is INVALID; return whether one was dropped."""
        with self.connection.cursor() as cursor:
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

    def _run_autocommit(
        self, script: Script, section: Section, direction: str, outcome: str
    ) -> HistoryEntry:
        lock_timeout, statement_timeout, retries = self._settings(script)
        started_at = timezone.now()
        start = time.monotonic()
        self._record(script, section, direction, Outcome.STARTED, started_at, None)
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
        with self._timeouts(lock_timeout, statement_timeout, local=False):
            for index, statement in enumerate(section.statements):
                batch = section.batches.get(index)
                if batch is not None:
                    self._run_batched(run, statement, batch)
                elif _CONCURRENTLY.match(statement.text):
                    self._run_concurrently(run, statement)
                else:
                    self._run_statement(run, statement, statement.text)
        duration_ms = int((time.monotonic() - start) * 1000)
        return self._record(script, section, direction, outcome, started_at, duration_ms)

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
        builds_index = _REPORTS_INDEX_PROGRESS.match(statement.text) is not None
        with self._timeouts(budget, run.statement_timeout, local=False):
            if not builds_index:
                self._run_statement(concurrent, statement, statement.text)
                return
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                row = cursor.fetchone()
            assert row is not None
            label = f"{run.script.id}: line {statement.line}"
            with IndexBuildProgress(self.using, int(row[0]), label, self.progress):
                self._run_statement(concurrent, statement, statement.text)

    def _batch_key(self, run: _Run, statement: Statement, batch: Batch) -> tuple[str, str]:
        """Return the batched table (as PostgreSQL quotes it) and its integer key column."""
        where = f"{run.section.path}:{batch.line}"
        key = batch.key
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)::oid, to_regclass(%s)::text", [batch.table] * 2)
            row = cursor.fetchone()
            if row is None or row[0] is None:
                raise ScriptError(
                    f"{where}: batch table {batch.table!r} does not exist. Name the table whose "
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
                        f"{where}: {table} has no single-column primary key to walk. Name an "
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
            raise ScriptError(f"{where}: {table} has no column {key!r} to batch by (key=).")
        if column[1] not in ("smallint", "integer", "bigint"):
            raise ScriptError(
                f"{where}: batch key {table}.{column[0]} is {column[1]}; batches walk an "
                "integer key. Name an integer column with key=..."
            )
        return str(table), str(column[0])

    def _key_bounds(self, table: str, key: str) -> tuple[int | None, int | None]:
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT min({key}), max({key}) FROM {table}")
            row = cursor.fetchone()
        assert row is not None
        return row[0], row[1]

    def _run_batched(self, run: _Run, statement: Statement, batch: Batch) -> None:
        """Run ``statement`` once per range of ``batch.size`` keys, each range committed
        on its own (autocommit), reporting rows done; ranges beyond the largest key
        found at the start are walked too if rows arrived meanwhile."""
        table, key = self._batch_key(run, statement, batch)
        low, high = self._key_bounds(table, key)
        label = f"{run.script.id}: line {statement.line}"
        if low is None or high is None:
            self.progress(f"  {label}: batch: {table} is empty, nothing to do")
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
                rows += self._run_statement(
                    run,
                    statement,
                    bind_batch(statement.text, start, end),
                    f" (batch of keys {start}..{end - 1})",
                    kept,
                )
                batches += 1
                start = end
                now = time.monotonic()
                if now - last_report >= BATCH_REPORT_SECONDS:
                    percent = min(100, (start - first) * 100 // max(1, high - first + 1))
                    self.progress(
                        f"  {label}: batch {batches}: {rows:,} rows done, keys up to "
                        f"{start - 1:,} of {high:,} ({percent}%)"
                    )
                    last_report = now
                if batch.pause:
                    time.sleep(batch.pause)
            low = start
            newest = self._key_bounds(table, key)[1]
            if newest is None or newest < low:
                break
            high = newest
        self.progress(
            f"  {label}: {rows:,} rows done in {batches} batches of {batch.size:,} keys "
            f"({table}.{key} {first:,}..{high:,})"
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
        index = _CONCURRENT_INDEX.match(statement.text)
        attempt = 0
        while True:
            if index and self._drop_invalid_index(index.group("name")):
                # Left by an earlier failed or killed build; IF NOT EXISTS would keep it.
                self.progress(
                    f"  {script.id}: dropped INVALID index {index.group('name')} left by an "
                    "earlier build"
                )
            blocked = self._clear_the_way(script, statement, run.lock_timeout, run.deadline)
            if blocked is not None:
                message = self._queue_failure(
                    script, section, statement, blocked, queue_budget(run.retries)
                )
                message += " The statements before this one stayed applied (non-atomic script)."
                duration_ms = int((time.monotonic() - run.start) * 1000)
                raise self._failed(
                    script, section, run.direction, run.started_at, duration_ms, statement, message
                )
            try:
                with self.connection.cursor() as cursor:
                    cursor.execute(sql)
                    return max(int(cursor.rowcount), 0)
            except DatabaseError as exc:
                failure = original_error(exc)
            usable = self._usable()
            leftover = ""
            if index and usable:
                try:
                    if self._drop_invalid_index(index.group("name")):
                        leftover = f" The INVALID index {index.group('name')} it left was dropped."
                except DatabaseError as drop_error:
                    leftover = (
                        f" It left the INVALID index {index.group('name')}, which could not be "
                        f"dropped ({_message(drop_error)}): DROP INDEX CONCURRENTLY "
                        f"{index.group('name')};"
                    )
            if usable and sqlstate(failure) == LOCK_NOT_AVAILABLE:
                waited = self._describe_lock_wait(statement)
                if attempt < run.retries:
                    attempt += 1
                    self._pause_before_retry(
                        script, statement, run.lock_timeout, waited, attempt, run.retries, ""
                    )
                    continue
                message = (
                    f"{script.id} failed at {section.path}:{statement.line}{where}: could not "
                    f"get {waited} within lock_timeout={run.lock_timeout}, after {run.retries} "
                    "retries."
                )
            else:
                message = self._failure_message(script, section, statement, failure)
                if where:
                    message = message.replace(
                        f":{statement.line}: ", f":{statement.line}{where}: ", 1
                    )
                message += "."
            if not usable or self._lost(failure):
                message += " The connection to the database was lost."
            message += " The statements before this one stayed applied (non-atomic script)."
            message += kept + leftover
            duration_ms = int((time.monotonic() - run.start) * 1000)
            raise self._failed(
                script, section, run.direction, run.started_at, duration_ms, statement, message
            ) from failure
