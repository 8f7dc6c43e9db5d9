"""Linting Django migrations, with no database: walk the plan once, carrying the
project state forward with ``state_forwards`` only.

Each operation is read against the state before it: which models exist, which
were created in this migration (new tables are empty and unused), the fields'
old and new definitions, and the migration's real transaction (``atomic``,
``SeparateDatabaseAndState``'s database operations). ``RunSQL``'s own SQL goes
through the SQL rules with the same context. An operation this module does not
know (a third-party one) is rendered to SQL with a schema editor that collects
SQL and can never connect; where rendering needs the database, it is counted as
not rendered and left alone. Findings point at the operation's line in the
migration file, read with ``ast`` only for migrations that have findings.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from django.contrib.postgres import operations as pg_operations
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import operations as ops
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState
from django.db.models import NOT_PROVIDED, CheckConstraint, Field, Q, UniqueConstraint

from schemaops import statements
from schemaops.display import display
from schemaops.lint import rules
from schemaops.lint.config import LintConfig
from schemaops.lint.context import DEFAULT_PG_VERSION, LintContext
from schemaops.lint.database import database_context
from schemaops.lint.engine import Finding, lint_statements

MigrationKey = tuple[str, str]

_VARCHAR = re.compile(r"^varchar\((\d+)\)$")
_VOLATILE_EXPRESSIONS = {"Random", "RandomUUID", "UUID4", "UUID7"}
_VOLATILE_FUNCTION = re.compile(r"^(random|gen_random_uuid|uuid_generate_v[14]|clock_timestamp)$")


class NeedsDatabase(Exception):
    """Rendering an operation tried to reach the database."""


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


# Where operations are in the source ------------------------------------------


def migration_path(migration: Migration) -> Path:
    """The file ``migration`` was loaded from (its findings' path)."""
    module = sys.modules.get(type(migration).__module__)
    file = getattr(module, "__file__", None)
    path = Path(file) if file else Path(type(migration).__module__.replace(".", "/"))
    return path.with_suffix(".py") if path.suffix == ".pyc" else path


class _Source:
    """Lines of a migration's operations, read from its file on demand."""

    def __init__(self, migration: Migration) -> None:
        self.path = migration_path(migration)
        self.display = display(self.path)

    @cached_property
    def text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    @cached_property
    def _positions(self) -> tuple[dict[tuple[int, ...], ast.AST], int, int]:
        """Operation nodes by index path, the class's line, the suppression's line."""
        nodes: dict[tuple[int, ...], ast.AST] = {}
        class_line = ignore_line = 1
        try:
            tree = ast.parse(self.text)
        except (SyntaxError, ValueError):
            return nodes, class_line, ignore_line
        for top in tree.body:
            if not (isinstance(top, ast.ClassDef) and top.name == "Migration"):
                continue
            class_line = ignore_line = top.lineno
            for statement in top.body:
                if not isinstance(statement, ast.Assign | ast.AnnAssign):
                    continue
                targets = (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                if "schemaops_lint_ignore" in names:
                    ignore_line = statement.lineno
                if "operations" in names and isinstance(statement.value, ast.List | ast.Tuple):
                    self._collect(statement.value, (), nodes)
        return nodes, class_line, ignore_line

    def _collect(
        self,
        sequence: ast.List | ast.Tuple,
        prefix: tuple[int, ...],
        nodes: dict[tuple[int, ...], ast.AST],
    ) -> None:
        for index, element in enumerate(sequence.elts):
            nodes[(*prefix, index)] = element
            if isinstance(element, ast.Call):
                for keyword in element.keywords:
                    if keyword.arg == "database_operations" and isinstance(
                        keyword.value, ast.List | ast.Tuple
                    ):
                        self._collect(keyword.value, (*prefix, index), nodes)

    def operation(self, path: tuple[int, ...]) -> tuple[int, int]:
        """(line, column) of the operation at ``path``, else of the nearest enclosing one."""
        nodes, class_line, _ = self._positions
        while path:
            node = nodes.get(path)
            if node is not None:
                return getattr(node, "lineno", class_line), getattr(node, "col_offset", 0) + 1
            path = path[:-1]
        return class_line, 1

    def sql(self, path: tuple[int, ...], statement: statements.Statement) -> tuple[int, int]:
        """Where ``statement`` of a RunSQL at ``path`` is in the file, when it is there
        verbatim; else the operation's position."""
        line, column = self.operation(path)
        lines = self.text.split("\n")
        start = sum(len(text) + 1 for text in lines[: line - 1])
        found = self.text.find(statement.text, start)
        if found < 0:
            return line, column
        line = self.text.count("\n", 0, found) + 1
        return line, found - (self.text.rfind("\n", 0, found) + 1) + 1

    @property
    def ignore_line(self) -> int:
        return self._positions[2]


# The walk ---------------------------------------------------------------------


def _literal(value: object) -> str:
    """A parameter as a SQL literal, for the simple types; others need the server."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise NeedsDatabase


def _offline_connection(alias: str) -> BaseDatabaseWrapper:
    """A new wrapper for ``alias`` that renders SQL but can never connect.

    Django's PostgreSQL schema editor composes every statement through a server
    cursor (psycopg's mogrify), even one without parameters; this wrapper's
    editor collects the SQL itself instead, quoting simple parameters.
    """
    connection = connections.create_connection(alias)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NeedsDatabase

    def execute(editor: Any, sql: Any, params: Any = ()) -> None:
        text = str(sql)
        if params:
            text = text % tuple(_literal(value) for value in params)
        editor.collected_sql.append(text if text.rstrip().endswith(";") else f"{text};")

    base = connection.SchemaEditorClass
    connection.SchemaEditorClass = type("OfflineSchemaEditor", (base,), {"execute": execute})
    connection.ensure_connection = refuse  # type: ignore[method-assign]
    connection.connect = refuse  # type: ignore[method-assign]
    return connection


_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_$]*$")


def _as_regclass(table: str) -> str:
    """A Django ``db_table`` as ``to_regclass`` reads it (quoted unless it is lower case)."""
    if not table or _PLAIN_NAME.match(table):
        return table
    return '"' + table.replace('"', '""') + '"'


def _db_table(app_label: str, model_name_lower: str, db_table: object = None) -> str:
    """The model's table: ``Meta.db_table``, else Django's ``app_model``."""
    return str(db_table or f"{app_label}_{model_name_lower}")


def _column(name: str, field: Field[Any, Any]) -> str:
    if field.db_column:
        return str(field.db_column)
    if field.many_to_one or field.one_to_one:
        return f"{name}_id"
    return name


def _not_null_column(constraint: object) -> str | None:
    """The field name of ``CheckConstraint(condition=Q(field__isnull=False))``."""
    if not isinstance(constraint, CheckConstraint):
        return None
    condition = getattr(constraint, "condition", None) or getattr(constraint, "check", None)
    if isinstance(condition, Q) and not condition.negated and len(condition.children) == 1:
        child = condition.children[0]
        if isinstance(child, tuple) and child[0].endswith("__isnull") and child[1] is False:
            return str(child[0][: -len("__isnull")])
    return None


def _indexed(field: Field[Any, Any]) -> bool:
    """Whether Django gives the field's column an index of its own (db_index=True;
    a ForeignKey has it by default)."""
    return bool(getattr(field, "db_index", False))


def _volatile(expression: object) -> bool:
    name = type(expression).__name__
    function = str(getattr(expression, "function", "") or "")
    return name in _VOLATILE_EXPRESSIONS or bool(_VOLATILE_FUNCTION.match(function.lower()))


@dataclasses.dataclass
class _Unit:
    """One migration being linted."""

    migration: Migration
    source: _Source
    context: LintContext
    connection: BaseDatabaseWrapper
    created: set[str] = dataclasses.field(default_factory=set)
    found: list[tuple[str, tuple[int, ...], str, str, str]] = dataclasses.field(
        default_factory=list
    )
    # The table of the operation being judged, once _existing found its model.
    current_table: str = ""
    sql_findings: list[Finding] = dataclasses.field(default_factory=list)

    @property
    def app_label(self) -> str:
        return str(self.migration.app_label)


class MigrationLinter:
    """Walks a migration plan once and lints the migrations asked for."""

    def __init__(
        self,
        config: LintConfig,
        *,
        using: str = DEFAULT_DB_ALIAS,
        pg_version: int | None = None,
        facts: LintContext | None = None,
    ) -> None:
        self.config = config
        self.using = using
        self.connection = _offline_connection(using)
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
                for operation in migration.operations:
                    operation.state_forwards(app_label, state)
        return self.result

    def _lint_migration(self, migration: Migration, state: ProjectState) -> None:
        context = self.facts
        context.start_unit(atomic=bool(migration.atomic))
        unit = _Unit(migration, _Source(migration), context, self.connection)
        for index, operation in enumerate(migration.operations):
            self._operation(unit, operation, state, (index,))
            operation.state_forwards(unit.app_label, state)
        self.result.migrations += 1
        findings = [*self._op_findings(unit), *unit.sql_findings]
        findings = self._suppress(unit, findings)
        self.result.findings.extend(self.config.keep(findings))

    # One operation ------------------------------------------------------------

    def _operation(
        self, unit: _Unit, operation: Operation, state: ProjectState, path: tuple[int, ...]
    ) -> None:
        unit.current_table = ""
        if isinstance(operation, _DDL_ON_A_MODEL) and unit.context.in_transaction:
            # A later RunSQL backfill in this transaction holds this DDL's lock.
            name = getattr(operation, "model_name", None) or getattr(operation, "name", "")
            model = self._model(state, unit.app_label, str(name))
            if model is not None:
                unit.context.transaction_ddl_tables.add(self._table(unit.app_label, model))
        for cls in type(operation).__mro__:
            handler = _HANDLERS.get(cls)
            if handler is not None:
                handler(self, unit, operation, state, path)
                return
        if isinstance(operation, Operation) and not operation.reduces_to_sql:
            return  # RunPython and the like: no SQL to read
        self._render(unit, operation, state, path)

    def _render(
        self, unit: _Unit, operation: Operation, state: ProjectState, path: tuple[int, ...]
    ) -> None:
        """Render a third-party operation's SQL and lint it; skip it where that needs
        the database."""
        try:
            from_state = state.clone()
            to_state = state.clone()
            operation.state_forwards(unit.app_label, to_state)
            with unit.connection.schema_editor(collect_sql=True, atomic=False) as editor:
                operation.database_forwards(unit.app_label, editor, from_state, to_state)
            sql = "\n".join(editor.collected_sql)
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
        for finding in lint_statements(found, unit.source.display, unit.context):
            statement = next((s for s in found if s.line <= finding.line <= s.last_line), found[0])
            if verbatim:
                line, column = unit.source.sql(path, statement)
            else:
                line, column = unit.source.operation(path)
            unit.sql_findings.append(dataclasses.replace(finding, line=line, column=column))

    def _find(
        self, unit: _Unit, rule: str, path: tuple[int, ...], detail: str, message: str = ""
    ) -> None:
        """Record a finding of ``rule`` at the operation at ``path``; ``message``
        replaces the rule's where the SQL wording would mislead."""
        unit.found.append((rule, path, detail, message, unit.current_table))

    def _op_findings(self, unit: _Unit) -> Iterator[Finding]:
        for name, path, detail, own_message, table in unit.found:
            rule = rules.RULES[name]
            line, column = unit.source.operation(path)
            message = own_message or rule.message
            message = f"{message} ({detail})" if detail else message
            yield Finding(
                name,
                rule.severity,
                unit.source.display,
                line,
                column,
                message,
                rule.hint_for(True),
                _as_regclass(table),
            )

    def _suppress(self, unit: _Unit, findings: list[Finding]) -> list[Finding]:
        """Apply ``Migration.schemaops_lint_ignore = {"rule": "reason"}``."""
        ignore = getattr(unit.migration, "schemaops_lint_ignore", None) or {}
        if not isinstance(ignore, dict):
            ignore = {}
        line = unit.source.ignore_line if ignore else 0
        kept = [f for f in findings if not str(ignore.get(f.rule, "")).strip()]
        fired = {f.rule for f in findings}
        for rule, reason in ignore.items():
            if not str(reason).strip():
                kept.append(
                    Finding(
                        rules.MISSING_REASON,
                        rules.ERROR,
                        unit.source.display,
                        line,
                        1,
                        f"schemaops_lint_ignore[{rule!r}] has no reason, so it suppresses "
                        "nothing.",
                        'Say why the migration is safe: schemaops_lint_ignore = {"rule": '
                        '"reason"}.',
                    )
                )
            elif rule not in fired:
                unknown = "" if rule in rules.known_names() else " (unknown rule)"
                kept.append(
                    Finding(
                        rules.UNUSED_SUPPRESSION,
                        rules.WARNING,
                        unit.source.display,
                        line,
                        1,
                        f"schemaops_lint_ignore[{rule!r}] suppresses nothing{unknown}.",
                        "Remove the entry.",
                    )
                )
        return sorted(kept, key=lambda f: (f.line, f.column, f.rule))

    # Facts about the state ------------------------------------------------------

    @staticmethod
    def _model(state: ProjectState, app_label: str, name: str) -> ModelState | None:
        return state.models.get((app_label, name.lower()))

    def _existing(self, unit: _Unit, state: ProjectState, name: str) -> ModelState | None:
        """The model's state when it existed before this migration and Django manages
        its table; None otherwise (new, unmanaged, proxy or unknown: nothing to lock)."""
        model = self._model(state, unit.app_label, name)
        if (
            model is None
            or name.lower() in unit.created
            or model.options.get("managed", True) is False
            or model.options.get("proxy")
        ):
            return None
        table = self._table(unit.app_label, model)
        if unit.context.carry_created and unit.context.created_here(table):
            return None  # created by an earlier migration of this deploy: new and empty
        unit.current_table = table
        return model

    @staticmethod
    def _table(app_label: str, model: ModelState) -> str:
        return _db_table(app_label, model.name_lower, model.options.get("db_table"))

    def _db_type(self, field: Field[Any, Any]) -> str | None:
        """The column type Django would use, or None when that needs more than the
        field (a relation's target, or a database)."""
        if field.is_relation:
            return None
        try:
            value = field.db_type(self.connection)
        except Exception:  # custom fields may need a rendered model
            return None
        return None if value is None else str(value)


# Handlers: one per operation class ---------------------------------------------

_DDL_ON_A_MODEL = (
    ops.AddField,
    ops.AlterField,
    ops.RemoveField,
    ops.RenameField,
    ops.AddIndex,
    ops.RemoveIndex,
    ops.AddConstraint,
    ops.RemoveConstraint,
    ops.AlterUniqueTogether,
)

_Handler = Callable[[MigrationLinter, _Unit, Any, ProjectState, tuple[int, ...]], None]
_HANDLERS: dict[type, _Handler] = {}


def _handles(*classes: type | None) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        for cls in classes:
            if cls is not None:
                _HANDLERS[cls] = handler
        return handler

    return register


@_handles(ops.CreateModel)
def _create_model(
    linter: MigrationLinter, unit: _Unit, op: ops.CreateModel, state: ProjectState, path: Any
) -> None:
    unit.created.add(op.name_lower)
    table = _db_table(unit.app_label, op.name_lower, op.options.get("db_table"))
    unit.context.created_tables.add(table)


@_handles(ops.DeleteModel)
def _delete_model(
    linter: MigrationLinter, unit: _Unit, op: ops.DeleteModel, state: ProjectState, path: Any
) -> None:
    model = linter._existing(unit, state, op.name)
    if model is not None:
        linter._find(unit, "ban-drop-table", path, f"table {linter._table(unit.app_label, model)}")


@_handles(ops.RenameModel)
def _rename_model(
    linter: MigrationLinter, unit: _Unit, op: ops.RenameModel, state: ProjectState, path: Any
) -> None:
    old = linter._model(state, unit.app_label, op.old_name)
    if old is not None and not old.options.get("db_table"):
        # A table created in this unit (or, pending, in this deploy) is still new
        # under its new name.
        if op.old_name_lower in unit.created:
            unit.created.add(op.new_name_lower)
        if unit.context.created_here(_db_table(unit.app_label, op.old_name_lower)):
            unit.context.created_tables.add(_db_table(unit.app_label, op.new_name_lower))
    model = linter._existing(unit, state, op.old_name)
    if model is not None and not model.options.get("db_table"):
        linter._find(
            unit,
            "renaming-table",
            path,
            f"{_db_table(unit.app_label, op.old_name_lower)} to "
            f"{_db_table(unit.app_label, op.new_name_lower)}",
        )


@_handles(ops.AlterModelTable)
def _alter_model_table(
    linter: MigrationLinter, unit: _Unit, op: ops.AlterModelTable, state: ProjectState, path: Any
) -> None:
    model = linter._existing(unit, state, op.name)
    if model is not None:
        old = linter._table(unit.app_label, model)
        new = _db_table(unit.app_label, op.name_lower, op.table)
        if old != new:
            linter._find(unit, "renaming-table", path, f"{old} to {new}")


@_handles(ops.AddField)
def _add_field(
    linter: MigrationLinter, unit: _Unit, op: ops.AddField, state: ProjectState, path: Any
) -> None:
    model = linter._existing(unit, state, op.model_name)
    field = op.field
    if model is None or field.many_to_many:
        return
    where = f"{op.model_name_lower}.{op.name}"
    db_default = getattr(field, "db_default", NOT_PROVIDED)
    generated = type(field).__name__ == "GeneratedField"
    if field.primary_key:
        linter._find(unit, "adding-serial-primary-key-field", path, where)
    elif generated:
        if getattr(field, "db_persist", False):
            linter._find(
                unit, "adding-field-with-default", path, f"{where} is a stored GeneratedField"
            )
    elif db_default is not NOT_PROVIDED:
        if _volatile(db_default):
            linter._find(
                unit, "adding-field-with-default", path, f"{where} db_default is volatile"
            )
    elif not field.null:
        linter._find(
            unit,
            "adding-required-field",
            path,
            where,
            "A NOT NULL field without db_default: Django fills existing rows with a temporary "
            "default and drops it, so inserts by the code still running fail.",
        )
    if field.unique and not field.primary_key:
        linter._find(unit, "disallowed-unique-constraint", path, where)
    elif _indexed(field) and not field.primary_key:
        linter._find(unit, "require-concurrent-index-creation", path, f"index on {where}")
    if field.remote_field is not None and getattr(field, "db_constraint", False):
        linter._find(unit, "adding-foreign-key-constraint", path, where)


@_handles(ops.RemoveField)
def _remove_field(
    linter: MigrationLinter, unit: _Unit, op: ops.RemoveField, state: ProjectState, path: Any
) -> None:
    model = linter._existing(unit, state, op.model_name)
    if model is None:
        return
    field = model.fields.get(op.name)
    if field is not None and field.many_to_many:
        linter._find(
            unit, "ban-drop-table", path, f"join table of {op.model_name_lower}.{op.name}"
        )
    else:
        linter._find(unit, "ban-drop-column", path, f"{op.model_name_lower}.{op.name}")


@_handles(ops.RenameField)
def _rename_field(
    linter: MigrationLinter, unit: _Unit, op: ops.RenameField, state: ProjectState, path: Any
) -> None:
    model = linter._existing(unit, state, op.model_name)
    if model is None:
        return
    field = model.fields.get(op.old_name)
    if field is not None and not field.db_column and not field.many_to_many:
        linter._find(
            unit, "renaming-column", path, f"{op.model_name_lower}.{op.old_name} to {op.new_name}"
        )


@_handles(ops.AlterField)
def _alter_field(
    linter: MigrationLinter, unit: _Unit, op: ops.AlterField, state: ProjectState, path: Any
) -> None:
    model = linter._existing(unit, state, op.model_name)
    if model is None:
        return
    old = model.fields.get(op.name)
    new = op.field
    if old is None or new.many_to_many:
        return
    where = f"{op.model_name_lower}.{op.name}"
    old_type, new_type = linter._db_type(old), linter._db_type(new)
    if (
        old_type
        and new_type
        and old_type != new_type
        and not _binary_coercible(old_type, new_type)
    ):
        linter._find(unit, "changing-column-type", path, f"{where}: {old_type} to {new_type}")
    if old.null and not new.null:
        table = linter._table(unit.app_label, model)
        if not (
            unit.context.pg_version >= 12
            and unit.context.has_validated_not_null(table, _column(op.name, new))
        ):
            linter._find(unit, "adding-not-nullable-field", path, where)
    if new.unique and not old.unique and not new.primary_key:
        linter._find(unit, "disallowed-unique-constraint", path, where)
    elif _indexed(new) and not (_indexed(old) or old.unique) and not new.unique:
        linter._find(unit, "require-concurrent-index-creation", path, f"index on {where}")
    if (
        new.remote_field is not None
        and getattr(new, "db_constraint", False)
        and not (old.remote_field is not None and getattr(old, "db_constraint", False))
    ):
        linter._find(unit, "adding-foreign-key-constraint", path, where)


def _binary_coercible(old: str, new: str) -> bool:
    """A change PostgreSQL makes without a rewrite or a scan: a longer varchar, or
    varchar to text."""
    old_match = _VARCHAR.match(old)
    if old_match and new == "text":
        return True
    new_match = _VARCHAR.match(new)
    return bool(old_match and new_match and int(new_match[1]) >= int(old_match[1]))


@_handles(ops.AlterUniqueTogether)
def _alter_unique_together(
    linter: MigrationLinter, unit: _Unit, op: Any, state: ProjectState, path: Any
) -> None:
    _together(linter, unit, op, state, path, "unique_together", "disallowed-unique-constraint")


@_handles(getattr(ops, "AlterIndexTogether", None))
def _alter_index_together(
    linter: MigrationLinter, unit: _Unit, op: Any, state: ProjectState, path: Any
) -> None:
    _together(linter, unit, op, state, path, "index_together", "require-concurrent-index-creation")


def _together(
    linter: MigrationLinter,
    unit: _Unit,
    op: Any,
    state: ProjectState,
    path: Any,
    option: str,
    rule: str,
) -> None:
    model = linter._existing(unit, state, op.name)
    if model is None:
        return
    old = {tuple(names) for names in model.options.get(option) or ()}
    for names in sorted(set(op.option_value or ()) - old):
        linter._find(unit, rule, path, f"{op.name_lower} ({', '.join(names)})")


@_handles(ops.AddIndex)
def _add_index(
    linter: MigrationLinter, unit: _Unit, op: ops.AddIndex, state: ProjectState, path: Any
) -> None:
    if linter._existing(unit, state, op.model_name) is not None:
        linter._find(unit, "require-concurrent-index-creation", path, f"index {op.index.name}")


@_handles(ops.RemoveIndex)
def _remove_index(
    linter: MigrationLinter, unit: _Unit, op: ops.RemoveIndex, state: ProjectState, path: Any
) -> None:
    if linter._existing(unit, state, op.model_name) is not None:
        linter._find(unit, "require-concurrent-index-deletion", path, f"index {op.name}")


@_handles(pg_operations.AddIndexConcurrently, pg_operations.RemoveIndexConcurrently)
def _concurrently(
    linter: MigrationLinter, unit: _Unit, op: Any, state: ProjectState, path: Any
) -> None:
    if unit.migration.atomic:
        linter._find(unit, "ban-concurrent-index-creation-in-transaction", path, type(op).__name__)


@_handles(ops.AddConstraint)
def _add_constraint(
    linter: MigrationLinter, unit: _Unit, op: ops.AddConstraint, state: ProjectState, path: Any
) -> None:
    model = linter._existing(unit, state, op.model_name)
    constraint = op.constraint
    if model is None:
        return
    _remember_not_null(linter, unit, model, constraint, validated=True)
    if isinstance(constraint, UniqueConstraint):
        linter._find(unit, "disallowed-unique-constraint", path, f"constraint {constraint.name}")
    elif isinstance(constraint, CheckConstraint):
        linter._find(unit, "constraint-missing-not-valid", path, f"constraint {constraint.name}")
    unit.context.transaction_constraints.add(constraint.name)


@_handles(pg_operations.AddConstraintNotValid)
def _add_constraint_not_valid(
    linter: MigrationLinter, unit: _Unit, op: Any, state: ProjectState, path: Any
) -> None:
    model = linter._model(state, unit.app_label, op.model_name)
    if model is not None:
        _remember_not_null(linter, unit, model, op.constraint, validated=False)
    unit.context.transaction_constraints.add(op.constraint.name)


@_handles(pg_operations.ValidateConstraint)
def _validate_constraint(
    linter: MigrationLinter, unit: _Unit, op: Any, state: ProjectState, path: Any
) -> None:
    if unit.context.in_transaction and unit.context.added_in_this_transaction(op.name):
        linter._find(
            unit, "validate-constraint-in-same-transaction", path, f"constraint {op.name}"
        )
    pair = unit.context.not_null_checks.get(op.name)
    if pair is not None:
        unit.context.validated_not_null.add(pair)


def _remember_not_null(
    linter: MigrationLinter, unit: _Unit, model: ModelState, constraint: object, *, validated: bool
) -> None:
    name = _not_null_column(constraint)
    field = model.fields.get(name) if name else None
    if name is None or field is None:
        return
    pair = (linter._table(unit.app_label, model), _column(name, field))
    unit.context.not_null_checks[str(getattr(constraint, "name", ""))] = pair
    if validated:
        unit.context.validated_not_null.add(pair)


@_handles(ops.RunSQL)
def _run_sql(
    linter: MigrationLinter, unit: _Unit, op: ops.RunSQL, state: ProjectState, path: Any
) -> None:
    if op.sql == ops.RunSQL.noop:
        return
    parts = op.sql if isinstance(op.sql, list | tuple) else [op.sql]
    for part in parts:
        sql = part[0] if isinstance(part, list | tuple) else part
        if isinstance(sql, str) and sql.strip():
            linter._lint_sql(unit, sql, path, verbatim=True)


@_handles(ops.SeparateDatabaseAndState)
def _separate(
    linter: MigrationLinter,
    unit: _Unit,
    op: ops.SeparateDatabaseAndState,
    state: ProjectState,
    path: Any,
) -> None:
    # The database operations see a state of their own, as Django runs them.
    database_state = state.clone()
    for index, inner in enumerate(op.database_operations):
        linter._operation(unit, inner, database_state, (*path, index))
        inner.state_forwards(unit.app_label, database_state)


@_handles(
    ops.RunPython,
    ops.AlterModelOptions,
    ops.AlterModelManagers,
    ops.RemoveConstraint,
    ops.RenameIndex,
    ops.AlterOrderWithRespectTo,
    getattr(ops, "AlterModelTableComment", None),
    getattr(ops, "AlterConstraint", None),
)
def _nothing_to_lock(
    linter: MigrationLinter, unit: _Unit, op: Any, state: ProjectState, path: Any
) -> None:
    """Metadata, brief catalog changes, or Python code: nothing a rule can judge."""


def lint_migrations(
    config: LintConfig,
    *,
    app_labels: set[str] | None = None,
    using: str = DEFAULT_DB_ALIAS,
    pending: bool = False,
    pg_version: int | None = None,
) -> MigrationLintResult:
    """Lint the migrations of ``app_labels`` (every app: None) as planned for ``using``;
    ``pending`` reads the applied ones from the database and lints only the others."""
    connection = connections[using] if pending else None
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    applied = set(loader.applied_migrations or {}) if pending else None
    # Pending: the database's validated CHECK (col IS NOT NULL) constraints count too.
    facts = database_context(using, pg_version) if pending else None
    linter = MigrationLinter(config, using=using, pg_version=pg_version, facts=facts)
    return linter.lint(loader, app_labels, applied)
