"""Index rules: builds and drops that block writes, and concurrent builds in a
transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from schemaops.lint.context import LintContext
from schemaops.lint.django_migrations.operation import builds_unique_index
from schemaops.lint.rules import ERROR, RuleName, existed_before, operation_check, reads, rule
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
@reads("create_index")
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


def _has_like_index(field: Any, check: OperationCheck) -> bool:
    """Whether Django gave the field's column a second, ``_like`` index: a varchar or
    text column (not an array) with an index or unique. A ``db_collation`` is left
    out: whether Django made one depends on the collation, which only the database
    knows."""
    if not (field.db_index or field.unique) or getattr(field, "db_collation", None):
        return False
    column_type = check.column_type(field)
    return (
        column_type is not None
        and "[" not in column_type
        and column_type.startswith(("varchar", "text"))
    )


@operation_check("AlterField")
def _field_unique_to_index(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    old = model.fields.get(op.name) if model is not None else None
    new = op.field
    if old is None or new.many_to_many or old.primary_key or new.primary_key:
        return
    # Django drops the unique constraint and builds a plain index in its place.
    if old.unique and _indexed(new) and not new.unique:
        check.find(
            RuleName.REQUIRE_CONCURRENT_INDEX_CREATION,
            f"index on {op.model_name_lower}.{op.name}",
            "unique=True to db_index=True drops the unique constraint and builds a plain "
            "index with CREATE INDEX, without CONCURRENTLY: writes wait while it builds.",
        )


@operation_check("AlterField")
def _field_index_dropped(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    old = model.fields.get(op.name) if model is not None else None
    new = op.field
    if old is None or new.many_to_many or old.primary_key or new.primary_key:
        return
    where = f"{op.model_name_lower}.{op.name}"
    like = " and its _like index" if _has_like_index(old, check) else ""
    hint = (
        "SeparateDatabaseAndState: the AlterField in state_operations; in "
        "database_operations, RunSQL DROP INDEX CONCURRENTLY IF EXISTS for each index "
        "(sqlmigrate shows their names), in a migration with atomic = False."
    )
    if _indexed(old) and not old.unique and (not _indexed(new) or new.unique):
        check.find(
            RuleName.REQUIRE_CONCURRENT_INDEX_DELETION,
            f"index on {where}{like}",
            "Removing the field's db_index drops its index with DROP INDEX, without "
            "CONCURRENTLY: an ACCESS EXCLUSIVE lock on the table.",
            hint,
        )
    elif old.unique and not (_indexed(new) or new.unique) and like:
        # The unique constraint goes with a brief DROP CONSTRAINT; the _like index
        # Django added beside it goes with DROP INDEX.
        check.find(
            RuleName.REQUIRE_CONCURRENT_INDEX_DELETION,
            f"_like index on {where}",
            "Removing unique=True from a varchar or text field also drops its _like index "
            "with DROP INDEX, without CONCURRENTLY: an ACCESS EXCLUSIVE lock on the table.",
            hint,
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


@operation_check("AddConstraint")
def _unique_index_added(op: Any, check: OperationCheck) -> None:
    if check.existing(op.model_name) is not None and builds_unique_index(op.constraint):
        check.find(
            RuleName.REQUIRE_CONCURRENT_INDEX_CREATION,
            f"constraint {op.constraint.name}",
            "A UniqueConstraint with a condition, expressions, include or opclasses is built "
            "with CREATE UNIQUE INDEX, without CONCURRENTLY: a SHARE lock, writes wait while "
            "it builds.",
            "SeparateDatabaseAndState: the AddConstraint in state_operations; in "
            "database_operations, RunSQL CREATE UNIQUE INDEX CONCURRENTLY (sqlmigrate shows "
            "the statement), in a migration with atomic = False.",
        )


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
@reads("drop_index")
def _require_concurrent_index_deletion(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind == "drop_index" and not statement.concurrently:
        yield 0, f"index {statement.index_name}"


@operation_check("RemoveIndex")
def _remove_index(op: Any, check: OperationCheck) -> None:
    if check.existing(op.model_name) is not None:
        check.find(RuleName.REQUIRE_CONCURRENT_INDEX_DELETION, f"index {op.name}")


@operation_check("RemoveConstraint")
def _unique_index_removed(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    if model is None:
        return
    constraint = next((c for c in model.options.get("constraints", ()) if c.name == op.name), None)
    if builds_unique_index(constraint):
        check.find(
            RuleName.REQUIRE_CONCURRENT_INDEX_DELETION,
            f"constraint {op.name}",
            "A UniqueConstraint with a condition, expressions, include or opclasses is a "
            "unique index: RemoveConstraint drops it with DROP INDEX, without CONCURRENTLY, "
            "an ACCESS EXCLUSIVE lock on the table.",
            "SeparateDatabaseAndState: the RemoveConstraint in state_operations; in "
            "database_operations, RunSQL DROP INDEX CONCURRENTLY IF EXISTS with the "
            "constraint's name, in a migration with atomic = False.",
        )


@rule(
    RuleName.REQUIRE_CONCURRENT_REINDEX,
    ERROR,
    "REINDEX without CONCURRENTLY blocks writes (and reads through the index) while it runs.",
    "REINDEX ... CONCURRENTLY (PostgreSQL 12+), outside a transaction.",
    grows_with_table=True,
)
@reads("reindex")
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
@reads("create_index")
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
