"""The live database's schema, read from the catalog in a fixed handful of queries
for the whole database (never one per table): the relations and columns on the
search path, their indexes and constraints, and every INVALID index.

Django's introspection asks per table; on a schema of a thousand tables that is
thousands of round trips, so drift reads the catalog itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable
from contextlib import AbstractContextManager

from django.db import DatabaseError, connections, transaction


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: str  # as PostgreSQL shows it: format_type(atttypid, atttypmod)
    not_null: bool
    has_default: bool  # a DEFAULT, an identity or a generated column: inserts need no value

    @property
    def required(self) -> bool:
        """Whether an insert that leaves the column out fails."""
        return self.not_null and not self.has_default


@dataclasses.dataclass(frozen=True)
class Index:
    name: str
    table: str
    schema: str
    columns: tuple[str, ...]  # the key columns, in order; "" for an expression
    opclasses: tuple[str, ...]  # the key columns' operator classes, "" where the default
    unique: bool
    valid: bool
    partial: bool  # a WHERE or an expression: only a name matches it
    building: bool  # a CREATE INDEX [CONCURRENTLY] is building it right now

    @property
    def plain(self) -> bool:
        """A valid index on columns only, every one with its default operator class."""
        return self.valid and not self.partial and not any(self.opclasses)


@dataclasses.dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # pg_constraint.contype: p, u, f, c or x
    columns: tuple[str, ...]
    target_table: str | None  # a foreign key's: the referenced table and columns
    target_columns: tuple[str, ...]


@dataclasses.dataclass
class Table:
    name: str
    columns: dict[str, Column]
    indexes: list[Index] = dataclasses.field(default_factory=list)
    constraints: list[Constraint] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Schema:
    """What the catalog says: the relations Django's unqualified names resolve to
    (visible on the search path), and every INVALID index in the database."""

    tables: dict[str, Table]
    invalid_indexes: list[Index]


_RELATIONS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
FROM pg_class c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND c.relnamespace <> 'pg_catalog'::regnamespace
  AND pg_table_is_visible(c.oid)
ORDER BY c.relname, a.attnum
"""

# Key columns only (INCLUDE columns follow them in indkey); attnum 0 is an expression.
_INDEXES = """
SELECT ic.relname, t.relname, n.nspname,
       ARRAY(SELECT coalesce(a.attname, '')
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts ORDER BY k.ord),
       ARRAY(SELECT CASE WHEN o.opcdefault THEN '' ELSE o.opcname END
             FROM unnest(i.indclass::oid[]) WITH ORDINALITY k(opc, ord)
             JOIN pg_opclass o ON o.oid = k.opc ORDER BY k.ord),
       i.indisunique, i.indisvalid, i.indpred IS NOT NULL OR i.indexprs IS NOT NULL,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
               WHERE p.index_relid = i.indexrelid),
       pg_table_is_visible(t.oid)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp)'
  AND (NOT i.indisvalid OR pg_table_is_visible(t.oid))
ORDER BY t.relname, ic.relname
"""

_CONSTRAINTS = """
SELECT t.relname, con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       f.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord)
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
LEFT JOIN pg_class f ON f.oid = con.confrelid
WHERE con.contype IN ('p', 'u', 'f', 'c', 'x')
  AND t.relnamespace <> 'pg_catalog'::regnamespace
  AND pg_table_is_visible(t.oid)
ORDER BY t.relname, con.conname
"""


def read(using: str) -> Schema:
    """Read the schema of ``using``: three queries, whatever its size."""
    tables: dict[str, Table] = {}
    invalid: list[Index] = []
    with connections[using].cursor() as cursor:
        cursor.execute(_RELATIONS)
        for relname, attname, type_, not_null, has_default in cursor.fetchall():
            table = tables.setdefault(relname, Table(relname, {}))
            if attname is not None:
                table.columns[attname] = Column(attname, type_, not_null, has_default)
        cursor.execute(_INDEXES)
        for row in cursor.fetchall():
            name, relname, schema, columns, opclasses, unique, valid, partial, building = row[:9]
            index = Index(
                name, relname, schema, tuple(columns), tuple(opclasses), unique, valid,
                partial, building,
            )  # fmt: skip
            if not valid:
                invalid.append(index)
            if row[9] and relname in tables:
                tables[relname].indexes.append(index)
        cursor.execute(_CONSTRAINTS)
        for relname, name, kind, columns, target, target_columns in cursor.fetchall():
            if relname in tables:
                tables[relname].constraints.append(
                    Constraint(name, kind, tuple(columns), target, tuple(target_columns))
                )
    return Schema(tables, invalid)


# Types --------------------------------------------------------------------------

# Not types but shorthands CREATE TABLE expands (a sequence default on the type).
_SHORTHANDS = {"smallserial": "smallint", "serial": "integer", "bigserial": "bigint"}
# PostgreSQL allows at most 1,664 entries in a select list.
_CHUNK = 1000


def normalise_types(using: str, types: Iterable[str]) -> dict[str, str]:
    """Return each type as PostgreSQL shows it (``varchar(20)`` becomes ``character
    varying(20)``), asked of the server, so that spelling is never drift.

    One query casts a NULL to every type (per thousand types) and reads each
    result column's type and modifier; one more formats them. ``::regtype``
    alone would lose the modifier (the length of a ``varchar``). A type the
    server does not know (an extension not installed) stays as written.
    """
    wanted = sorted(set(types))
    shown: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        try:
            with _undoable(using):
                shown.update(_normalise(using, chunk))
        except DatabaseError:
            for type_ in chunk:  # find the ones it does not know, one by one
                try:
                    with _undoable(using):
                        shown.update(_normalise(using, [type_]))
                except DatabaseError:
                    shown[type_] = type_
    return shown


def _undoable(using: str) -> AbstractContextManager[object]:
    """A savepoint inside a transaction (a failed cast would abort it); nothing in
    autocommit, where a failed query spoils nothing."""
    if connections[using].in_atomic_block:
        return transaction.atomic(using=using)
    return contextlib.nullcontext()


def _normalise(using: str, types: list[str]) -> dict[str, str]:
    select = ", ".join(f"NULL::{_SHORTHANDS.get(t.lower(), t)}" for t in types)
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {select}")  # the types are Django's, from the models' code
        result = cursor.cursor.pgresult
        oids = [result.ftype(i) for i in range(len(types))]
        modifiers = [result.fmod(i) for i in range(len(types))]
        cursor.execute(
            "SELECT format_type(t.oid, t.modifier)"
            " FROM unnest(%s::oid[], %s::int[]) WITH ORDINALITY t(oid, modifier, ord)"
            " ORDER BY t.ord",
            [oids, modifiers],
        )
        return {t: row[0] for t, row in zip(types, cursor.fetchall(), strict=True)}
