"""Constraint rules: CHECK and FOREIGN KEY without NOT VALID, foreign keys, UNIQUE and
EXCLUDE built under lock, VALIDATE in the transaction that added the constraint, and
constraints on domains."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from schemaops.lint.context import LintContext
from schemaops.lint.django_migrations.operation import builds_unique_index
from schemaops.lint.rules import (
    ERROR,
    WARNING,
    RuleName,
    actions_of,
    altered,
    operation_check,
    reads,
    rule,
)
from schemaops.lint.syntax import SqlStatement

if TYPE_CHECKING:
    from schemaops.lint.django_migrations.operation import OperationCheck


@rule(
    RuleName.CONSTRAINT_MISSING_NOT_VALID,
    ERROR,
    "Adding a CHECK or FOREIGN KEY constraint scans the table while holding its lock.",
    "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a separate "
    "transaction (another script), which lets reads and writes through.",
    django_hint=(
        "AddConstraintNotValid, then ValidateConstraint in a later migration (both in "
        "django.contrib.postgres.operations)."
    ),
    grows_with_table=True,
)
@reads("alter_table:add_constraint")
def _constraint_missing_not_valid(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "add_constraint"):
        if action.constraint in ("check", "foreign_key") and not action.not_valid:
            yield action.offset, f"constraint {action.constraint_name or action.constraint}"


@operation_check("AddConstraint")
def _add_constraint(op: Any, check: OperationCheck) -> None:
    from django.db.models import CheckConstraint, UniqueConstraint

    constraint = op.constraint
    if check.existing(op.model_name) is None:
        return
    if builds_unique_index(constraint):
        return  # CREATE UNIQUE INDEX: an index build (indexes.py)
    if isinstance(constraint, UniqueConstraint):
        check.find(RuleName.DISALLOWED_UNIQUE_CONSTRAINT, f"constraint {constraint.name}")
    elif isinstance(constraint, CheckConstraint):
        check.find(RuleName.CONSTRAINT_MISSING_NOT_VALID, f"constraint {constraint.name}")
    elif _is_exclusion(constraint):
        check.find(RuleName.ADDING_EXCLUSION_CONSTRAINT, f"constraint {constraint.name}")


def _is_exclusion(constraint: object) -> bool:
    from django.contrib.postgres.constraints import ExclusionConstraint

    return isinstance(constraint, ExclusionConstraint)


@rule(
    RuleName.ADDING_FOREIGN_KEY_CONSTRAINT,
    WARNING,
    "A foreign key locks both tables (SHARE ROW EXCLUSIVE) and, unless NOT VALID, scans one.",
    "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in another "
    "transaction; run it when neither table is busy.",
    django_hint=(
        "Add the ForeignKey with db_constraint=False, then add the constraint NOT VALID and"
        " VALIDATE it in a later migration (RunSQL); or run it when neither table is busy."
    ),
    grows_with_table=True,
)
@reads("alter_table:add_column", "alter_table:add_constraint")
def _adding_foreign_key(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "add_constraint"):
        # NOT VALID is the safe rewrite itself: its lock is brief and it scans nothing.
        if action.constraint == "foreign_key" and not action.not_valid:
            yield action.offset, f"constraint {action.constraint_name or 'foreign key'}"
    for action in altered(statement, context, "add_column"):
        if action.column is not None and action.column.references:
            yield action.offset, f"column {action.column.name} REFERENCES"


def _has_constraint(field: Any) -> bool:
    return field.remote_field is not None and bool(getattr(field, "db_constraint", False))


@rule(
    RuleName.DISALLOWED_UNIQUE_CONSTRAINT,
    ERROR,
    "ADD UNIQUE builds its index under an ACCESS EXCLUSIVE lock.",
    "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX.",
    django_hint=(
        "SeparateDatabaseAndState: the constraint in state_operations; in "
        "database_operations, RunSQL CREATE UNIQUE INDEX CONCURRENTLY then ALTER TABLE ... "
        "ADD CONSTRAINT ... UNIQUE USING INDEX, with atomic = False."
    ),
    grows_with_table=True,
)
@reads("alter_table:add_column", "alter_table:add_constraint")
def _disallowed_unique_constraint(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "add_constraint"):
        # ADD PRIMARY KEY is adding-serial-primary-key-field's, as in squawk.
        if action.constraint == "unique" and not action.using_index:
            yield action.offset, f"constraint {action.constraint_name or action.constraint}"
    for action in altered(statement, context, "add_column"):
        column = action.column
        if column is not None and column.unique and not column.primary_key:
            yield action.offset, f"column {column.name} UNIQUE"


@operation_check("AddField")
def _field_constraints_added(op: Any, check: OperationCheck) -> None:
    field = op.field
    if check.existing(op.model_name) is None or field.many_to_many:
        return
    where = f"{op.model_name_lower}.{op.name}"
    if field.unique and not field.primary_key:
        check.find(RuleName.DISALLOWED_UNIQUE_CONSTRAINT, where)
    if _has_constraint(field):
        check.find(RuleName.ADDING_FOREIGN_KEY_CONSTRAINT, where)


@operation_check("AlterField")
def _field_constraints_altered(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    old = model.fields.get(op.name) if model is not None else None
    new = op.field
    if old is None or new.many_to_many:
        return
    where = f"{op.model_name_lower}.{op.name}"
    if new.unique and not old.unique and not new.primary_key:
        check.find(RuleName.DISALLOWED_UNIQUE_CONSTRAINT, where)
    if _has_constraint(new) and not _has_constraint(old):
        check.find(RuleName.ADDING_FOREIGN_KEY_CONSTRAINT, where)


@operation_check("AlterUniqueTogether")
def _unique_together(op: Any, check: OperationCheck) -> None:
    for names in check.added_together(op.name, op.option_value, "unique_together"):
        check.find(RuleName.DISALLOWED_UNIQUE_CONSTRAINT, f"{op.name_lower} ({', '.join(names)})")


@rule(
    RuleName.VALIDATE_CONSTRAINT_IN_SAME_TRANSACTION,
    ERROR,
    "VALIDATE in the transaction that added the constraint keeps the strong lock during the scan.",
    "Put VALIDATE CONSTRAINT in a separate script (or set atomic=false), so the ADD commits "
    "and releases its lock first.",
)
@reads("alter_table:validate_constraint")
def _validate_in_same_transaction(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind != "alter_table":
        return
    for action in actions_of(statement, "validate_constraint"):
        if context.in_transaction and context.added_in_this_transaction(action.constraint_name):
            yield action.offset, f"constraint {action.constraint_name}"


@operation_check("ValidateConstraint")
def _validate_constraint(op: Any, check: OperationCheck) -> None:
    if check.context.in_transaction and check.context.added_in_this_transaction(op.name):
        check.find(RuleName.VALIDATE_CONSTRAINT_IN_SAME_TRANSACTION, f"constraint {op.name}")


@rule(
    RuleName.BAN_ALTER_DOMAIN_WITH_ADD_CONSTRAINT,
    ERROR,
    "ALTER DOMAIN ... ADD CONSTRAINT checks every column of that domain, in every table, "
    "while holding their locks.",
    "ADD CONSTRAINT ... NOT VALID, then ALTER DOMAIN ... VALIDATE CONSTRAINT in another "
    "transaction; better, put the constraint on the columns themselves.",
    # Its lock time grows with the tables using the domain, which the deploy gate
    # cannot measure from the domain's name.
)
@reads("alter_domain")
def _ban_alter_domain_add_constraint(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind != "alter_domain":
        return
    for action in actions_of(statement, "add_constraint"):
        if not action.not_valid:
            yield action.offset, f"domain {statement.table}"


@rule(
    RuleName.BAN_CREATE_DOMAIN_WITH_CONSTRAINT,
    WARNING,
    "A domain's constraints are costly to change later: every change checks every column of "
    "the domain.",
    "Use the base type and put the CHECK (or NOT NULL) on each column, where NOT VALID and "
    "VALIDATE can change it without a long lock.",
)
@reads("create_domain")
def _ban_create_domain_with_constraint(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind == "create_domain":
        for action in statement.actions[:1]:
            yield action.offset, f"domain {statement.table}"


@rule(
    RuleName.ADDING_EXCLUSION_CONSTRAINT,
    ERROR,
    "ADD EXCLUDE builds its index under an ACCESS EXCLUSIVE lock, and has no concurrent form.",
    "Add the exclusion constraint when the table is created, or when the table may be "
    "unavailable for as long as the index build takes.",
    grows_with_table=True,
)
@reads("alter_table:add_constraint")
def _adding_exclusion_constraint(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "add_constraint"):
        if action.constraint == "exclude":
            yield action.offset, f"constraint {action.constraint_name or 'EXCLUDE'}"
