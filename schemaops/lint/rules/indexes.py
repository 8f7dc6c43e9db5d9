"""Index rules: builds and drops that block writes, and concurrent builds in a
transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from schemaops.lint.context import LintContext
from schemaops.lint.rules import ERROR, RuleName, existed_before, operation_check, rule
from schemaops.lint.syntax import SqlStatement

if TYPE_CHECKING:
    from schemaops.lint.django_migrations.operation import OperationCheck


@rule(
    RuleName.REQUIRE_CONCURRENT_INDEX_CREATION,
    ERROR,
    "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds.",
    "CREATE INDEX CONCURRENTLY (schemaops then runs the script outside a transaction). "
    "In a Django migration: AddIndexConcurrently, with atomic = False on the Migration.",
    django_hint=(
        "AddIndexConcurrently (django.contrib.postgres.operations) in a migration with "
        "atomic = False. For a field's db_index or a ForeignKey's index: "
        "SeparateDatabaseAndState, the field in state_operations, the column and "
        "AddIndexConcurrently in database operations."
    ),
    grows_with_table=True,
)
def _require_concurrent_index_creation(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if (
        statement.kind == "create_index"
        and not statement.concurrently
        and not statement.only  # ON ONLY a partitioned parent is instant
        and existed_before(statement, context)
    ):
        yield 0, f"on table {statement.table}"


def _indexed(field: Any) -> bool:
    """Whether Django gives the field's column an index of its own (db_index=True;
    a ForeignKey has it by default)."""
    return bool(getattr(field, "db_index", False))


@operation_check("AddField")
def _field_index_added(op: Any, check: OperationCheck) -> None:
    field = op.field
    if check.existing(op.model_name) is None or field.many_to_many:
        return
    if _indexed(field) and not field.primary_key and not field.unique:
        check.find(
            RuleName.REQUIRE_CONCURRENT_INDEX_CREATION,
            f"index on {op.model_name_lower}.{op.name}",
        )


@operation_check("AlterField")
def _field_index_altered(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    old = model.fields.get(op.name) if model is not None else None
    new = op.field
    if old is None or new.many_to_many:
        return
    if _indexed(new) and not new.unique and not (_indexed(old) or old.unique):
        check.find(
            RuleName.REQUIRE_CONCURRENT_INDEX_CREATION,
            f"index on {op.model_name_lower}.{op.name}",
        )


@operation_check("AlterIndexTogether")
def _index_together(op: Any, check: OperationCheck) -> None:
    for names in check.added_together(op.name, op.option_value, "index_together"):
        check.find(
            RuleName.REQUIRE_CONCURRENT_INDEX_CREATION, f"{op.name_lower} ({', '.join(names)})"
        )


@operation_check("AddIndex")
def _add_index(op: Any, check: OperationCheck) -> None:
    if check.existing(op.model_name) is not None:
        check.find(RuleName.REQUIRE_CONCURRENT_INDEX_CREATION, f"index {op.index.name}")


@rule(
    RuleName.REQUIRE_CONCURRENT_INDEX_DELETION,
    ERROR,
    "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table.",
    "DROP INDEX CONCURRENTLY. In a Django migration: RemoveIndexConcurrently, with "
    "atomic = False.",
    django_hint=(
        "RemoveIndexConcurrently (django.contrib.postgres.operations) in a migration with "
        "atomic = False."
    ),
    grows_with_table=True,
)
def _require_concurrent_index_deletion(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind == "drop_index" and not statement.concurrently:
        yield 0, f"index {statement.index}"


@operation_check("RemoveIndex")
def _remove_index(op: Any, check: OperationCheck) -> None:
    if check.existing(op.model_name) is not None:
        check.find(RuleName.REQUIRE_CONCURRENT_INDEX_DELETION, f"index {op.name}")


@rule(
    RuleName.REQUIRE_CONCURRENT_REINDEX,
    ERROR,
    "REINDEX without CONCURRENTLY blocks writes (and reads through the index) while it runs.",
    "REINDEX ... CONCURRENTLY (PostgreSQL 12+), outside a transaction.",
    grows_with_table=True,
)
def _require_concurrent_reindex(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind == "reindex" and not statement.concurrently:
        yield 0, ""


@rule(
    RuleName.BAN_CONCURRENT_INDEX_CREATION_IN_TRANSACTION,
    ERROR,
    "CREATE INDEX CONCURRENTLY cannot run inside a transaction block.",
    "Remove BEGIN/COMMIT around it; schemaops runs such a script statement by statement.",
    django_hint=(
        "Set atomic = False on the Migration class: concurrent index operations cannot run "
        "in a transaction."
    ),
)
def _ban_concurrent_index_in_transaction(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind != "create_index" or not statement.concurrently:
        return
    if context.in_transaction:
        yield 0, ""
    elif context.dropped_wrapper:
        yield (
            0,
            (
                "inside the script's BEGIN ... COMMIT, which schemaops drops: the script runs "
                "statement by statement, not atomically"
            ),
        )


@operation_check("AddIndexConcurrently", "RemoveIndexConcurrently")
def _concurrently_in_transaction(op: Any, check: OperationCheck) -> None:
    if check.atomic:
        check.find(RuleName.BAN_CONCURRENT_INDEX_CREATION_IN_TRANSACTION, type(op).__name__)
