"""The SQL of each object of the schema file, from the catalog's rows.

PostgreSQL's own deparsers write what they can (``pg_get_constraintdef``,
``pg_get_indexdef``, ``pg_get_viewdef``, ``pg_get_functiondef``,
``pg_get_triggerdef``, ``format_type``, ``pg_get_expr``); this module writes
the rest as ``pg_dump`` would: tables' column lists, sequences' options and
``COMMENT ON``. Names arrive quoted (``quote_ident``) from the queries.
"""

from __future__ import annotations

from typing import Any

from schemaops.schema.objects import SchemaObject

Row = dict[str, Any]

_TYPE_RANGE = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


def literal(text: str) -> str:
    """Quote ``text`` as an SQL string constant (``standard_conforming_strings``)."""
    return "'" + text.replace("'", "''") + "'"


def _comment(target: str, comment: str | None) -> list[str]:
    return [] if comment is None else [f"COMMENT ON {target} IS {literal(comment)};"]


def _statement(definition: str) -> str:
    """A deparser's output as one statement: its trailing newline off, one ``;``."""
    return definition.rstrip().rstrip(";") + ";"


def extension(row: Row) -> SchemaObject:
    # No VERSION: an extension's version follows the server's packages, and its
    # comment and members come with it.
    sql = f"CREATE EXTENSION IF NOT EXISTS {row['quoted']} WITH SCHEMA {row['schema']};"
    return SchemaObject("extension", row["quoted"], sql, (row["name"],))


def schema(row: Row) -> SchemaObject:
    lines = [f"CREATE SCHEMA IF NOT EXISTS {row['quoted']};"]
    lines += _comment(f"SCHEMA {row['quoted']}", row["comment"])
    return SchemaObject("schema", row["quoted"], "\n".join(lines), (row["name"],))


def function(row: Row) -> SchemaObject:
    kind = "procedure" if row["kind"] == "p" else "function"
    lines = [_statement(row["definition"])]
    lines += _comment(f"{kind.upper()} {row['signature']}", row["comment"])
    order = (row["schema"], row["name"], row["signature"])
    return SchemaObject(kind, row["signature"], "\n".join(lines), order)


def sequence(row: Row) -> SchemaObject:
    options = [
        f"AS {row['type']}",
        f"START WITH {row['start']}",
        f"INCREMENT BY {row['increment']}",
        f"MINVALUE {row['minimum']}",
        f"MAXVALUE {row['maximum']}",
        f"CACHE {row['cache']}",
    ]
    if row["cycle"]:
        options.append("CYCLE")
    lines = [f"CREATE SEQUENCE {row['qualified']}", *(f"    {o}" for o in options)]
    lines[-1] += ";"
    if row["owned_by"] is not None:
        lines.append(f"ALTER SEQUENCE {row['qualified']} OWNED BY {row['owned_by']};")
    lines += _comment(f"SEQUENCE {row['qualified']}", row["comment"])
    return SchemaObject("sequence", row["qualified"], "\n".join(lines), _names(row))


def identity_options(column: Row) -> str:
    """An identity column's sequence options that differ from the defaults."""
    low, high = _TYPE_RANGE.get(column["sequence_type"], (None, None))
    ascending = column["increment"] > 0
    minimum = 1 if ascending else low
    maximum = high if ascending else -1
    defaults = [
        ("START WITH", column["start"], minimum if ascending else maximum),
        ("INCREMENT BY", column["increment"], 1),
        ("MINVALUE", column["minimum"], minimum),
        ("MAXVALUE", column["maximum"], maximum),
        ("CACHE", column["cache"], 1),
    ]
    options = [f"{name} {value}" for name, value, default in defaults if value != default]
    if column["cycle"]:
        options.append("CYCLE")
    return f" ({' '.join(options)})" if options else ""


def column_definition(column: Row) -> str:
    parts = [column["name"], column["type"]]
    if column["collation"] is not None:
        parts.append(f"COLLATE {column['collation']}")
    if column["generated"]:
        stored = "STORED" if column["generated"] == "s" else "VIRTUAL"
        parts.append(f"GENERATED ALWAYS AS ({column['default']}) {stored}")
    elif column["identity"]:
        when = "ALWAYS" if column["identity"] == "a" else "BY DEFAULT"
        parts.append(f"GENERATED {when} AS IDENTITY{identity_options(column)}")
    elif column["default"] is not None:
        parts.append(f"DEFAULT {column['default']}")
    if column["not_null"]:
        parts.append("NOT NULL")
    return " ".join(parts)


def _with(options: list[str] | None) -> str:
    return f" WITH ({', '.join(sorted(options))})" if options else ""


_RELATION_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view"}


def relation(row: Row, columns: list[Row]) -> SchemaObject:
    """A table (its columns), a view or a materialized view (its query)."""
    kind = _RELATION_KINDS[row["kind"]]
    name = row["qualified"]
    if kind == "table":
        lines = _create_table(row, columns)
    else:
        lines = [f"CREATE {kind.upper()} {name}{_with(row['options'])} AS"]
        lines += _statement(row["query"]).splitlines()
    lines += _comment(f"{kind.upper()} {name}", row["comment"])
    for column in columns:
        lines += _comment(f"COLUMN {name}.{column['name']}", column["comment"])
    return SchemaObject(kind, name, "\n".join(lines), _names(row))


def _create_table(row: Row, columns: list[Row]) -> list[str]:
    unlogged = " UNLOGGED" if row["persistence"] == "u" else ""
    head = f"CREATE{unlogged} TABLE {row['qualified']} ("
    definitions = [f"    {column_definition(c)}" for c in columns]
    tail = ")"
    if row["partition_key"] is not None:
        tail += f" PARTITION BY {row['partition_key']}"
    tail += _with(row["options"]) + ";"
    lines = [head, ",\n".join(definitions), tail] if definitions else [head + tail]
    if row["partition_of"] is not None:
        lines.append(
            f"ALTER TABLE ONLY {row['partition_of']} ATTACH PARTITION {row['qualified']} "
            f"{row['bound']};"
        )
    return lines


def constraint(row: Row) -> SchemaObject:
    identity = f"{row['quoted']} on {row['qualified']}"
    lines = [
        f"ALTER TABLE ONLY {row['qualified']} ADD CONSTRAINT {row['quoted']} {row['definition']};"
    ]
    lines += _comment(f"CONSTRAINT {row['quoted']} ON {row['qualified']}", row["comment"])
    order = (row["schema"], row["table_name"], row["name"])
    return SchemaObject("constraint", identity, "\n".join(lines), order)


def index(row: Row) -> SchemaObject:
    lines = [_statement(row["definition"])]
    if not row["valid"]:
        # A failed CREATE INDEX CONCURRENTLY leaves one: it is there, but unused.
        lines.append("-- INVALID: a failed concurrent build left it; drop it and build it again.")
    lines += _comment(f"INDEX {row['qualified']}", row["comment"])
    return SchemaObject("index", row["qualified"], "\n".join(lines), _names(row))


# How a trigger fires when not as CREATE TRIGGER made it (``tgenabled = 'O'``).
_FIRING = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}


def trigger(row: Row) -> SchemaObject:
    identity = f"{row['quoted']} on {row['qualified']}"
    lines = [_statement(row["definition"])]
    if row["enabled"] in _FIRING:
        firing = _FIRING[row["enabled"]]
        lines.append(f"ALTER TABLE {row['qualified']} {firing} TRIGGER {row['quoted']};")
    lines += _comment(f"TRIGGER {row['quoted']} ON {row['qualified']}", row["comment"])
    order = (row["schema"], row["table_name"], row["name"])
    return SchemaObject("trigger", identity, "\n".join(lines), order)


def _names(row: Row) -> tuple[str, ...]:
    return (row["schema"], row["name"])
