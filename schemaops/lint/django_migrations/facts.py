"""What a Django operation changes that later ones are judged by: tables created,
constraints added and validated, DDL held in the migration's transaction.

Recorded after the operation's checks, apart from judging, as
:meth:`LintContext.after` does for a SQL statement.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from schemaops.lint.django_migrations.operation import (
    OperationCheck,
    column_name,
    db_table,
    join_table,
    operation_class,
)

if TYPE_CHECKING:
    from django.db.migrations.state import ModelState, ProjectState

    from schemaops.lint.context import LintContext

StateRemoval = tuple[str, str | None]
"""A table and column (None: the table itself) removed from the models only."""

_Recorder = Callable[[Any, OperationCheck], None]
_RECORDERS: dict[str, _Recorder] = {}

# The operations whose lock a later RunSQL backfill in the same transaction holds.
_DDL_ON_A_MODEL = (
    "AddField",
    "AlterField",
    "RemoveField",
    "RenameField",
    "AddIndex",
    "RemoveIndex",
    "AddConstraint",
    "RemoveConstraint",
    "AlterUniqueTogether",
)


def _records(*operations: str) -> Callable[[_Recorder], _Recorder]:
    def register(recorder: _Recorder) -> _Recorder:
        for operation in operations:
            _RECORDERS[operation] = recorder
        return recorder

    return register


def record_facts(operation: Any, handled_as: type | None, check: OperationCheck) -> None:
    """Carry forward what ``operation`` did; ``handled_as`` is the class its checks
    were chosen by (None: no check read it)."""
    if check.context.in_transaction and isinstance(operation, _ddl_classes()):
        name = getattr(operation, "model_name", None) or getattr(operation, "name", "")
        model = check.model(str(name))
        if model is not None:
            check.context.transaction_ddl_tables.add(check.table_of(model))
    if handled_as is None:
        return
    recorder = _RECORDERS.get(handled_as.__name__)
    if recorder is not None and operation_class(handled_as.__name__) is handled_as:
        recorder(operation, check)


def recorded_names() -> frozenset[str]:
    """The operations (class names) something is recorded for."""
    return frozenset(_RECORDERS)


@cache
def _ddl_classes() -> tuple[type, ...]:
    return tuple(cls for name in _DDL_ON_A_MODEL if (cls := operation_class(name)) is not None)


@_records("CreateModel")
def _create_model(op: Any, check: OperationCheck) -> None:
    check.unit.created.add(op.name_lower)
    check.context.created_tables.add(
        db_table(check.app_label, op.name_lower, op.options.get("db_table"))
    )


@_records("RenameModel")
def _rename_model(op: Any, check: OperationCheck) -> None:
    old = check.model(op.old_name)
    if old is None or old.options.get("db_table"):
        return
    # A table created in this migration (or, pending, in this deploy) is still new
    # under its new name.
    if op.old_name_lower in check.unit.created:
        check.unit.created.add(op.new_name_lower)
    if check.context.created_here(db_table(check.app_label, op.old_name_lower)):
        check.context.created_tables.add(db_table(check.app_label, op.new_name_lower))


@_records("AddConstraint")
def _add_constraint(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    if model is None:
        return
    _remember_not_null(check, model, op.constraint, validated=True)
    check.context.transaction_constraints.add(op.constraint.name)


@_records("AddConstraintNotValid")
def _add_constraint_not_valid(op: Any, check: OperationCheck) -> None:
    model = check.model(op.model_name)
    if model is not None:
        _remember_not_null(check, model, op.constraint, validated=False)
    check.context.transaction_constraints.add(op.constraint.name)


@_records("ValidateConstraint")
def _validate_constraint(op: Any, check: OperationCheck) -> None:
    pair = check.context.not_null_checks.get(op.name)
    if pair is not None:
        check.context.validated_not_null.add(pair)


def _remember_not_null(
    check: OperationCheck, model: ModelState, constraint: object, *, validated: bool
) -> None:
    name = _not_null_column(constraint)
    field = model.fields.get(name) if name else None
    if name is None or field is None:
        return
    pair = (check.table_of(model), column_name(name, field))
    check.context.not_null_checks[str(getattr(constraint, "name", ""))] = pair
    if validated:
        check.context.validated_not_null.add(pair)


def _not_null_column(constraint: object) -> str | None:
    """The field name of ``CheckConstraint(condition=Q(field__isnull=False))``."""
    from django.db.models import CheckConstraint, Q

    if not isinstance(constraint, CheckConstraint):
        return None
    condition = getattr(constraint, "condition", None) or getattr(constraint, "check", None)
    if isinstance(condition, Q) and not condition.negated and len(condition.children) == 1:
        child = condition.children[0]
        if isinstance(child, tuple) and child[0].endswith("__isnull") and child[1] is False:
            return str(child[0][: -len("__isnull")])
    return None


def state_only_removals(operation: Any, app_label: str, state: ProjectState) -> list[StateRemoval]:
    """The columns and tables ``operation`` removes from the models only: the
    ``RemoveField`` and ``DeleteModel`` among a ``SeparateDatabaseAndState``'s
    state operations, read against ``state`` (the state before it)."""
    from django.db.migrations import operations as ops

    if not isinstance(operation, ops.SeparateDatabaseAndState):
        return []
    removed: list[StateRemoval] = []
    inners = list(operation.state_operations)
    # Each is read against the state the ones before it leave (a copy: the walk's
    # own state moves on with the whole operation).
    working = state.clone() if len(inners) > 1 else state
    for position, inner in enumerate(inners):
        removed.extend(_removed_by(inner, app_label, working))
        if position < len(inners) - 1:
            inner.state_forwards(app_label, working)
    return removed


def _removed_by(operation: Any, app_label: str, state: ProjectState) -> list[StateRemoval]:
    from django.db.migrations import operations as ops

    if isinstance(operation, ops.SeparateDatabaseAndState):
        return state_only_removals(operation, app_label, state)
    name = getattr(operation, "model_name", None) or getattr(operation, "name", "")
    model = state.models.get((app_label, str(name).lower()))
    if model is None or model.options.get("managed", True) is False or model.options.get("proxy"):
        return []
    table = db_table(app_label, model.name_lower, model.options.get("db_table"))
    if isinstance(operation, ops.DeleteModel):
        return [(table, None)]
    if not isinstance(operation, ops.RemoveField):
        return []
    field = model.fields.get(operation.name)
    if field is None:
        return []
    if field.many_to_many:
        through = join_table(table, operation.name, field)
        return [(through, None)] if through else []
    return [(table, column_name(operation.name, field))]


def remember_state_removals(removals: list[StateRemoval], context: LintContext) -> None:
    """Carry ``removals`` forward, for the migrations after the one that made them."""
    for table, column in removals:
        if column is None:
            context.state_removed_tables.add(table)
        else:
            context.state_removed_columns.add((table, column))
