"""Data rules: backfills that lock a whole table's rows in one transaction."""

from __future__ import annotations

from collections.abc import Iterator

from schemaops.lint.context import LintContext
from schemaops.lint.rules import WARNING, RuleName, existed_before, reads, rule
from schemaops.lint.syntax import SqlStatement


@rule(
    RuleName.UNBATCHED_BACKFILL,
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
@reads("update", "delete")
def _unbatched_backfill(
    statement: SqlStatement, context: LintContext
) -> Iterator[tuple[int, str]]:
    if statement.kind not in ("update", "delete") or not existed_before(statement, context):
        return
    if not statement.has_where:
        yield 0, f"{statement.kind.upper()} of every row of {statement.table}"
    elif context.in_transaction and context.ddl_in_this_transaction(statement.table):
        yield 0, f"in the same transaction as DDL on {statement.table}"
