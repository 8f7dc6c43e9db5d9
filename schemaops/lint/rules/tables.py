"""Table rules: renaming, dropping and truncating a table (and dropping a database)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from schemaops.lint.context import LintContext
from schemaops.lint.django_migrations.operation import db_table
from schemaops.lint.rules import (
    ERROR,
    RuleName,
    altered,
    existed_before,
    operation_check,
    rule,
)
from schemaops.lint.syntax import SqlStatement

if TYPE_CHECKING:
    from schemaops.lint.django_migrations.operation import OperationCheck


@rule(
    RuleName.RENAMING_TABLE,
    ERROR,
    "Renaming a table breaks the code still running that uses the old name.",
    "Keep the table name (db_table=... in Django), or create a view with the old name while "
    "the old code runs.",
    django_hint=("Keep the table: set Meta.db_table to the old name instead of renaming it."),
)
def _renaming_table(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "rename_table"):
        yield action.offset, f"{statement.table} to {action.new_name}"


@operation_check("RenameModel")
def _rename_model(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.old_name)
    if model is not None and not model.options.get("db_table"):
        check.find(
            RuleName.RENAMING_TABLE,
            f"{db_table(check.app_label, op.old_name_lower)} to "
            f"{db_table(check.app_label, op.new_name_lower)}",
        )


@operation_check("AlterModelTable")
def _alter_model_table(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.name)
    if model is not None:
        old = check.table_of(model)
        new = db_table(check.app_label, op.name_lower, op.table)
        if old != new:
            check.find(RuleName.RENAMING_TABLE, f"{old} to {new}")


@rule(
    RuleName.BAN_DROP_TABLE,
    ERROR,
    "Dropping a table breaks the code still running that uses it, and loses its data.",
    "Stop using the table first, deploy, then drop it in a later release (keep a backup).",
    django_hint=(
        "SeparateDatabaseAndState with DeleteModel in state_operations only; drop the table"
        " in a later release."
    ),
)
def _ban_drop_table(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if (
        statement.kind == "drop_table"
        and existed_before(statement, context)
        and not context.removed_from_state_before(statement.table)  # a staged drop
    ):
        yield 0, f"table {statement.table}"


@operation_check("DeleteModel")
def _delete_model(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.name)
    if model is not None:
        check.find(RuleName.BAN_DROP_TABLE, f"table {check.table_of(model)}")


@operation_check("RemoveField")
def _remove_many_to_many(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    field = model.fields.get(op.name) if model is not None else None
    if field is not None and field.many_to_many:
        check.find(RuleName.BAN_DROP_TABLE, f"join table of {op.model_name_lower}.{op.name}")


@rule(
    RuleName.BAN_DROP_DATABASE,
    ERROR,
    "Dropping a database from a migration loses everything in it.",
    "Do it by hand, deliberately, never from a migration.",
)
def _ban_drop_database(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind == "drop_database":
        yield 0, ""


@rule(
    RuleName.BAN_TRUNCATE_TABLE,
    ERROR,
    "TRUNCATE takes an ACCESS EXCLUSIVE lock and deletes every row at once.",
    "Delete in batches (DELETE ... WHERE id IN (SELECT ... LIMIT n)), or do it by hand.",
)
def _ban_truncate(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind == "truncate" and existed_before(statement, context):
        yield 0, f"table {statement.table}"
