"""Linting Django migrations, with no database: walk the plan once, carrying the
project state forward with ``state_forwards`` only.

Each operation is read against the state before it: which models exist, which
were created in this migration (new tables are empty and unused), the fields'
old and new definitions, and the migration's real transaction (``atomic``,
``SeparateDatabaseAndState``'s database operations). The rule families' checks
judge it (:mod:`schemaops.lint.rules`), then :mod:`.facts` records what it
changed. ``RunSQL``'s own SQL goes through the SQL rules with the same context.
An operation no rule knows (a third-party one) is rendered to SQL offline
(:mod:`.offline`); where rendering needs the database, it is counted as not
rendered and left alone. Findings point at the operation's line in the migration
file (:mod:`.source`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.migrations import operations as ops
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from schemaops import statements
from schemaops.display import display
from schemaops.lint import rules, suppressions
from schemaops.lint.config import LintConfig
from schemaops.lint.context import DEFAULT_PG_VERSION, LintContext
from schemaops.lint.database import database_context
from schemaops.lint.django_migrations.facts import (
    StateRemoval,
    record_facts,
    recorded_names,
    remember_state_removals,
    state_only_removals,
)
from schemaops.lint.django_migrations.offline import (
    NeedsDatabase,
    offline_connection,
    render_sql,
)
from schemaops.lint.django_migrations.operation import (
    MigrationUnit,
    OperationCheck,
    as_regclass,
    checks_by_class,
    forward,
    operation_class,
)
from schemaops.lint.django_migrations.source import MigrationSource, migration_path
from schemaops.lint.engine import lint_statements
from schemaops.lint.findings import Finding

if TYPE_CHECKING:
    from schemaops.lint.changes import Changed

MigrationKey = tuple[str, str]

# Operations no rule judges: metadata, brief catalog changes, or Python code.
_NOTHING_TO_JUDGE = (
    "RunPython",
    "AlterModelOptions",
    "AlterModelManagers",
    "RenameIndex",
    "AlterOrderWithRespectTo",
    "AlterModelTableComment",
    "AlterConstraint",
)


@dataclasses.dataclass
class MigrationLintResult:
    """What linting the migrations found."""

    findings: list[Finding] = dataclasses.field(default_factory=list)
    migrations: int = 0
    not_rendered: list[str] = dataclasses.field(default_factory=list)
    """Third-party operations whose SQL could not be rendered without a database."""


def plan_order(graph: MigrationGraph) -> list[MigrationKey]:
    """Every migration of ``graph`` in an order Django could apply them: each after
    its parents. One depth-first pass over all nodes (linear)."""
    order: list[MigrationKey] = []
    done: set[MigrationKey] = set()
    for leaf in sorted(graph.leaf_nodes()):
        stack: list[tuple[MigrationKey, bool]] = [(leaf, False)]
        while stack:
            key, expanded = stack.pop()
            if key in done:
                continue
            if expanded:
                done.add(key)
                order.append(key)
                continue
            stack.append((key, True))
            stack.extend(
                (parent.key, False)
                for parent in sorted(graph.node_map[key].parents, reverse=True)
                if parent.key not in done
            )
    return order


@cache
def _judged_classes() -> frozenset[type]:
    """The operation classes read here (by a check, a fact or as known to need
    nothing), so a subclass of one is never rendered or read as its parent."""
    names = {*rules.OPERATION_CHECKS, *recorded_names(), *_NOTHING_TO_JUDGE}
    return frozenset(cls for name in names if (cls := operation_class(name)) is not None)


def _where(migration: Migration, path: tuple[int, ...]) -> str:
    """``app.0002_x operation 3`` (``operation 3.1``: inside a SeparateDatabaseAndState)."""
    number = ".".join(str(index + 1) for index in path)
    name = f"{migration.app_label}.{migration.name}"
    return f"{display(migration_path(migration))}: {name} operation {number}"


@dataclasses.dataclass
class _Unit:
    """One migration being linted, with where its operations are."""

    migration: Migration
    source: MigrationSource
    shared: MigrationUnit
    sql_findings: list[Finding] = dataclasses.field(default_factory=list)
    state_removals: list[StateRemoval] = dataclasses.field(default_factory=list)
    """What this migration removed from the models only, for the later ones."""

    @property
    def app_label(self) -> str:
        return self.shared.app_label


class MigrationLinter:
    """Walks a migration plan once and lints the migrations asked for."""

    def __init__(
        self,
        config: LintConfig,
        *,
        using: str = DEFAULT_DB_ALIAS,
        pg_version: int | None = None,
        facts: LintContext | None = None,
        only: Changed | None = None,
    ) -> None:
        self.config = config
        self.only = only
        self.using = using
        self.connection = offline_connection(using)
        self.result = MigrationLintResult()
        # What outlives a migration (validated CHECK (col IS NOT NULL) constraints),
        # carried across migrations; ``facts`` starts from the database's.
        if facts is None:
            facts = LintContext(pg_version=pg_version or config.pg_version or DEFAULT_PG_VERSION)
        elif pg_version is not None:
            facts.pg_version = pg_version
        facts.django = True
        self.facts = facts

    def lint(
        self,
        loader: MigrationLoader,
        app_labels: set[str] | None = None,
        applied: set[MigrationKey] | None = None,
    ) -> MigrationLintResult:
        """Lint the migrations of ``app_labels`` (all apps: None) in plan order; with
        ``applied``, only the others (the pending ones)."""
        state = ProjectState(real_apps=set(loader.unmigrated_apps))
        allowed: dict[str, bool] = {}
        for key in plan_order(loader.graph):
            migration = loader.graph.nodes[key]
            app_label = key[0]
            if app_label not in allowed:
                allowed[app_label] = bool(router.allow_migrate(self.using, app_label))
            selected = (
                (app_labels is None or app_label in app_labels)
                and (applied is None or key not in applied)
                and allowed[app_label]
            )
            if selected:
                self._lint_migration(migration, state)
            else:
                for index, operation in enumerate(migration.operations):
                    removals = state_only_removals(operation, app_label, state)
                    remember_state_removals(removals, self.facts)
                    forward(operation, app_label, state, _where(migration, (index,)))
        return self.result

    def _lint_migration(self, migration: Migration, state: ProjectState) -> None:
        context = self.facts
        context.start_unit(atomic=bool(migration.atomic))
        shared = MigrationUnit(
            str(migration.app_label), bool(migration.atomic), context, self.connection
        )
        unit = _Unit(migration, MigrationSource(migration), shared)
        for index, operation in enumerate(migration.operations):
            self._operation(unit, operation, state, (index,))
            forward(operation, unit.app_label, state, _where(migration, (index,)))
        if self.only is not None and not self.only.covers(unit.source.path):
            return  # context for the changed migrations after it, not reported
        self.result.migrations += 1
        # A staged drop needs a deploy between its steps. Pending migrations run in
        # one deploy, so only an applied one's state removal counts then.
        if not context.carry_created:
            remember_state_removals(unit.state_removals, context)
        findings = [*self._op_findings(unit), *unit.sql_findings]
        findings = suppressions.apply_migration_ignore(
            findings, migration, unit.source.display, lambda: unit.source.ignore_line
        )
        self.result.findings.extend(self.config.keep(findings))

    def _operation(
        self, unit: _Unit, operation: Operation, state: ProjectState, path: tuple[int, ...]
    ) -> None:
        if isinstance(operation, ops.RunSQL):
            self._run_sql(unit, operation, path)
            return
        if isinstance(operation, ops.SeparateDatabaseAndState):
            self._separate(unit, operation, state, path)
            return
        check = OperationCheck(unit.shared, state, path)
        judged = _judged_classes()
        handled_as = next((cls for cls in type(operation).__mro__ if cls in judged), None)
        if handled_as is not None:
            for judge in checks_by_class().get(handled_as, ()):
                judge(operation, check)
        elif not (isinstance(operation, Operation) and not operation.reduces_to_sql):
            self._render(unit, operation, state, path)
        record_facts(operation, handled_as, check)

    def _run_sql(self, unit: _Unit, op: ops.RunSQL, path: tuple[int, ...]) -> None:
        if op.sql == ops.RunSQL.noop:
            return
        parts = op.sql if isinstance(op.sql, list | tuple) else [op.sql]
        for part in parts:
            sql = part[0] if isinstance(part, list | tuple) else part
            if isinstance(sql, str) and sql.strip():
                self._lint_sql(unit, sql, path, verbatim=True)

    def _separate(
        self,
        unit: _Unit,
        op: ops.SeparateDatabaseAndState,
        state: ProjectState,
        path: tuple[int, ...],
    ) -> None:
        if len(path) == 1:  # the models' state (a nested one's is the database's)
            unit.state_removals.extend(state_only_removals(op, unit.app_label, state))
        # The database operations see a state of their own, as Django runs them.
        database_state = state.clone()
        for index, inner in enumerate(op.database_operations):
            self._operation(unit, inner, database_state, (*path, index))
            forward(inner, unit.app_label, database_state, _where(unit.migration, (*path, index)))

    def _render(
        self, unit: _Unit, operation: Operation, state: ProjectState, path: tuple[int, ...]
    ) -> None:
        """Lint a third-party operation's SQL; skip it where rendering it needs the
        database."""
        try:
            sql = render_sql(operation, unit.app_label, state, unit.shared.connection)
        except Exception as exc:  # any failure means "cannot render here"
            reason = "needs a database" if isinstance(exc, NeedsDatabase) else type(exc).__name__
            self.result.not_rendered.append(
                f"{unit.app_label}.{unit.migration.name} operation {path[0] + 1} "
                f"({type(operation).__name__}): {reason}"
            )
            return
        self._lint_sql(unit, sql, path, verbatim=False)

    def _lint_sql(self, unit: _Unit, sql: str, path: tuple[int, ...], *, verbatim: bool) -> None:
        found = statements.split(sql)
        for finding in lint_statements(found, unit.source.display, unit.shared.context):
            statement = next((s for s in found if s.line <= finding.line <= s.last_line), found[0])
            if verbatim:
                line, column = unit.source.sql(path, statement)
            else:
                line, column = unit.source.operation(path)
            unit.sql_findings.append(finding._replace(line=line, column=column))

    def _op_findings(self, unit: _Unit) -> Iterator[Finding]:
        for found in unit.shared.found:
            rule = rules.RULES[found.rule]
            line, column = unit.source.operation(found.path)
            message = found.message or rule.message
            message = f"{message} ({found.detail})" if found.detail else message
            yield Finding(
                rule.name,
                rule.severity,
                unit.source.display,
                line,
                column,
                message,
                found.hint or rule.hint_for(True),
                as_regclass(found.table),
            )


def lint_migrations(
    config: LintConfig,
    *,
    app_labels: set[str] | None = None,
    using: str = DEFAULT_DB_ALIAS,
    pending: bool = False,
    pg_version: int | None = None,
    only: Changed | None = None,
) -> MigrationLintResult:
    """Lint the migrations of ``app_labels`` (every app: None) as planned for ``using``;
    ``pending`` reads the applied ones from the database and lints only the others;
    ``only`` reports only the migration files it covers (the rest are context)."""
    connection = connections[using] if pending else None
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    applied = set(loader.applied_migrations or {}) if pending else None
    # Pending: the database's validated CHECK (col IS NOT NULL) constraints count too.
    facts = database_context(using, pg_version) if pending else None
    linter = MigrationLinter(config, using=using, pg_version=pg_version, facts=facts, only=only)
    return linter.lint(loader, app_labels, applied)
