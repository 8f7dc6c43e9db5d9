"""The SQL of pending Django migrations, as ``sqlmigrate`` prints it, for a whole plan
in one pass.

``sqlmigrate`` renders one migration: it builds the project state of the
migration's ancestors (a walk of the graph) and collects the SQL its operations
would send. Once per migration, that is quadratic in the length of the plan.
Here the state is built once, as Django's executor builds it before a run
(every applied migration), and carried forward through the pending ones in plan
order, each migration's SQL collected by a schema editor in ``collect_sql`` mode,
as Django's own ``MigrationLoader.collect_sql`` does.

The editor works on the real connection: Django's PostgreSQL editor quotes each
statement's parameters through the server connection, and some operations read
the catalog (the name of the index or constraint they drop). The session is made
read-only while it renders, so rendering can change nothing.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from schemaops.lint.django_migrations.source import MigrationSource
from schemaops.lint.django_migrations.walk import plan_order

MigrationKey = tuple[str, str]


@dataclasses.dataclass(frozen=True)
class CollectedLine:
    """One line of a migration's SQL as ``sqlmigrate`` prints it: a statement, or a
    ``--`` comment (Django's own: ``-- (no-op)``, ``-- THIS OPERATION CANNOT BE
    WRITTEN AS SQL``; or schemaops's, where rendering failed).

    ``operation``: the description of the operation that sent it (Django's
    ``describe()``), ``None`` for the SQL Django defers to the end of the
    migration; ``line``: that operation's line in the migration file.
    """

    sql: str
    operation: str | None = None
    line: int | None = None
    heading: bool = False
    """One of the three comment lines Django puts above each operation."""


def collect_plan(
    loader: MigrationLoader,
    planned: Iterable[MigrationKey],
    using: str = DEFAULT_DB_ALIAS,
) -> dict[MigrationKey, list[CollectedLine]]:
    """Return the SQL each migration of ``planned`` (pending, in plan order) sends,
    rendered from the state every applied migration of ``loader`` leaves, then
    carried forward migration by migration.

    An operation whose rendering fails (it reads the database, where the steps
    before it have not run yet) gets a comment saying why; the ones after it are
    rendered all the same.
    """
    planned = list(planned)
    connection = connections[using]
    graph = loader.graph
    applied = {key for key in loader.applied_migrations or {} if key in graph.nodes}
    pending = set(planned)
    state = ProjectState(real_apps=set(loader.unmigrated_apps))
    for key in plan_order(graph):
        if key in applied and key not in pending:
            graph.nodes[key].mutate_state(state, preserve=False)
    # Rendered once: each operation clones the state, and a clone of rendered
    # models is cheap where rendering them anew is not (Django's executor does
    # the same before a run).
    state.apps  # noqa: B018
    collected: dict[MigrationKey, list[CollectedLine]] = {}
    with _read_only(connection):
        for key in planned:
            collected[key] = _collect_migration(graph.nodes[key], state, using)
    return collected


@contextmanager
def _read_only(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Make every transaction of the session read-only for the block.

    The session's default, not one transaction around everything: a non-atomic
    migration is rendered outside a transaction, as Django runs it (some
    operations refuse to render inside one, ``AddIndexConcurrently``).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('default_transaction_read_only'),"
            " set_config('default_transaction_read_only', 'on', false)"
        )
        row = cursor.fetchone()
    assert row is not None
    try:
        yield
    finally:
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('default_transaction_read_only', %s, false)", [row[0]]
                )


def _collect_migration(
    migration: Migration, state: ProjectState, using: str
) -> list[CollectedLine]:
    """Collect ``migration``'s SQL, advancing ``state`` past it."""
    connection = connections[using]
    source = MigrationSource(migration)
    result: list[CollectedLine] = []
    with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
        for index, operation in enumerate(migration.operations):
            line = source.operation((index,))[0]
            description = operation.describe()
            start = len(editor.collected_sql)
            failure = _collect_operation(migration, operation, state, editor, using)
            lines = [str(text) for text in editor.collected_sql[start:]]
            heading = _heading_length(lines)
            result.extend(CollectedLine(text, description, line, True) for text in lines[:heading])
            result.extend(CollectedLine(text, description, line) for text in lines[heading:])
            if failure is not None:
                result.append(CollectedLine(failure, description, line))
        deferred_from = len(editor.collected_sql)
    # The editor sends what it deferred (foreign keys, some indexes) as it closes.
    result.extend(CollectedLine(str(text)) for text in editor.collected_sql[deferred_from:])
    return result


def _collect_operation(
    migration: Migration,
    operation: Operation,
    state: ProjectState,
    editor: BaseDatabaseSchemaEditor,
    using: str,
) -> str | None:
    """Collect one operation's SQL into ``editor`` through Django's own
    ``Migration.apply`` (its comments, its transaction handling), advancing ``state``;
    return the comment to show if rendering it failed."""
    # A copy of the migration holding this operation alone: Django's apply() then
    # writes exactly what it writes for the whole migration, one operation at a
    # time, so a failure is known by its operation and the others still render.
    single = copy.copy(migration)
    single.operations = [operation]  # type: ignore[misc]  # on the copy, not the class
    try:
        if editor.connection.in_atomic_block:
            # A savepoint: a failed catalog read leaves the migration's transaction usable.
            with transaction.atomic(using=using):
                single.apply(state, editor, collect_sql=True)
        else:
            single.apply(state, editor, collect_sql=True)
    except Exception as exc:  # any failure of a third party's code: say so, go on
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        return (
            f"-- schemaops: the SQL of this operation cannot be rendered here ({reason}); "
            "it may read the database, where the steps before it have not run yet."
        )
    return None


def _heading_length(lines: list[str]) -> int:
    """How many of an operation's ``lines`` are Django's heading (``--``, ``-- What it
    does``, ``--``)."""
    if len(lines) >= 3 and lines[0] == "--" and lines[1].startswith("-- ") and lines[2] == "--":
        return 3
    return 0
