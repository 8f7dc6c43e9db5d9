"""Drift: where the live database differs from what the Django models say it should
contain (``manage.py schemaops validate``, the admin's status page, and health when
``SCHEMAOPS["HEALTH_CHECKS_DRIFT"]`` is on).

A finding is something the code can trip over: a table, a column, its type or
nullability, an index or constraint the models imply, a NOT NULL column the
models do not know (their inserts fail), an INVALID index. Objects the models do
not know are not drift by themselves: scripts create them.

The cost is fixed: the migration history (one query), the catalog (three), the
expected types normalised by the server (two), however many models there are.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from schemaops.schema import expected, live


class Kind(enum.Enum):
    """Every kind of drift, once."""

    MISSING_TABLE = "missing-table"
    MISSING_COLUMN = "missing-column"
    COLUMN_TYPE = "column-type"
    COLUMN_NULLABLE = "column-nullable"  # NULL-able, the model says NOT NULL
    COLUMN_NOT_NULL = "column-not-null"  # NOT NULL, the model allows NULL
    UNKNOWN_REQUIRED_COLUMN = "unknown-required-column"
    MISSING_INDEX = "missing-index"
    MISSING_UNIQUE = "missing-unique"
    MISSING_PRIMARY_KEY = "missing-primary-key"
    MISSING_CHECK = "missing-check"
    MISSING_CONSTRAINT = "missing-constraint"  # a Meta.indexes or Meta.constraints entry
    MISSING_FOREIGN_KEY = "missing-foreign-key"
    INVALID_INDEX = "invalid-index"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One difference: where (app, model, table, field or index), what the model
    expects, what the database has, and the likely fix."""

    kind: Kind
    app: str  # "" for an INVALID index no model implies
    model: str
    table: str
    object: str  # the field, column, index or constraint at fault
    expected: str
    actual: str
    fix: str

    @property
    def where(self) -> str:
        if not self.model:
            return f"table {self.table}"
        return f"{self.app}.{self.model}" + (f".{self.object}" if self.object else "")

    def __str__(self) -> str:
        return (
            f"{self.where}: {self.kind.value}: the models expect {self.expected}; "
            f"the database has {self.actual}. {self.fix}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "kind": self.kind.value}


@dataclasses.dataclass(frozen=True)
class Drift:
    """The findings on one database, and what was compared."""

    database: str
    findings: list[Finding]
    models: int  # how many models' tables were compared
    pending_apps: tuple[str, ...] = ()  # left out: their migrations are not all applied
    unmigrated_apps: tuple[str, ...] = ()  # left out: no migrations, migrate creates nothing

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "models": self.models,
            "pending_apps": list(self.pending_apps),
            "unmigrated_apps": list(self.unmigrated_apps),
            "findings": [f.as_dict() for f in self.findings],
        }


def check(using: str = DEFAULT_DB_ALIAS) -> Drift:
    """Compare ``using`` with the models of every installed app that migrate puts there.

    Apps with pending migrations are left out (their tables are not due until
    ``migrate`` runs; ``status`` and health report them), and so are apps without
    migrations.
    """
    scope = expected.scope(using)
    return compare(using, expected.tables(using, scope.models), scope)


def compare(
    using: str, tables: list[expected.Table], scope: expected.Scope | None = None
) -> Drift:
    """Compare ``using`` with the expected ``tables`` (:func:`expected.tables`)."""
    schema = live.read(using)
    types = live.normalise_types(using, {c.type for t in tables for c in t.columns})
    findings: list[Finding] = []
    known_columns: dict[str, set[str]] = {}
    for table in tables:
        known_columns.setdefault(table.table, set()).update(c.name for c in table.columns)
    invalid_names = {(i.table, i.name) for i in schema.invalid_indexes}
    for table in tables:
        actual = schema.tables.get(table.table)
        if actual is None:
            findings.append(_missing_table(table))
            continue
        findings.extend(_columns(table, actual, types))
        findings.extend(_unknown_required(table, actual, known_columns[table.table]))
        for constraint in table.constraints:
            if constraint.columns and not all(c in actual.columns for c in constraint.columns):
                continue  # the missing column is the finding
            if not _present(constraint, actual, invalid_names):
                findings.append(_missing_constraint(table, constraint))
    owners = {t.table: t for t in tables}
    findings.extend(_invalid(index, owners.get(index.table)) for index in schema.invalid_indexes)
    return Drift(
        database=using,
        findings=findings,
        models=len(tables),
        pending_apps=scope.pending_apps if scope else (),
        unmigrated_apps=scope.unmigrated_apps if scope else (),
    )


# Columns --------------------------------------------------------------------------


def _columns(table: expected.Table, actual: live.Table, types: dict[str, str]) -> list[Finding]:
    found: list[Finding] = []
    for column in table.columns:
        here = actual.columns.get(column.name)
        described = f"column {table.table}.{column.name}"
        if here is None:
            found.append(
                _finding(
                    Kind.MISSING_COLUMN,
                    table,
                    column.field,
                    f"{described} ({column.type}{'' if column.null else ' NOT NULL'})",
                    "no such column",
                    "A migration is missing (run manage.py makemigrations "
                    f"{table.app}), or a script or a hand edit dropped or renamed it.",
                )
            )
            continue
        want = types.get(column.type, column.type)
        if column.compare_type and want != here.type:
            found.append(
                _finding(
                    Kind.COLUMN_TYPE,
                    table,
                    column.field,
                    f"{described} of type {want}",
                    f"type {here.type}",
                    "A migration is missing (makemigrations), or a script or a hand edit "
                    "changed the type: change it back, or record the change in the model "
                    "and a migration (SeparateDatabaseAndState if the database is right).",
                )
            )
        if not column.null and not here.not_null:
            found.append(
                _finding(
                    Kind.COLUMN_NULLABLE,
                    table,
                    column.field,
                    f"{described} NOT NULL",
                    "it NULL-able",
                    "A migration that has not run, a script that failed part-way, or a "
                    "hand DROP NOT NULL: fill the NULLs, then SET NOT NULL (after a "
                    "validated CHECK (... IS NOT NULL) on a big table).",
                )
            )
        elif column.null and here.not_null:
            found.append(
                _finding(
                    Kind.COLUMN_NOT_NULL,
                    table,
                    column.field,
                    f"{described} NULL-able (null=True)",
                    "it NOT NULL",
                    "Saving None fails. If a script made it NOT NULL on purpose, set "
                    "null=False on the field and record it with a state-only migration "
                    "(SeparateDatabaseAndState); otherwise DROP NOT NULL.",
                )
            )
    return found


def _unknown_required(table: expected.Table, actual: live.Table, known: set[str]) -> list[Finding]:
    return [
        _finding(
            Kind.UNKNOWN_REQUIRED_COLUMN,
            table,
            column.name,
            "a field for every NOT NULL column without a default",
            f"column {table.table}.{column.name} ({column.type} NOT NULL, no default), "
            "which no field has",
            "The models' inserts fail on it. Give it a DEFAULT or DROP NOT NULL (a script), "
            "or add the field to the model.",
        )
        for column in actual.columns.values()
        if column.required and column.name not in known
    ]


def _missing_table(table: expected.Table) -> Finding:
    what = f"table {table.table}"
    if table.owner:
        what += f" (the many-to-many table of {table.owner})"
    return _finding(
        Kind.MISSING_TABLE,
        table,
        "",
        what,
        "no such table or view",
        f"A migration is missing (run manage.py makemigrations {table.app}), or a script or "
        "a hand edit dropped or renamed it: restore it, or fake the migration back and "
        "migrate again.",
    )


# Indexes and constraints -------------------------------------------------------------


def _present(want: expected.Constraint, actual: live.Table, invalid: set[tuple[str, str]]) -> bool:
    """Whether the database has what ``want`` stands for. An INVALID index of the
    expected name counts: its own finding says to rebuild it."""
    names = {i.name for i in actual.indexes} | {c.name for c in actual.constraints}
    if want.name and (want.name in names or (actual.name, want.name) in invalid):
        return True
    columns = set(want.columns)
    if want.kind is expected.Kind.NAMED:
        return False
    if want.kind is expected.Kind.INDEX:
        return any(
            i.valid
            and not i.partial
            and i.columns == want.columns
            and (i.opclasses == want.opclasses if want.opclasses else not any(i.opclasses))
            for i in actual.indexes
        )
    if want.kind is expected.Kind.UNIQUE:
        return any(
            c.kind in ("u", "p") and set(c.columns) == columns for c in actual.constraints
        ) or any(
            i.unique and i.valid and not i.partial and set(i.columns) == columns
            for i in actual.indexes
        )
    if want.kind is expected.Kind.PRIMARY_KEY:
        return any(c.kind == "p" and set(c.columns) == columns for c in actual.constraints)
    if want.kind is expected.Kind.CHECK:
        return any(c.kind == "c" and c.columns == want.columns for c in actual.constraints)
    assert want.kind is expected.Kind.FOREIGN_KEY
    assert want.target is not None
    return any(
        c.kind == "f"
        and c.columns == want.columns
        and (c.target_table, c.target_columns) == (want.target[0], (want.target[1],))
        for c in actual.constraints
    )


_MISSING_KIND = {
    expected.Kind.INDEX: Kind.MISSING_INDEX,
    expected.Kind.NAMED: Kind.MISSING_CONSTRAINT,
    expected.Kind.UNIQUE: Kind.MISSING_UNIQUE,
    expected.Kind.PRIMARY_KEY: Kind.MISSING_PRIMARY_KEY,
    expected.Kind.CHECK: Kind.MISSING_CHECK,
    expected.Kind.FOREIGN_KEY: Kind.MISSING_FOREIGN_KEY,
}


def _missing_constraint(table: expected.Table, want: expected.Constraint) -> Finding:
    what = _describe(table, want)
    how = (
        f"Recreate it, in a script: {want.sql}."
        if want.sql
        else "Recreate it as its migration does."
    )
    if want.kind is expected.Kind.FOREIGN_KEY:
        how = (
            f"Recreate it, in a script: {want.sql} NOT VALID; then VALIDATE CONSTRAINT "
            "in a second statement (no long lock)."
        )
    return _finding(
        _MISSING_KIND[want.kind],
        table,
        want.field or want.name,
        what,
        "none",
        "A migration is missing (makemigrations), a script failed, or a hand edit dropped "
        f"it. {how}",
    )


def _describe(table: expected.Table, want: expected.Constraint) -> str:
    columns = ", ".join(want.columns)
    on = f"on {table.table} ({columns})"
    if want.kind is expected.Kind.NAMED:
        return f"{want.source} entry {want.name} on {table.table}"
    if want.kind is expected.Kind.INDEX:
        ops = f" with {', '.join(want.opclasses)}" if want.opclasses else ""
        return f"index {want.name} {on}{ops} ({want.source})"
    if want.kind is expected.Kind.FOREIGN_KEY:
        assert want.target is not None
        return (
            f"a foreign key {on} to {want.target[0]} ({want.target[1]}) "
            f"({want.source}; Django names it {want.name})"
        )
    named = f"; Django names it {want.name}" if want.name else ""
    return f"a {want.kind.value} constraint {on} ({want.source}{named})"


def _invalid(index: live.Index, owner: expected.Table | None) -> Finding:
    where = index.name if index.schema == "public" else f"{index.schema}.{index.name}"
    fix = (
        f"A CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY failed or was cancelled; the "
        f"index slows every write and serves no read. Drop it (DROP INDEX CONCURRENTLY "
        f"{where}), remove what made the build fail (duplicate rows for a unique index), "
        "and build it again."
    )
    actual = "INVALID"
    if index.building:
        actual, fix = "INVALID while a build runs now", "Wait for the build to end."
    return Finding(
        kind=Kind.INVALID_INDEX,
        app=owner.app if owner else "",
        model=owner.model if owner else "",
        table=index.table,
        object=index.name,
        expected="every index valid",
        actual=f"index {where} on {index.table} {actual}",
        fix=fix,
    )


def _finding(
    kind: Kind, table: expected.Table, obj: str, want: str, actual: str, fix: str
) -> Finding:
    return Finding(kind, table.app, table.model, table.table, obj, want, actual, fix)
