"""The database's schema, read from PostgreSQL's catalog: one query per kind of
object for the whole database (never one per table), through Django's connection.

What varies between two databases made by the same migrations is never read:
no OIDs, owners, privileges, tablespaces, statistics or sequences' current
values. Names are sorted by code point (PostgreSQL's ``COLLATE "C"``), and the
deparsers' output is made independent of the session: ``search_path`` is empty
(every name of ours comes out schema-qualified, as in ``pg_dump``), dates, times
and numbers in a fixed style.

Left out: the system schemas (``pg_catalog``, ``information_schema``,
``pg_toast``, temporary schemas) and every object that belongs to an extension
(``pg_depend.deptype = 'e'``), which ``CREATE EXTENSION`` brings.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from schemaops.schema import ddl
from schemaops.schema.objects import SchemaObject

# The session the deparsers run in: every name of ours qualified, and constants
# (a timestamp default, a float) written the same way on every server.
_SESSION = """
SELECT set_config('search_path', '', true), set_config('DateStyle', 'ISO, YMD', true),
       set_config('IntervalStyle', 'postgres', true), set_config('TimeZone', 'UTC', true),
       set_config('extra_float_digits', '1', true), set_config('bytea_output', 'hex', true)
"""

# Constant fragments of the queries below (no user input is ever formatted in).
_USER_SCHEMA = "({n}.nspname !~ '^pg_' AND {n}.nspname <> 'information_schema')"
_NOT_FROM_EXTENSION = (
    "NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = '{catalog}'::regclass "
    "AND e.objid = {oid} AND e.deptype = 'e')"
)


def _ours(catalog: str, oid: str, namespace: str = "n") -> str:
    """The condition that an object is in a user schema and no extension's."""
    return (
        f"{_USER_SCHEMA.format(n=namespace)} AND "
        f"{_NOT_FROM_EXTENSION.format(catalog=catalog, oid=oid)}"
    )


_EXTENSIONS = """
SELECT e.extname AS name, quote_ident(e.extname) AS quoted, quote_ident(n.nspname) AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
ORDER BY e.extname COLLATE "C"
"""

_SCHEMAS = f"""
SELECT n.nspname AS name, quote_ident(n.nspname) AS quoted,
       obj_description(n.oid, 'pg_namespace') AS comment
FROM pg_namespace n
WHERE {_ours("pg_namespace", "n.oid")}
ORDER BY n.nspname COLLATE "C"
"""

_FUNCTIONS = f"""
SELECT n.nspname AS schema, p.proname AS name, p.prokind AS kind,
       quote_ident(n.nspname) || '.' || quote_ident(p.proname)
           || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature,
       pg_get_functiondef(p.oid) AS definition,
       obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p', 'w') AND {_ours("pg_proc", "p.oid")}
ORDER BY n.nspname COLLATE "C", p.proname COLLATE "C",
    pg_get_function_identity_arguments(p.oid) COLLATE "C"
"""

# Tables, partitioned tables, views and materialized views.
_RELATIONS = f"""
SELECT c.oid, c.relkind AS kind, n.nspname AS schema, c.relname AS name,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
       c.relpersistence AS persistence, c.reloptions AS options,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       (SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
        FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
        JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE c.relispartition AND i.inhrelid = c.oid) AS partition_of,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS query,
       obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {_ours("pg_class", "c.oid")}
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
"""

# Every column of those relations, with its identity sequence's options.
_COLUMNS = f"""
SELECT a.attrelid AS relation, quote_ident(a.attname) AS name,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       a.attidentity AS identity, a.attgenerated AS generated,
       pg_get_expr(d.adbin, d.adrelid) AS default,
       CASE WHEN a.attcollation <> t.typcollation THEN
           CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
       END AS collation,
       col_description(a.attrelid, a.attnum) AS comment,
       format_type(s.seqtypid, NULL) AS sequence_type, s.seqstart AS start,
       s.seqincrement AS increment, s.seqmin AS minimum, s.seqmax AS maximum,
       s.seqcache AS cache, s.seqcycle AS cycle
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_depend i ON i.refclassid = 'pg_class'::regclass AND i.refobjid = a.attrelid
    AND i.refobjsubid = a.attnum AND i.classid = 'pg_class'::regclass AND i.deptype = 'i'
LEFT JOIN pg_sequence s ON s.seqrelid = i.objid
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')
    AND {_ours("pg_class", "c.oid")}
ORDER BY a.attrelid, a.attnum
"""

# Sequences of their own (serial columns' too), not identity columns' sequences.
_SEQUENCES = f"""
SELECT n.nspname AS schema, c.relname AS name,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
       format_type(s.seqtypid, NULL) AS type, s.seqstart AS start,
       s.seqincrement AS increment, s.seqmin AS minimum, s.seqmax AS maximum,
       s.seqcache AS cache, s.seqcycle AS cycle,
       (SELECT quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || '.'
               || quote_ident(ta.attname)
        FROM pg_depend o JOIN pg_class tc ON tc.oid = o.refobjid
        JOIN pg_namespace tn ON tn.oid = tc.relnamespace
        JOIN pg_attribute ta ON ta.attrelid = o.refobjid AND ta.attnum = o.refobjsubid
        WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid
            AND o.refclassid = 'pg_class'::regclass AND o.deptype = 'a'
            AND o.refobjsubid > 0) AS owned_by,
       obj_description(c.oid, 'pg_class') AS comment
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_ours("pg_class", "c.oid")}
    AND NOT EXISTS (SELECT FROM pg_depend i WHERE i.classid = 'pg_class'::regclass
                    AND i.objid = c.oid AND i.deptype = 'i')
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
"""

# Table constraints, without PostgreSQL 18's NOT NULL rows (the columns say NOT
# NULL, as on earlier servers) and without the copies partitions inherit.
_CONSTRAINTS = f"""
SELECT n.nspname AS schema, c.relname AS table_name, k.conname AS name,
       quote_ident(k.conname) AS quoted,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
       k.contype AS type, pg_get_constraintdef(k.oid) AS definition,
       obj_description(k.oid, 'pg_constraint') AS comment
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype <> 'n' AND k.conparentid = 0 AND k.conislocal
    AND {_ours("pg_class", "c.oid")}
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", k.conname COLLATE "C"
"""

# Indexes, except those a constraint above makes (primary keys, unique, exclusion).
_INDEXES = f"""
SELECT n.nspname AS schema, ic.relname AS name,
       quote_ident(n.nspname) || '.' || quote_ident(ic.relname) AS qualified,
       pg_get_indexdef(x.indexrelid) AS definition, x.indisvalid AS valid,
       obj_description(x.indexrelid, 'pg_class') AS comment
FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND {_ours("pg_class", "c.oid")}
    AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = x.indexrelid
                    AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x'))
ORDER BY n.nspname COLLATE "C", ic.relname COLLATE "C"
"""

# Triggers a user made (not the internal ones of foreign keys, nor partitions' copies).
_TRIGGERS = f"""
SELECT n.nspname AS schema, c.relname AS table_name, t.tgname AS name,
       quote_ident(t.tgname) AS quoted,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
       pg_get_triggerdef(t.oid) AS definition, t.tgenabled AS enabled,
       obj_description(t.oid, 'pg_trigger') AS comment
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {_ours("pg_class", "c.oid")}
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", t.tgname COLLATE "C"
"""


def read(using: str = DEFAULT_DB_ALIAS) -> list[SchemaObject]:
    """Read every object of database ``using``'s schema, in the file's order.

    The queries run in one transaction (read-only and repeatable read when this
    starts it, so they see one moment; a savepoint of the caller's otherwise),
    rolled back at the end: the session's settings changed for the deparsers do
    not outlive it.
    """
    connection = connections[using]
    starts_transaction = not connection.in_atomic_block
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if starts_transaction:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute(_SESSION)
        rows = {name: _rows(cursor, query) for name, query in _QUERIES.items()}
        transaction.set_rollback(True, using=using)
    return sorted(_objects(rows), key=lambda o: o.sort_key)


_QUERIES = {
    "extensions": _EXTENSIONS,
    "schemas": _SCHEMAS,
    "functions": _FUNCTIONS,
    "relations": _RELATIONS,
    "columns": _COLUMNS,
    "sequences": _SEQUENCES,
    "constraints": _CONSTRAINTS,
    "indexes": _INDEXES,
    "triggers": _TRIGGERS,
}


def _rows(cursor: Any, query: str) -> list[dict[str, Any]]:
    cursor.execute(query)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _objects(rows: dict[str, list[dict[str, Any]]]) -> list[SchemaObject]:
    columns: dict[int, list[dict[str, Any]]] = {}
    for column in rows["columns"]:
        columns.setdefault(column["relation"], []).append(column)
    objects = [ddl.extension(row) for row in rows["extensions"]]
    objects += [ddl.schema(row) for row in rows["schemas"]]
    objects += [ddl.function(row) for row in rows["functions"]]
    objects += [ddl.sequence(row) for row in rows["sequences"]]
    objects += [ddl.relation(row, columns.get(row["oid"], [])) for row in rows["relations"]]
    objects += [ddl.constraint(row) for row in rows["constraints"]]
    objects += [ddl.index(row) for row in rows["indexes"]]
    objects += [ddl.trigger(row) for row in rows["triggers"]]
    return objects
