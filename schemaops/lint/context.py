"""What the linter knows while it walks a unit: tables created, constraints added and
validated, whether a transaction is open, and the target PostgreSQL version."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from schemaops.lint import DEFAULT_PG_VERSION as DEFAULT_PG_VERSION

if TYPE_CHECKING:
    from schemaops.lint.syntax import SqlStatement

_NOT_NULL_CHECK = re.compile(r'^\(?\s*"?(?P<column>[\w$]+)"?\s+IS\s+NOT\s+NULL\s*\)?$', re.I)


class LintContext:
    """State carried across the statements of a unit (a script or a migration) and,
    for what outlives a unit, across units linted in sequence.

    No rule asks for ``lock_timeout`` or ``statement_timeout``: the runner sets both
    for every script statement, so such a rule would only make noise.

    (A plain class, as the other records of the console's path are named tuples: a
    dataclass costs about a millisecond to build at import, and the console script
    has to start in a few tens of them.)
    """

    def __init__(
        self,
        pg_version: int = DEFAULT_PG_VERSION,
        django: bool = False,
        carry_created: bool = False,
    ) -> None:
        self.pg_version = pg_version
        # Units are Django migrations: hints give the Django way.
        self.django = django
        # Units run together (pending, one deploy): a table created by an earlier
        # unit is still new and empty in a later one.
        self.carry_created = carry_created
        # Per unit.
        self.created_tables: set[str] = set()
        self.in_transaction = False
        self.explicit_transaction = False
        # The unit's own BEGIN; ... COMMIT; was dropped (a script that cannot run in a
        # transaction): it runs statement by statement, not as its author wrote it.
        self.dropped_wrapper = False
        self.transaction_constraints: set[str] = set()
        self.transaction_ddl_tables: set[str] = set()
        # Across units: CHECK (col IS NOT NULL) constraints, by name, and the
        # (table, column) pairs a validated one proves.
        self.not_null_checks: dict[str, tuple[str, str]] = {}
        self.validated_not_null: set[tuple[str, str]] = set()
        # Across units: the (table, column) pairs and the tables an earlier Django
        # migration removed from the models only (SeparateDatabaseAndState's
        # state_operations), so the code deployed since no longer reads them.
        self.state_removed_columns: set[tuple[str, str]] = set()
        self.state_removed_tables: set[str] = set()
        # From a live database: the domains with a constraint (CHECK or NOT NULL), by
        # name as lowercase. A column of such a type added with a default rewrites the
        # table, whatever the default (PostgreSQL checks every row against them).
        self.constrained_domains: set[str] = set()

    def start_unit(self, atomic: bool, dropped_wrapper: bool = False) -> None:
        """Forget what belongs to the previous unit; ``atomic`` opens its transaction;
        ``dropped_wrapper``: the loader dropped the unit's ``BEGIN``/``COMMIT``."""
        if not self.carry_created:
            self.created_tables = set()
        self.in_transaction = atomic
        self.explicit_transaction = False
        self.dropped_wrapper = dropped_wrapper
        self.transaction_constraints = set()
        self.transaction_ddl_tables = set()

    def created_here(self, table: str) -> bool:
        return _bare(table) in self.created_tables

    def has_validated_not_null(self, table: str, column: str) -> bool:
        return (_bare(table), column) in self.validated_not_null

    def removed_from_state_before(self, table: str, column: str | None = None) -> bool:
        """Whether an earlier migration removed the column (``column`` None: the table)
        from the models only, the first step of a staged drop."""
        if column is None:
            return _bare(table) in self.state_removed_tables
        return (_bare(table), column) in self.state_removed_columns

    def added_in_this_transaction(self, constraint: str) -> bool:
        return constraint in self.transaction_constraints

    def ddl_in_this_transaction(self, table: str) -> bool:
        return _bare(table) in self.transaction_ddl_tables

    def after(self, statement: SqlStatement) -> None:
        """Carry forward what ``statement`` did."""
        kind = statement.kind
        table = _bare(statement.table)
        if kind == "begin":
            self.in_transaction = self.explicit_transaction = True
            self.transaction_constraints = set()
            self.transaction_ddl_tables = set()
        elif kind == "commit":
            self.in_transaction = self.explicit_transaction = False
            self.transaction_constraints = set()
            self.transaction_ddl_tables = set()
        elif kind in ("create_table", "create_materialized_view"):
            self.created_tables.add(table)
        elif kind == "drop_table":
            # A staged drop is done: a table of that name made later is another one.
            self.state_removed_tables.discard(table)
        elif kind == "alter_table":
            self.transaction_ddl_tables.add(table)
            for action in statement.actions:
                if action.kind == "drop_column":
                    self.state_removed_columns.discard((table, action.column_name))
                elif action.kind == "rename_table" and table in self.created_tables:
                    # Renamed, it is the same new, empty table under its new name.
                    self.created_tables.add(_renamed(table, action.new_name))
                elif action.kind == "add_constraint" and action.constraint_name:
                    self.transaction_constraints.add(action.constraint_name)
                    match = _NOT_NULL_CHECK.match(action.expression)
                    if action.constraint == "check" and match:
                        pair = (table, match.group("column").lower())
                        self.not_null_checks[action.constraint_name] = pair
                        if not action.not_valid:
                            self.validated_not_null.add(pair)
                elif action.kind == "validate_constraint":
                    pair_or_none = self.not_null_checks.get(action.constraint_name)
                    if pair_or_none is not None:
                        self.validated_not_null.add(pair_or_none)
        if not self.in_transaction:
            self.transaction_constraints = set()
            self.transaction_ddl_tables = set()


def _renamed(table: str, new_name: str) -> str:
    """The name ``table`` has after ``RENAME TO new_name``: it stays in its schema."""
    schema, dot, _ = table.rpartition(".")
    return f"{schema}{dot}{new_name}"


def _bare(table: str) -> str:
    """Drop a ``public.`` schema, so ``public.t`` and ``t`` are one table."""
    return table[7:] if table.startswith("public.") else table
