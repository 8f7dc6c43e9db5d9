"""Django's migrations under the lock discipline, through Django's own seams.

``manage.py migrate`` keeps Django's executor. schemaops reaches into the run
at the three points Django offers:

- the migration progress callback says which migration starts and ends: the
  guard sets that migration's ``lock_timeout`` and ``statement_timeout`` for
  the session, and wraps its ``apply``/``unapply`` so that an atomic migration
  that hit ``lock_timeout`` is rolled back whole (to a savepoint taken at its
  first statement: the locks it took are released) and run again from the
  state it started with, with backoff and jitter;
- ``connection.execute_wrapper()`` sees every statement the migration sends
  (schema editor SQL, ``RunSQL``, the queries of ``RunPython``): before one whose
  lock writers would queue behind, ``pg_locks`` is read, and rather than queue
  behind a transaction open longer than ``lock_timeout`` the guard waits for it
  holding nothing; a statement outside a transaction is retried on its own;
  ``CONCURRENTLY`` statements get ``CONCURRENT_LOCK_TIMEOUT``, report their
  progress, and an INVALID index left by a failed build is dropped first;
- the schema editor's deferred SQL (foreign keys, indexes Django adds at the
  end of a migration) is run inside the retried unit, so it is retried too.

A migration may change its budgets with a class attribute
(:mod:`schemaops.django_tier.budgets`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.state import ProjectState

from schemaops import statements
from schemaops.django_tier import budgets, messages
from schemaops.exceptions import MigrationFailed
from schemaops.locking import classify, transactions
from schemaops.locking.discipline import Budget, GaveUp, LockDiscipline, WouldQueue, governed
from schemaops.locking.errors import is_lock_timeout, original_error
from schemaops.locking.policy import LockPolicy
from schemaops.locking.timeouts import set_timeouts
from schemaops.output import Progress

Applied = Callable[[Migration, int, int], bool]


@dataclasses.dataclass
class _Running:
    """The migration being applied or unapplied, and what its run has cost so far."""

    migration: Migration
    policy: LockPolicy
    label: str
    since: tuple[int, int, float]  # the discipline's counters when it started
    in_unit: bool = False  # inside the savepoint of a retried atomic unit
    last_statement: str = ""
    recorded: bool = False  # its registry row was written in its own transaction


def _bare(name: str) -> str:
    """A relation name as the catalog spells it, without a ``public.`` schema."""
    parts = [
        part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()
        for part in name.split(".")
    ]
    return ".".join(parts[1:] if len(parts) > 1 and parts[0] == "public" else parts)


class MigrationGuard:
    """Apply Django's migrations on database ``using`` under the lock discipline.

    Used by ``manage.py migrate``: ``with guard.installed():`` around Django's
    run, ``started()`` and ``finished()`` from its progress callback.
    """

    def __init__(
        self,
        using: str = DEFAULT_DB_ALIAS,
        progress: Progress | None = None,
        applied: Applied | None = None,
    ) -> None:
        self.using = using
        self.progress: Progress = progress or (lambda message: None)
        # Called when an atomic migration has run, inside its transaction, with
        # its attempts and lock waits: returns whether it recorded it.
        self.applied = applied
        self.discipline = LockDiscipline(using, self.progress)
        self._running: _Running | None = None
        self._busy = False
        # The session's own timeouts, put back when the run ends, and those set now.
        self._session_timeouts: tuple[str, str] | None = None
        self._timeouts_set: tuple[str, str] | None = None
        # Tables created in this run: nobody else can hold a lock on them yet.
        self._created: set[str] = set()

    @property
    def connection(self) -> Any:
        return connections[self.using]

    @contextmanager
    def installed(self) -> Iterator[MigrationGuard]:
        """Watch every statement sent on the connection for the block."""
        with self.connection.execute_wrapper(self._execute):
            try:
                yield self
            finally:
                if self._running is not None:
                    self._release(self._running)
                    self._running = None
                if self._session_timeouts is not None and self._usable():
                    with self._own():
                        set_timeouts(self.connection, *self._session_timeouts, local=False)
                self._session_timeouts = self._timeouts_set = None

    # The progress callback's side ----------------------------------------------

    def started(self, migration: Migration) -> None:
        """``migration`` is about to be applied or unapplied: set its budgets.

        Raises:
            PolicyError: its ``schemaops`` attribute is wrong (nothing ran).
        """
        policy = budgets.policy_for(migration)
        running = _Running(
            migration,
            policy,
            messages.label(migration),
            self.discipline.mark(),
        )
        wanted = (policy.lock_timeout, policy.statement_timeout)
        if wanted != self._timeouts_set:
            with self._own():
                before = set_timeouts(self.connection, *wanted, local=False)
            if self._session_timeouts is None:
                self._session_timeouts = before
            self._timeouts_set = wanted
        for method in ("apply", "unapply"):
            original = getattr(migration, method)
            setattr(migration, method, functools.partial(self._run_unit, running, original))
        self._running = running

    def finished(self) -> tuple[int, int, bool]:
        """The running migration ended (applied, or failed): return how many attempts it
        took, how long it waited for locks (ms), and whether it was recorded already
        (in its transaction, :attr:`applied`)."""
        running = self._running
        if running is None:
            return 1, 0, False
        self._running = None
        self._release(running)
        return (*self._spent(running), running.recorded)

    def _spent(self, running: _Running) -> tuple[int, int]:
        return self.discipline.spent(running.since)

    def _release(self, running: _Running) -> None:
        for method in ("apply", "unapply"):
            running.migration.__dict__.pop(method, None)

    def _usable(self) -> bool:
        connection = self.connection
        if connection.connection is None:
            return False
        if connection.in_atomic_block and connection.needs_rollback:
            return False
        try:
            return bool(connection.is_usable())
        except Exception:
            return False

    @contextmanager
    def _own(self) -> Iterator[None]:
        """Statements of the guard's own (pg_locks, timeouts) pass the wrapper as they are."""
        busy, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = busy

    # One atomic migration, retried whole ---------------------------------------------

    def _run_unit(
        self,
        running: _Running,
        original: Callable[..., ProjectState],
        project_state: ProjectState,
        schema_editor: BaseDatabaseSchemaEditor,
        collect_sql: bool = False,
    ) -> ProjectState:
        """Run ``original`` (the migration's ``apply`` or ``unapply``); in an atomic
        migration, roll it back and run it again from its first state when a statement
        hit ``lock_timeout`` or would queue behind a long transaction."""
        if collect_sql or not schema_editor.atomic_migration:
            return original(project_state, schema_editor, collect_sql)
        policy = running.policy
        # apply() changes the state it is given. Rather than copy it before every
        # migration (a third of Django's own cost per migration, for a retry that
        # is rare), a retry rebuilds the state it started from (_state_before).
        states = [project_state]

        def attempt() -> ProjectState:
            state = states.pop() if states else self._state_before()
            deferred = list(schema_editor.deferred_sql)
            try:
                with transaction.atomic(using=self.using):
                    running.in_unit = True
                    try:
                        state = original(state, schema_editor, collect_sql)
                        self._run_deferred(schema_editor)
                    finally:
                        running.in_unit = False
            except BaseException:
                schema_editor.deferred_sql = deferred  # rolled back with the rest
                raise
            return state

        try:
            state = self.discipline.retrying(
                attempt,
                Budget.from_now(policy.lock_timeout, policy.retries),
                lambda text: running.label,
                lock_timeout_at=lambda exc: _timed_out_at(running, exc),
                what_happened="rolled back, ",
            )
        except GaveUp as error:
            raise MigrationFailed(messages.gave_up(running.migration, error)) from error.__cause__
        if self.applied is not None:
            # In the migration's own transaction, with Django's record of it: the
            # registry row commits with the migration, or neither does.
            with self._own():
                running.recorded = self.applied(running.migration, *self._spent(running))
        return state

    def _state_before(self) -> ProjectState:
        """The project state before the running migration, as Django's executor had it:
        every migration recorded as applied (those applied earlier in this run are
        committed, the running one is not), from the migration files."""
        with self._own():
            loader = MigrationLoader(self.connection, ignore_no_migrations=True)
        nodes = [key for key in loader.applied_migrations if key in loader.graph.nodes]
        if not nodes:
            return ProjectState(real_apps=loader.unmigrated_apps)
        return loader.project_state(nodes, at_end=True)

    def _run_deferred(self, schema_editor: BaseDatabaseSchemaEditor) -> None:
        """Run the SQL Django defers to the end of the migration (foreign keys, some
        indexes) now, inside the unit, so a lock timeout there is retried with it."""
        while schema_editor.deferred_sql:
            sql = schema_editor.deferred_sql.pop(0)
            schema_editor.execute(sql)

    # Every statement --------------------------------------------------------------

    def _execute(
        self,
        execute: Callable[..., Any],
        sql: Any,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        running = self._running
        if (
            running is None
            or self._busy
            or many
            or governed(self.using)
            or transactions.is_transaction_control(str(sql))
        ):
            return execute(sql, params, many, context)
        texts = [s.text for s in statements.split(str(sql))] or [str(sql)]
        with self._own():
            for text in texts:
                created = classify.created_table(text)
                if created is not None:
                    self._created.add(_bare(created))
            running.last_statement = texts[0]
            if any(classify.is_concurrently(text) for text in texts):
                return self._concurrently(running, execute, (sql, params, many, context), texts)
            return self._locking(running, execute, (sql, params, many, context), texts)

    def _in_the_way_of(self, texts: list[str]) -> list[str]:
        """The statements of ``texts`` that take a lock writers queue behind, on a table
        that existed before this run (the one altered, or one a foreign key references)."""
        return [
            text
            for text in texts
            if any(_bare(name) not in self._created for name, _ in classify.locked_relations(text))
        ]

    def _locking(
        self,
        running: _Running,
        execute: Callable[..., Any],
        call: tuple[Any, ...],
        texts: list[str],
    ) -> Any:
        policy = running.policy
        blocking = self._in_the_way_of(texts)
        if self.connection.in_atomic_block:
            # Waiting here would hold the locks the transaction took so far: roll
            # the unit back and wait outside it, where it can be run again.
            for text in blocking:
                if running.in_unit and self.discipline.would_queue(text, policy.lock_timeout):
                    running.last_statement = text
                    raise WouldQueue(text)
            return execute(*call)
        budget = Budget.from_now(policy.lock_timeout, policy.retries)

        def attempt() -> Any:
            for text in blocking:
                self.discipline.wait_unqueued(running.label, text, budget)
            return execute(*call)

        try:
            return self.discipline.retrying(
                attempt,
                budget,
                lambda text: running.label,
                lock_timeout_at=lambda exc: _timed_out_at(running, exc),
            )
        except GaveUp as error:
            raise MigrationFailed(messages.gave_up(running.migration, error)) from error.__cause__

    def _concurrently(
        self,
        running: _Running,
        execute: Callable[..., Any],
        call: tuple[Any, ...],
        texts: list[str],
    ) -> Any:
        """A ``CONCURRENTLY`` statement: its own lock budget, its progress, and no INVALID
        index left behind for the rerun."""
        policy = running.policy
        text = texts[0]

        def attempt() -> Any:
            dropped = self.discipline.drop_invalid_index(text)
            if dropped:
                self.progress(
                    f"  {running.label}: dropped INVALID index {dropped} left by an earlier build"
                )
            with self.discipline.index_build_progress(running.label, text):
                return execute(*call)

        def timed_out_at(exc: BaseException) -> str | None:
            if self._usable():
                dropped = self.discipline.drop_invalid_index(text)
                if dropped:
                    self.progress(
                        f"  {running.label}: dropped the INVALID index {dropped} the failed "
                        "build left"
                    )
            return _timed_out_at(running, exc)

        before = set_timeouts(
            self.connection, policy.concurrent_lock_timeout, policy.statement_timeout, local=False
        )
        try:
            return self.discipline.retrying(
                attempt,
                Budget.from_now(policy.concurrent_lock_timeout, policy.retries),
                lambda text: running.label,
                lock_timeout_at=timed_out_at,
            )
        except GaveUp as error:
            raise MigrationFailed(messages.gave_up(running.migration, error)) from error.__cause__
        finally:
            if self._usable():
                set_timeouts(self.connection, *before, local=False)


def _timed_out_at(running: _Running, exc: BaseException) -> str | None:
    """The statement that hit ``lock_timeout``, if ``exc`` is that."""
    return running.last_statement if is_lock_timeout(original_error(exc)) else None
