"""The lint rules: each reads one modelled statement and the context, and may find.

Names follow squawk's where the pattern is the same, so findings compare
one-to-one; rules squawk lacks get names in the same style.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator

from schemaops.lint.context import LintContext
from schemaops.lint.model import Action, Column, SqlStatement

ERROR = "error"
WARNING = "warning"

# Findings about the suppressions themselves, not about a statement.
MISSING_REASON = "suppression-missing-reason"
UNUSED_SUPPRESSION = "unused-suppression"


@dataclasses.dataclass(frozen=True)
class Rule:
    """A rule: its name, severity, one-line message and the safe rewrite."""

    name: str
    severity: str
    message: str
    hint: str
    check: Callable[[SqlStatement, LintContext], Iterator[tuple[int, str]]]
    """Yield (offset in the statement, message detail) for each finding."""
    django_hint: str = ""
    """The safe rewrite in a Django migration, where it differs from ``hint``."""

    def hint_for(self, django: bool) -> str:
        return self.django_hint if django and self.django_hint else self.hint


RULES: dict[str, Rule] = {}

# Statement kinds that no rule reads (each rule's check starts by testing the
# kind): the engine skips the rules for them, which is most of a big file.
SILENT_KINDS = frozenset(
    {"other", "empty", "begin", "commit", "set", "create_other", "drop_other"}
)


def known_names() -> set[str]:
    """Every rule name a setting or a suppression may use: the rules and the two
    findings about suppressions."""
    return {*RULES, MISSING_REASON, UNUSED_SUPPRESSION}


def rule(
    name: str, severity: str, message: str, hint: str, django_hint: str = ""
) -> Callable[
    [Callable[[SqlStatement, LintContext], Iterator[tuple[int, str]]]],
    Callable[[SqlStatement, LintContext], Iterator[tuple[int, str]]],
]:
    def register(
        check: Callable[[SqlStatement, LintContext], Iterator[tuple[int, str]]],
    ) -> Callable[[SqlStatement, LintContext], Iterator[tuple[int, str]]]:
        RULES[name] = Rule(name, severity, message, hint, check, django_hint)
        return check

    return register


def _existing(statement: SqlStatement, context: LintContext) -> bool:
    """Whether the statement's table existed before this unit (so it may be big and busy)."""
    return not context.created_here(statement.table)


def _actions(statement: SqlStatement, kind: str) -> Iterator[Action]:
    for action in statement.actions:
        if action.kind == kind:
            yield action


def _altered(statement: SqlStatement, context: LintContext, kind: str) -> Iterator[Action]:
    """The ``kind`` actions of an ALTER TABLE on a table that existed before this unit."""
    if statement.kind == "alter_table" and _existing(statement, context):
        yield from _actions(statement, kind)


@rule(
    "require-concurrent-index-creation",
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
)
def _require_concurrent_index_creation(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if (
        statement.kind == "create_index"
        and not statement.concurrently
        and not statement.only  # ON ONLY a partitioned parent is instant
        and _existing(statement, context)
    ):
        yield 0, f"on table {statement.table}"


@rule(
    "require-concurrent-index-deletion",
    ERROR,
    "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table.",
    "DROP INDEX CONCURRENTLY. In a Django migration: RemoveIndexConcurrently, with "
    "atomic = False.",
    django_hint=(
        "RemoveIndexConcurrently (django.contrib.postgres.operations) in a migration with "
        "atomic = False."
    ),
)
def _require_concurrent_index_deletion(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind == "drop_index" and not statement.concurrently:
        yield 0, f"index {statement.index}"


@rule(
    "require-concurrent-reindex",
    ERROR,
    "REINDEX without CONCURRENTLY blocks writes (and reads through the index) while it runs.",
    "REINDEX ... CONCURRENTLY (PostgreSQL 12+), outside a transaction.",
)
def _require_concurrent_reindex(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind == "reindex" and not statement.concurrently:
        yield 0, ""


@rule(
    "ban-concurrent-index-creation-in-transaction",
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
    if statement.kind == "create_index" and statement.concurrently and context.in_transaction:
        yield 0, ""


@rule(
    "adding-required-field",
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
def _adding_required_field(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "add_column"):
        column = action.column
        if (
            column is not None
            and column.not_null
            and column.default is None
            and not column.generated_stored
            and not column.identity
            and not _serial(column)
        ):
            yield action.offset, f"column {column.name}"


@rule(
    "adding-not-nullable-field",
    ERROR,
    "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock.",
    "First ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT in "
    "a separate transaction; SET NOT NULL then skips the scan (PostgreSQL 12+).",
    django_hint=(
        "AddConstraintNotValid(CheckConstraint(col IS NOT NULL)), ValidateConstraint in a "
        "later migration, then AlterField(null=False): PostgreSQL 12+ skips the scan."
    ),
)
def _adding_not_nullable_field(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "set_not_null"):
        if context.pg_version >= 12 and context.has_validated_not_null(
            statement.table, action.column_name
        ):
            continue
        yield action.offset, f"column {action.column_name}"


_VOLATILE = re.compile(
    r"\b(RANDOM|GEN_RANDOM_UUID|UUID_GENERATE_V[14]|CLOCK_TIMESTAMP|TIMEOFDAY|NEXTVAL|"
    r"TXID_CURRENT|SETSEED)\s*\(",
)
_SERIAL = re.compile(r"^(SMALLSERIAL|SERIAL|SERIAL2|SERIAL4|SERIAL8|BIGSERIAL)$")


def _serial(column: Column) -> bool:
    return bool(_SERIAL.match(column.type))


@rule(
    "adding-field-with-default",
    ERROR,
    "This default rewrites the whole table under an ACCESS EXCLUSIVE lock.",
    "Add the column without the default (or with a constant one), then backfill in batches. "
    "Constant and stable defaults (now(), 'x', 0) are instant on PostgreSQL 11+.",
    django_hint=(
        "Use a constant db_default, or add the field null=True and backfill it in batches."
    ),
)
def _adding_field_with_default(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "add_column"):
        column = action.column
        if column is None:
            continue
        if column.generated_stored:
            yield action.offset, f"column {column.name} is GENERATED ... STORED"
        elif _serial(column):
            yield action.offset, f"column {column.name} is {column.type.lower()}"
        elif column.default is not None and (
            context.pg_version < 11 or _VOLATILE.search(column.default)
        ):
            yield action.offset, f"column {column.name} DEFAULT {column.default.lower()}"


@rule(
    "constraint-missing-not-valid",
    ERROR,
    "Adding a CHECK or FOREIGN KEY constraint scans the table while holding its lock.",
    "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a separate "
    "transaction (another script), which lets reads and writes through.",
    django_hint=(
        "AddConstraintNotValid, then ValidateConstraint in a later migration (both in "
        "django.contrib.postgres.operations)."
    ),
)
def _constraint_missing_not_valid(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "add_constraint"):
        if action.constraint in ("check", "foreign_key") and not action.not_valid:
            yield action.offset, f"constraint {action.constraint_name or action.constraint}"


@rule(
    "adding-foreign-key-constraint",
    WARNING,
    "A foreign key locks both tables (SHARE ROW EXCLUSIVE) and, unless NOT VALID, scans one.",
    "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in another "
    "transaction; run it when neither table is busy.",
    django_hint=(
        "Add the ForeignKey with db_constraint=False, then add the constraint NOT VALID and"
        " VALIDATE it in a later migration (RunSQL); or run it when neither table is busy."
    ),
)
def _adding_foreign_key(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "add_constraint"):
        if action.constraint == "foreign_key":
            yield action.offset, f"constraint {action.constraint_name or 'foreign key'}"
    for action in _altered(statement, context, "add_column"):
        if action.column is not None and action.column.references:
            yield action.offset, f"column {action.column.name} REFERENCES"


@rule(
    "disallowed-unique-constraint",
    ERROR,
    "ADD UNIQUE builds its index under an ACCESS EXCLUSIVE lock.",
    "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX.",
    django_hint=(
        "SeparateDatabaseAndState: the constraint in state_operations; in "
        "database_operations, RunSQL CREATE UNIQUE INDEX CONCURRENTLY then ALTER TABLE ... "
        "ADD CONSTRAINT ... UNIQUE USING INDEX, with atomic = False."
    ),
)
def _disallowed_unique_constraint(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "add_constraint"):
        if action.constraint in ("unique", "primary_key") and not action.using_index:
            yield action.offset, f"constraint {action.constraint_name or action.constraint}"
    for action in _altered(statement, context, "add_column"):
        column = action.column
        if column is not None and column.unique and not column.primary_key:
            yield action.offset, f"column {column.name} UNIQUE"


@rule(
    "adding-serial-primary-key-field",
    ERROR,
    "Adding a primary key column rewrites the table and builds its index under lock.",
    "Add the column, fill it in batches, CREATE UNIQUE INDEX CONCURRENTLY, then ADD "
    "CONSTRAINT ... PRIMARY KEY USING INDEX.",
)
def _adding_serial_primary_key(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "add_column"):
        if action.column is not None and action.column.primary_key:
            yield action.offset, f"column {action.column.name}"


@rule(
    "changing-column-type",
    ERROR,
    "Changing a column's type usually rewrites the table under an ACCESS EXCLUSIVE lock.",
    "Add a new column, backfill it in batches, switch readers and writers, then drop the old "
    "one. In Django: SeparateDatabaseAndState around that sequence.",
)
def _changing_column_type(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "alter_column_type"):
        yield action.offset, f"column {action.column_name} to {action.new_type.lower()}"


@rule(
    "renaming-column",
    ERROR,
    "Renaming a column breaks the code still running that uses the old name.",
    "Add the new column, write both, backfill, move readers, then drop the old one; or keep "
    "the column and rename only in the model (db_column=...).",
    django_hint=(
        "Keep the column: rename the field and set db_column to the old name, or "
        "SeparateDatabaseAndState with the RenameField in state_operations only."
    ),
)
def _renaming_column(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "rename_column"):
        yield action.offset, f"{action.column_name} to {action.new_name}"


@rule(
    "renaming-table",
    ERROR,
    "Renaming a table breaks the code still running that uses the old name.",
    "Keep the table name (db_table=... in Django), or create a view with the old name while "
    "the old code runs.",
    django_hint=("Keep the table: set Meta.db_table to the old name instead of renaming it."),
)
def _renaming_table(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "rename_table"):
        yield action.offset, f"{statement.table} to {action.new_name}"


@rule(
    "ban-drop-column",
    ERROR,
    "Dropping a column breaks the code still running that reads or writes it.",
    "Stop using the column first (in Django: SeparateDatabaseAndState to remove the field "
    "from the model only), deploy, then drop it in a later release.",
)
def _ban_drop_column(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for action in _altered(statement, context, "drop_column"):
        yield action.offset, f"column {action.column_name}"


@rule(
    "ban-drop-table",
    ERROR,
    "Dropping a table breaks the code still running that uses it, and loses its data.",
    "Stop using the table first, deploy, then drop it in a later release (keep a backup).",
    django_hint=(
        "SeparateDatabaseAndState with DeleteModel in state_operations only; drop the table"
        " in a later release."
    ),
)
def _ban_drop_table(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind == "drop_table" and _existing(statement, context):
        yield 0, f"table {statement.table}"


@rule(
    "ban-drop-database",
    ERROR,
    "Dropping a database from a migration loses everything in it.",
    "Do it by hand, deliberately, never from a migration.",
)
def _ban_drop_database(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind == "drop_database":
        yield 0, ""


@rule(
    "ban-truncate-table",
    ERROR,
    "TRUNCATE takes an ACCESS EXCLUSIVE lock and deletes every row at once.",
    "Delete in batches (DELETE ... WHERE id IN (SELECT ... LIMIT n)), or do it by hand.",
)
def _ban_truncate(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    if statement.kind == "truncate" and _existing(statement, context):
        yield 0, f"table {statement.table}"


@rule(
    "validate-constraint-in-same-transaction",
    ERROR,
    "VALIDATE in the transaction that added the constraint keeps the strong lock during the scan.",
    "Put VALIDATE CONSTRAINT in a separate script (or set atomic=false), so the ADD commits "
    "and releases its lock first.",
)
def _validate_in_same_transaction(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind != "alter_table":
        return
    for action in _actions(statement, "validate_constraint"):
        if context.in_transaction and context.added_in_this_transaction(action.constraint_name):
            yield action.offset, f"constraint {action.constraint_name}"


@rule(
    "unbatched-backfill",
    WARNING,
    "This UPDATE/DELETE touches a whole existing table in one transaction, locking every row "
    "it changes until it commits.",
    "Backfill in committed batches: put -- schemaops: batch size=10000 above the statement and "
    "limit it with id >= :batch_start AND id < :batch_end; never in the same transaction as "
    "DDL on the table.",
    django_hint=(
        "Backfill in batches of a few thousand rows, each in its own transaction.atomic(), in a "
        "migration with atomic = False (or a command run after the deploy); never in the same "
        "transaction as DDL on the table."
    ),
)
def _unbatched_backfill(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind not in ("update", "delete") or not _existing(statement, context):
        return
    if not statement.has_where:
        yield 0, f"{statement.kind.upper()} of every row of {statement.table}"
    elif context.in_transaction and context.ddl_in_this_transaction(statement.table):
        yield 0, f"in the same transaction as DDL on {statement.table}"


def _columns_of(statement: SqlStatement) -> Iterator[Column]:
    if statement.kind == "create_table":
        yield from statement.columns
    elif statement.kind == "alter_table":
        for action in _actions(statement, "add_column"):
            if action.column is not None:
                yield action.column


@rule(
    "prefer-bigint-over-int",
    WARNING,
    "A 32-bit integer key runs out at 2,147,483,647.",
    "Use bigint (BigAutoField, DEFAULT_AUTO_FIELD = BigAutoField) for ids and counters.",
)
def _prefer_bigint(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for column in _columns_of(statement):
        if column.type in (
            "INT",
            "INTEGER",
            "INT4",
            "SERIAL",
            "SERIAL4",
            "SMALLINT",
            "INT2",
            "SMALLSERIAL",
            "SERIAL2",
        ):
            yield column.offset, f"column {column.name}"


@rule(
    "prefer-identity",
    WARNING,
    "serial columns have ownership and permission quirks; identity columns are the standard.",
    "Use bigint GENERATED BY DEFAULT AS IDENTITY.",
)
def _prefer_identity(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for column in _columns_of(statement):
        if _serial(column):
            yield column.offset, f"column {column.name}"


@rule(
    "prefer-timestamp-tz",
    WARNING,
    "timestamp without time zone loses the offset; comparisons across zones go wrong.",
    "Use timestamptz (Django's DateTimeField with USE_TZ = True does).",
)
def _prefer_timestamptz(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    for column in _columns_of(statement):
        if (
            column.type.startswith("TIMESTAMP")
            and "WITH TIME ZONE" not in column.type
            and not (column.type.startswith("TIMESTAMPTZ"))
        ):
            yield column.offset, f"column {column.name}"


@rule(
    "prefer-text-field",
    WARNING,
    "Changing a varchar(n) limit later takes an ACCESS EXCLUSIVE lock.",
    "Use text, with a CHECK (char_length(col) <= n) constraint if a limit matters.",
)
def _prefer_text(statement: SqlStatement, context: LintContext) -> Iterator[tuple[int, str]]:
    for column in _columns_of(statement):
        if column.type.startswith(("VARCHAR(", "CHARACTER VARYING(")):
            yield column.offset, f"column {column.name}"
