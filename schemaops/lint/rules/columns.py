"""Column rules: adding a column that fails, rewrites or locks the table, changing
its type or nullability, renaming or dropping it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from schemaops.lint.context import LintContext
from schemaops.lint.django_migrations.operation import column_name
from schemaops.lint.rules import ERROR, RuleName, altered, is_serial, operation_check, reads, rule
from schemaops.lint.syntax import SqlStatement

if TYPE_CHECKING:
    from schemaops.lint.django_migrations.operation import OperationCheck

_VOLATILE = re.compile(
    r"\b(RANDOM|GEN_RANDOM_UUID|UUID_GENERATE_V[14]|CLOCK_TIMESTAMP|TIMEOFDAY|NEXTVAL|"
    r"TXID_CURRENT|SETSEED)\s*\(",
)
_VOLATILE_EXPRESSIONS = {"Random", "RandomUUID", "UUID4", "UUID7"}
_VOLATILE_FUNCTIONS = frozenset(
    {"random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v4", "clock_timestamp"}
)
_VARCHAR = re.compile(r"^varchar\((\d+)\)$")


@rule(
    RuleName.ADDING_REQUIRED_FIELD,
    ERROR,
    "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows.",
    "Add the column with a DEFAULT (instant on PostgreSQL 11+), or nullable, backfill in "
    "batches, then SET NOT NULL after a validated CHECK. In Django: a field with db_default.",
    django_hint=(
        "Give the field db_default=... (Django 5.0+): the database fills existing rows and "
        "the inserts of code still running. Or add it null=True, backfill in batches, then "
        "make it NOT NULL."
    ),
)
@reads("alter_table:add_column")
def _adding_required_field(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "add_column"):
        column = action.column
        if (
            column is not None
            and column.not_null
            and column.default is None
            and not column.generated_stored
            and not column.identity
            and not is_serial(column)
        ):
            yield action.offset, f"column {column.name}"


@rule(
    RuleName.ADDING_NOT_NULLABLE_FIELD,
    ERROR,
    "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock.",
    "First ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT in "
    "a separate transaction; SET NOT NULL then skips the scan (PostgreSQL 12+).",
    django_hint=(
        "AddConstraintNotValid(CheckConstraint(col IS NOT NULL)), ValidateConstraint in a "
        "later migration, then AlterField(null=False): PostgreSQL 12+ skips the scan."
    ),
    grows_with_table=True,
)
@reads("alter_table:set_not_null")
def _adding_not_nullable_field(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "set_not_null"):
        if context.pg_version >= 12 and context.has_validated_not_null(
            statement.table, action.column_name
        ):
            continue
        yield action.offset, f"column {action.column_name}"


@rule(
    RuleName.ADDING_FIELD_WITH_DEFAULT,
    ERROR,
    "This default rewrites the whole table under an ACCESS EXCLUSIVE lock.",
    "Add the column without the default (or with a constant one), then backfill in batches. "
    "Constant and stable defaults (now(), 'x', 0) are instant on PostgreSQL 11+.",
    django_hint=(
        "Use a constant db_default, or add the field null=True and backfill it in batches."
    ),
    grows_with_table=True,
)
@reads("alter_table:add_column")
def _adding_field_with_default(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "add_column"):
        column = action.column
        if column is None:
            continue
        if column.generated_stored:
            yield action.offset, f"column {column.name} is GENERATED ... STORED"
        elif is_serial(column):
            yield action.offset, f"column {column.name} is {column.type.lower()}"
        elif column.identity:
            # Found by schemaops trace: every existing row gets a value from the sequence.
            yield action.offset, f"column {column.name} is an identity column"
        elif column.default is not None and (
            context.pg_version < 11 or _VOLATILE.search(column.default)
        ):
            yield action.offset, f"column {column.name} DEFAULT {column.default.lower()}"
        elif column.default is not None and _bare_type(column.type) in context.constrained_domains:
            # Found by schemaops trace: PostgreSQL checks each row against the domain.
            yield (
                action.offset,
                (
                    f"column {column.name} is of the domain {column.type.lower()}, which has a "
                    "constraint: any default rewrites the table"
                ),
            )


def _bare_type(name: str) -> str:
    """A type name as the catalog spells it (unquoted, lowercase)."""
    return ".".join(part.strip('"') for part in name.lower().split("."))


@rule(
    RuleName.ADDING_SERIAL_PRIMARY_KEY_FIELD,
    ERROR,
    "Adding a primary key builds its index under an ACCESS EXCLUSIVE lock (and a new "
    "column's rewrites the table).",
    "Add the column, fill it in batches, CREATE UNIQUE INDEX CONCURRENTLY, then ADD "
    "CONSTRAINT ... PRIMARY KEY USING INDEX.",
    grows_with_table=True,
)
@reads("alter_table:add_column", "alter_table:add_constraint")
def _adding_serial_primary_key(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "add_column"):
        if action.column is not None and action.column.primary_key:
            yield action.offset, f"column {action.column.name}"
    for action in altered(statement, context, "add_constraint"):
        if action.constraint == "primary_key" and not action.using_index:
            yield action.offset, f"constraint {action.constraint_name or 'PRIMARY KEY'}"


def _volatile(expression: object) -> bool:
    name = type(expression).__name__
    function = str(getattr(expression, "function", "") or "")
    return name in _VOLATILE_EXPRESSIONS or function.lower() in _VOLATILE_FUNCTIONS


@operation_check("AddField")
def _add_field(op: Any, check: OperationCheck) -> None:
    from django.db.models import NOT_PROVIDED

    field = op.field
    if check.existing(op.model_name) is None or field.many_to_many:
        return
    where = f"{op.model_name_lower}.{op.name}"
    db_default = getattr(field, "db_default", NOT_PROVIDED)
    if field.primary_key:
        check.find(RuleName.ADDING_SERIAL_PRIMARY_KEY_FIELD, where)
    elif type(field).__name__ == "GeneratedField":
        if getattr(field, "db_persist", False):
            check.find(RuleName.ADDING_FIELD_WITH_DEFAULT, f"{where} is a stored GeneratedField")
    elif db_default is not NOT_PROVIDED:
        if _volatile(db_default):
            check.find(RuleName.ADDING_FIELD_WITH_DEFAULT, f"{where} db_default is volatile")
    elif not field.null:
        check.find(
            RuleName.ADDING_REQUIRED_FIELD,
            where,
            "A NOT NULL field without db_default: Django fills existing rows with a temporary "
            "default and drops it, so inserts by the code still running fail.",
        )


@rule(
    RuleName.CHANGING_COLUMN_TYPE,
    ERROR,
    "Changing a column's type usually rewrites the table under an ACCESS EXCLUSIVE lock.",
    "Add a new column, backfill it in batches, switch readers and writers, then drop the old "
    "one. In Django: SeparateDatabaseAndState around that sequence.",
    grows_with_table=True,
)
@reads("alter_table:alter_column_type")
def _changing_column_type(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "alter_column_type"):
        yield action.offset, f"column {action.column_name} to {action.new_type.lower()}"


def _binary_coercible(old: str, new: str) -> bool:
    """A change PostgreSQL makes without a rewrite or a scan: a longer varchar, or
    varchar to text."""
    old_match = _VARCHAR.match(old)
    if old_match and new == "text":
        return True
    new_match = _VARCHAR.match(new)
    return bool(old_match and new_match and int(new_match[1]) >= int(old_match[1]))


@operation_check("AlterField")
def _alter_field(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    old = model.fields.get(op.name) if model is not None else None
    new = op.field
    if model is None or old is None or new.many_to_many:
        return
    where = f"{op.model_name_lower}.{op.name}"
    old_type, new_type = check.column_type(old), check.column_type(new)
    if (
        old_type
        and new_type
        and old_type != new_type
        and not _binary_coercible(old_type, new_type)
    ):
        check.find(RuleName.CHANGING_COLUMN_TYPE, f"{where}: {old_type} to {new_type}")
    if old.null and not new.null:
        table = check.table_of(model)
        if not (
            check.context.pg_version >= 12
            and check.context.has_validated_not_null(table, column_name(op.name, new))
        ):
            check.find(RuleName.ADDING_NOT_NULLABLE_FIELD, where)


@rule(
    RuleName.RENAMING_COLUMN,
    ERROR,
    "Renaming a column breaks the code still running that uses the old name.",
    "Add the new column, write both, backfill, move readers, then drop the old one; or keep "
    "the column and rename only in the model (db_column=...).",
    django_hint=(
        "Keep the column: rename the field and set db_column to the old name, or "
        "SeparateDatabaseAndState with the RenameField in state_operations only."
    ),
)
@reads("alter_table:rename_column")
def _renaming_column(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "rename_column"):
        yield action.offset, f"{action.column_name} to {action.new_name}"


@operation_check("RenameField")
def _rename_field(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    field = model.fields.get(op.old_name) if model is not None else None
    if field is not None and not field.db_column and not field.many_to_many:
        check.find(
            RuleName.RENAMING_COLUMN, f"{op.model_name_lower}.{op.old_name} to {op.new_name}"
        )


@operation_check("AlterField")
def _alter_field_column_renamed(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    old = model.fields.get(op.name) if model is not None else None
    new = op.field
    if old is None or old.many_to_many or new.many_to_many:
        return
    old_column, new_column = column_name(op.name, old), column_name(op.name, new)
    if old_column != new_column:
        # A ForeignKey to a plain field (author_id to author), or a new db_column.
        check.find(
            RuleName.RENAMING_COLUMN,
            f"{op.model_name_lower}.{op.name}: column {old_column} to {new_column}",
            "AlterField renames the column: the code still running uses the old name.",
        )


@rule(
    RuleName.BAN_DROP_COLUMN,
    ERROR,
    "Dropping a column breaks the code still running that reads or writes it.",
    "Stop using the column first (in Django: SeparateDatabaseAndState to remove the field "
    "from the model only), deploy, then drop it in a later release.",
)
@reads("alter_table:drop_column")
def _ban_drop_column(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for action in altered(statement, context, "drop_column"):
        if context.removed_from_state_before(statement.table, action.column_name):
            continue  # the second step of a staged drop
        yield action.offset, f"column {action.column_name}"


@operation_check("RemoveField")
def _remove_field(op: Any, check: OperationCheck) -> None:
    model = check.existing(op.model_name)
    if model is None:
        return
    field = model.fields.get(op.name)
    if field is None or not field.many_to_many:  # a many-to-many's is a table (tables.py)
        check.find(RuleName.BAN_DROP_COLUMN, f"{op.model_name_lower}.{op.name}")
