"""Facts the linter reads from a live database: the server's version, the validated
``CHECK (col IS NOT NULL)`` constraints, the domains with constraints, and how big
the tables are."""

from __future__ import annotations

import re

from django.db import DEFAULT_DB_ALIAS, connections

from schemaops.lint.context import DEFAULT_PG_VERSION, LintContext

_CHECK_NOT_NULL = re.compile(r'^CHECK \(\(?"?(?P<column>[\w$]+)"? IS NOT NULL\)?\)$', re.I)


def server_version(using: str = DEFAULT_DB_ALIAS) -> int:
    """The major version of the PostgreSQL server behind ``using``."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int / 10000")
        row = cursor.fetchone()
    return int(row[0]) if row else DEFAULT_PG_VERSION


def database_context(using: str = DEFAULT_DB_ALIAS, pg_version: int | None = None) -> LintContext:
    """Return a context with the facts of database ``using``: its PostgreSQL version
    (unless ``pg_version`` is given), and the validated ``CHECK (col IS NOT NULL)``
    constraints it already has. Pending units run in one deploy, so a table one of
    them creates is still new in the next."""
    if pg_version is None:
        pg_version = server_version(using)
    context = LintContext(pg_version=pg_version, carry_created=True)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " WHERE c.contype = 'c' AND c.convalidated"
        )
        for table, definition in cursor.fetchall():
            match = _CHECK_NOT_NULL.match(definition)
            if match:
                context.validated_not_null.add((table, match.group("column").lower()))
        cursor.execute(
            "SELECT t.typname, n.nspname FROM pg_type t"
            " JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'd'"
            " AND (t.typnotnull OR EXISTS (SELECT 1 FROM pg_constraint c"
            " WHERE c.contypid = t.oid))"
        )
        for name, schema in cursor.fetchall():
            context.constrained_domains.add(str(name).lower())
            context.constrained_domains.add(f"{schema}.{name}".lower())
    return context


def table_sizes(using: str, tables: set[str]) -> dict[str, tuple[int, int]]:
    """Return ``{table: (estimated rows, bytes with indexes and TOAST)}`` for those of
    ``tables`` that exist on ``using`` (one query)."""
    if not tables:
        return {}
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT t.name, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)"
            " FROM unnest(%s::text[]) AS t(name) JOIN pg_class c ON c.oid = to_regclass(t.name)",
            [sorted(tables)],
        )
        return {str(name): (int(rows), int(size)) for name, rows, size in cursor.fetchall()}
