"""What each statement of a rehearsal did: the locks its backend held, the tables and
indexes it rewrote, how long it ran and how long its locks were held.

One mechanism for both tiers: ``connection.execute_wrapper()`` on the scratch
database's connection, which the script executor's cursor and Django's schema
editor both send every statement through. The wrapper is installed before the
runner's own (the Django tier's guard), so it is the outermost: the guard's and
the lock discipline's queries run inside a traced statement's call, and are let
through untraced (:attr:`Tracer._depth`).

Which statements are the plan's: a Django migration's are those sent while one of
its operations' ``database_forwards`` runs (each pending operation is wrapped for
the rehearsal), and the SQL its operations deferred to the migration's end; a
script's are those whose text is the next statement of a pending script. The
rest (the registry's rows, ``django_migrations``, timeouts, ``pg_locks``) is the
runner's bookkeeping and is not reported.

How a statement is observed:

- inside a transaction (an atomic script or migration): on the same connection,
  right after it, before the transaction ends: ``pg_locks`` for
  ``pg_backend_pid()`` and ``pg_class.relfilenode`` of every relation; its locks
  are held until the connection's ``commit()`` or ``rollback()``;
- alone in autocommit (a non-atomic script or migration): in a transaction the
  tracer opens around it (``BEGIN`` ... ``COMMIT``, which PostgreSQL runs the
  same way), so that its locks can be read before they are released;
- one that cannot run in a transaction (``CONCURRENTLY``, ``VACUUM``): from a
  second connection polling ``pg_locks`` for its backend while it runs; a third
  one holds a snapshot (and ACCESS SHARE on its table) until the poller has seen
  its locks, so that a concurrent build waits where it can be seen.

The tracer's queries read only catalogs (``pg_class``, ``pg_locks``): the locks
they take are on system catalogs, which are left out, and they never go through
the execute wrappers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation

from schemaops.lint.django_migrations.source import MigrationSource, migration_path
from schemaops.locking import classify, transactions
from schemaops.locking.errors import first_line, original_error, server_details
from schemaops.scripts.runner import Step
from schemaops.trace.poller import Poller
from schemaops.trace.records import LOCKS_HELD, Lock, Relation, TracedStatement, Where, strength

# The runner's bookkeeping statements that cannot change a relfilenode.
_KEEPS_THE_CATALOG = re.compile(
    r"^(?:SELECT|INSERT|UPDATE|DELETE|SET|SHOW|SAVEPOINT|RELEASE)\b", re.I
)
_FIRST_USER_OID = 16384  # FirstNormalObjectId: below it, the system's own objects

_CATALOG = """
SELECT c.oid::int8, c.relfilenode::int8, n.nspname, c.relname, c.relkind::text,
       coalesce(i.indrelid, 0)::int8
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
"""


@dataclasses.dataclass(frozen=True)
class _Op:
    where: Where


class Tracer:
    """Trace the statements of ``steps`` run on database ``alias`` (``with
    tracer.installed():`` around the run); :attr:`statements` are what it saw.

    ``loader``: a migration loader of ``alias``, whose pending migrations' operations
    are wrapped for the block (Django's loader shares operation objects between
    loaders: they are the migration classes' own).
    """

    def __init__(self, alias: str, steps: list[Step], loader: MigrationLoader) -> None:
        self.alias = alias
        self.steps = steps
        self.loader = loader
        self.statements: list[TracedStatement] = []
        self._depth = 0
        self._operation: _Op | None = None
        self._deferred: dict[str, _Op] = {}
        self._expected: list[tuple[Where, str]] = []
        self._next = 0
        self._transaction = 0
        self._open: list[Lock] = []
        self._held: set[tuple[int, str]] = set()
        self._last_end = time.monotonic()
        self._relations: dict[int, Relation] = {}
        self._known: dict[int, tuple[int, Relation]] | None = None
        self._existed: set[int] = set()
        for number, step in enumerate(steps, start=1):
            if step.script is not None:
                path = str(step.script.path)
                for statement in step.script.parsed.up.statements:
                    where = Where(number, "sql", path, statement.line, statement.last_line)
                    self._expected.append((where, statement.text))

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.alias]

    @contextlib.contextmanager
    def installed(self) -> Iterator[Tracer]:
        """Trace every statement sent on ``alias``'s connection for the block."""
        connection = self.connection
        connection.ensure_connection()
        raw = connection.connection
        self._existed = set(self._catalog(raw))
        self._relations = {oid: relation for oid, (_, relation) in self._catalog(raw).items()}
        with contextlib.ExitStack() as stack:
            stack.callback(self._end_transaction, None)
            self._wrap_operations(stack)
            self._wrap_transaction_ends(connection, stack)
            stack.enter_context(connection.execute_wrapper(self._execute))
            yield self

    # Whose statement --------------------------------------------------------------

    def _wrap_operations(self, stack: contextlib.ExitStack) -> None:
        for number, step in enumerate(self.steps, start=1):
            if step.migration is None:
                continue
            migration = self.loader.graph.nodes[step.migration]
            source = MigrationSource(migration)
            path = str(migration_path(migration))
            lines = [source.operation((i,))[0] for i in range(len(migration.operations))]
            for index, operation in enumerate(migration.operations):
                last = lines[index + 1] - 1 if index + 1 < len(lines) else 10**9
                where = Where(
                    number, "django", path, lines[index], last, _describe(operation), index
                )
                self._wrap_operation(operation, _Op(where), stack)

    def _wrap_operation(self, operation: Operation, op: _Op, stack: contextlib.ExitStack) -> None:
        original = operation.database_forwards

        def forwards(app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> Any:
            outer, self._operation = self._operation, op
            deferred = len(schema_editor.deferred_sql)
            try:
                return original(app_label, schema_editor, from_state, to_state)
            finally:
                self._operation = outer
                for statement in schema_editor.deferred_sql[deferred:]:
                    self._deferred[str(statement).strip()] = op

        operation.database_forwards = forwards  # type: ignore[method-assign]
        stack.callback(operation.__dict__.pop, "database_forwards", None)

    def _where(self, text: str) -> Where | None:
        """Whose statement ``text`` is, or None for the runner's bookkeeping."""
        if self._operation is not None:
            return self._operation.where
        deferred = self._deferred.pop(text, None)
        if deferred is not None:
            where = deferred.where
            return dataclasses.replace(where, operation=f"{where.operation} (deferred SQL)")
        for index in range(self._next, len(self._expected)):
            where, expected = self._expected[index]
            if expected == text:
                self._next = index + 1
                return where
        # A unit run again (after lock_timeout): its statements from its first.
        if self._next:
            step = self._expected[self._next - 1][0].step
            for where, expected in self._expected[: self._next]:
                if where.step == step and expected == text:
                    return where
        return None

    # Transactions -------------------------------------------------------------------

    def _wrap_transaction_ends(
        self, connection: BaseDatabaseWrapper, stack: contextlib.ExitStack
    ) -> None:
        for name in ("commit", "rollback"):
            original: Callable[[], None] = getattr(connection, name)

            def ended(original: Callable[[], None] = original, name: str = name) -> None:
                try:
                    original()
                finally:
                    if name == "rollback":
                        self._known = None  # rewrites rolled back: relfilenodes went back
                    self._end_transaction(time.monotonic())

            setattr(connection, name, ended)
            stack.callback(connection.__dict__.pop, name, None)

    def _end_transaction(self, at: float | None) -> None:
        """The open transaction ended at ``at`` (now when None): its locks are released."""
        at = time.monotonic() if at is None else at
        for lock in self._open:
            if lock.released is None:
                lock.released = at
        self._open = []
        self._held = set()
        self._transaction += 1

    # Every statement ----------------------------------------------------------------

    def _execute(
        self,
        execute: Callable[..., Any],
        sql: Any,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        if self._depth or many:
            return execute(sql, params, many, context)
        text = str(sql).strip()
        where = None if transactions.is_transaction_control(text) else self._where(text)
        if where is None:
            if not _KEEPS_THE_CATALOG.match(text):
                self._known = None
            return execute(sql, params, many, context)
        self._depth += 1
        try:
            return self._traced(where, text, lambda: execute(sql, params, many, context))
        finally:
            self._depth -= 1

    def _traced(self, where: Where, text: str, run: Callable[[], Any]) -> Any:
        raw = self.connection.connection
        idle = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if idle and self._open:
            # Ended without commit() or rollback() (a script's own COMMIT).
            self._end_transaction(self._last_end)
        if idle:
            self._transaction += 1
        alone = idle and raw.autocommit
        outside = alone and (
            transactions.must_run_outside_transaction(text) is not None
            or classify.is_concurrently(text)
        )
        traced = TracedStatement(
            where, text, self._transaction, not alone, time.monotonic(), observed="session"
        )
        self.statements.append(traced)
        # The catalog as the last traced statement left it, unless something that may
        # have changed it ran since (half the catalog reads of a long plan).
        before = self._known if self._known is not None else self._catalog(raw)
        self._known = None
        poller = Poller(self.connection, raw.info.backend_pid, text) if outside else None
        if poller is not None:
            traced.observed = "polled"
            poller.start()
        elif alone:
            raw.execute("BEGIN")
        traced.started = time.monotonic()
        try:
            result = run()
        except BaseException as exc:
            traced.duration_ms = (time.monotonic() - traced.started) * 1000
            failure = original_error(exc)
            traced.error = f"{first_line(failure)}{server_details(failure)}"
            if poller is not None:
                self._taken(traced, poller.stop(), before, time.monotonic())
            elif alone:
                with contextlib.suppress(psycopg.Error):
                    raw.execute("ROLLBACK")
            if alone:
                self._transaction += 1  # it was a transaction of its own
            raise
        traced.duration_ms = (time.monotonic() - traced.started) * 1000
        if poller is not None:
            seen = poller.stop()
            ended = time.monotonic()
        else:
            seen = self._locks(raw)
        after = self._catalog(raw)
        self._known = after
        self._relations.update({oid: relation for oid, (_, relation) in after.items()})
        traced.rewritten = [
            after[oid][1]
            for oid, (filenode, _) in before.items()
            if oid in after and filenode and after[oid][0] and after[oid][0] != filenode
        ]
        if poller is None and alone:
            raw.execute("COMMIT")
            ended = time.monotonic()
        if alone:
            self._taken(traced, seen, before, ended)
            self._transaction += 1  # it was a transaction of its own
        else:
            self._taken(traced, seen, before, None)
        self._last_end = time.monotonic()
        return result

    def _taken(
        self,
        traced: TracedStatement,
        seen: set[tuple[int, str]],
        before: dict[int, tuple[int, Relation]],
        released: float | None,
    ) -> None:
        """Record the locks of ``seen`` that its transaction did not hold before it;
        ``released``: when they were released, None while its transaction runs."""
        earlier = {(lock.relation.oid, lock.mode): lock for lock in self._open}
        traced.kept = [earlier[held] for held in sorted(seen & self._held) if held in earlier]
        for oid, mode in sorted(seen - self._held, key=lambda held: (held[0], strength(held[1]))):
            relation = self._relations.get(oid) or (before[oid][1] if oid in before else None)
            if relation is None:
                continue  # a TOAST table, or one in a temporary schema: not the user's
            lock = Lock(relation, mode, traced.started, released)
            traced.locks.append(lock)
            if released is None:
                self._open.append(lock)
                self._held.add((oid, mode))

    # Reading the catalog --------------------------------------------------------------

    def _catalog(self, raw: psycopg.Connection[Any]) -> dict[int, tuple[int, Relation]]:
        """Every user relation's ``relfilenode`` and description, by oid."""
        with raw.cursor() as cursor:
            cursor.execute(_CATALOG)
            rows = cursor.fetchall()
        names = {int(row[0]): _display(row[2], row[3]) for row in rows}
        found: dict[int, tuple[int, Relation]] = {}
        for oid, filenode, _schema, _name, kind, table in rows:
            name = names[int(oid)]
            relation = Relation(
                int(oid),
                name,
                str(kind),
                names.get(int(table), name) if table else name,
                int(oid) in self._existed,
            )
            found[int(oid)] = (int(filenode), relation)
        return found

    def _locks(self, raw: psycopg.Connection[Any]) -> set[tuple[int, str]]:
        with raw.cursor() as cursor:
            cursor.execute(LOCKS_HELD, [raw.info.backend_pid])
            return {(int(oid), str(mode)) for oid, mode in cursor.fetchall()}


def _display(schema: str, name: str) -> str:
    return name if schema == "public" else f"{schema}.{name}"


def _describe(operation: Operation) -> str:
    try:
        return str(operation.describe())
    except Exception:  # a third-party operation's describe() may need state it lacks
        return type(operation).__name__
