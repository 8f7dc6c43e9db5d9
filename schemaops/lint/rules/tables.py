"""Table rules: renaming, dropping and truncating a table (and dropping a database);
statements that rewrite a whole table, or hold its lock while they run (detaching a
partition, refreshing a materialized view)."""

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
    reads,
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
@reads("alter_table:rename_table")
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
@reads("drop_table")
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
@reads("drop_database")
def _ban_drop_database(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind == "drop_database":
        yield 0, ""


@rule(
    RuleName.BAN_TRUNCATE_TABLE,
    ERROR,
    "TRUNCATE takes an ACCESS EXCLUSIVE lock and deletes every row at once.",
    "Delete in batches (DELETE ... WHERE id IN (SELECT ... LIMIT n)), or do it by hand.",
)
@reads("truncate")
def _ban_truncate(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind == "truncate" and existed_before(statement, context):
        yield 0, f"table {statement.table}"


_REWRITES = {
    "set_logged": "SET LOGGED/UNLOGGED rewrites the table",
    "set_tablespace": "SET TABLESPACE copies the table to the new tablespace",
    "set_access_method": "SET ACCESS METHOD rewrites the table",
    "set_expression": "SET EXPRESSION rewrites the table to recompute the column",
}


@rule(
    RuleName.BAN_TABLE_REWRITE,
    ERROR,
    "This ALTER TABLE rewrites or copies the whole table under an ACCESS EXCLUSIVE lock.",
    "Create the table as it should be and move the data over in batches (or use pg_repack), "
    "or run it by hand when the table can be unavailable for as long as the copy takes.",
    grows_with_table=True,
)
@reads("alter_table")
def _ban_table_rewrite(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind != "alter_table" or not existed_before(statement, context):
        return
    for action in statement.actions:
        what = _REWRITES.get(action.kind)
        if what is not None:
            column = f"column {action.column_name}: " if action.column_name else ""
            yield action.offset, f"{column}{what}"


@rule(
    RuleName.PREFER_REPACK,
    ERROR,
    "VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock: no reads or "
    "writes until they finish.",
    "REPACK (CONCURRENTLY) on PostgreSQL 19+, pg_repack before that; or plain VACUUM, which "
    "takes no lock that blocks reads or writes.",
    grows_with_table=True,
)
@reads("vacuum_full", "cluster")
def _prefer_repack(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind in ("vacuum_full", "cluster") and existed_before(statement, context):
        verb = "VACUUM FULL" if statement.kind == "vacuum_full" else "CLUSTER"
        which = statement.table or (
            "every table" if statement.kind == "vacuum_full" else "every clustered table"
        )
        yield 0, f"{verb} of {which}"


@rule(
    RuleName.REQUIRE_CONCURRENT_PARTITION_DETACH,
    ERROR,
    "DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the "
    "partitioned table.",
    "DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+), outside a transaction (schemaops then "
    "runs the script statement by statement).",
)
@reads("alter_table:detach_partition")
def _require_concurrent_partition_detach(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "detach_partition"):
        if not action.concurrently:
            yield action.offset, f"from {statement.table}"


@rule(
    RuleName.REQUIRE_CONCURRENT_REFRESH,
    ERROR,
    "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks reads of the view while its "
    "query runs.",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY (the view needs a unique index on plain columns "
    "covering every row).",
    grows_with_table=True,
)
@reads("refresh_materialized_view")
def _require_concurrent_refresh(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if (
        statement.kind == "refresh_materialized_view"
        and not statement.concurrently
        and existed_before(statement, context)
    ):
        yield 0, f"view {statement.table}"
