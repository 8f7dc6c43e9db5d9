"""Adopting a folder of SQL from another tool: what golang-migrate, dbmate or Flyway
recorded as applied, read from that tool's own history table on the same database."""

from __future__ import annotations

import dataclasses

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from schemaops.exceptions import SchemaOpsError

# Each tool's history table, as the tool names it by default.
TOOLS = {
    "golang-migrate": "schema_migrations",
    "dbmate": "schema_migrations",
    "flyway": "flyway_schema_history",
}


class AdoptionError(SchemaOpsError):
    """The other tool's history is missing, unreadable, or says it is not clean."""


@dataclasses.dataclass(frozen=True)
class ForeignHistory:
    """What another tool applied: every version up to ``through`` (golang-migrate keeps
    only its newest), or exactly ``versions`` (dbmate, Flyway)."""

    tool: str
    table: str
    versions: frozenset[int] = frozenset()
    through: int | None = None

    def applied(self, number: int) -> bool:
        if self.through is not None:
            return number <= self.through
        return number in self.versions

    def describe(self) -> str:
        if self.through is not None:
            return f"{self.tool}'s {self.table} (version {self.through})"
        return f"{self.tool}'s {self.table} ({len(self.versions)} version(s))"


def read(tool: str, table: str | None = None, using: str = DEFAULT_DB_ALIAS) -> ForeignHistory:
    """Read what ``tool`` recorded in ``table`` (its default name when None) on ``using``.

    Raises:
        AdoptionError: no such table, a version schemaops cannot map to a script, or
            the tool says a migration is dirty or failed (fix that with the tool first).
    """
    if tool not in TOOLS:
        raise AdoptionError(f"Unknown tool {tool!r}. Known: {', '.join(TOOLS)}.")
    table = table or TOOLS[tool]
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)::text", [table])
        row = cursor.fetchone()
        if row is None or row[0] is None:
            raise AdoptionError(
                f"There is no table {table!r} on database {using!r}, where {tool} keeps its "
                f"history. Run this against the database {tool} migrated, or pass --table "
                "with the name you configured."
            )
        name = sql.Identifier(*table.split("."))
        if tool == "golang-migrate":
            return _golang_migrate(cursor, name, table)
        if tool == "dbmate":
            cursor.execute(_select(cursor, "SELECT version FROM {}", name))
            versions = [str(version) for (version,) in cursor.fetchall()]
            return ForeignHistory(tool, table, frozenset(_number(tool, v) for v in versions))
        return _flyway(cursor, name, table)


def _number(tool: str, version: str) -> int:
    if not version.strip().isdigit():
        raise AdoptionError(
            f"{tool} recorded version {version!r}, which is not a whole number: schemaops "
            "versions are the leading integer of a script's file name. Rename the scripts "
            "(e.g. V1_1__x.sql to 0011_x.sql) and baseline by version instead: manage.py "
            "schemaops baseline LOCATION:VERSION."
        )
    return int(version)


def _select(cursor: CursorWrapper, query: str, name: sql.Identifier) -> str:
    return sql.SQL(query).format(name).as_string(cursor.connection)


def _golang_migrate(cursor: CursorWrapper, name: sql.Identifier, table: str) -> ForeignHistory:
    cursor.execute(_select(cursor, "SELECT version, dirty FROM {}", name))
    rows = cursor.fetchall()
    if not rows:
        return ForeignHistory("golang-migrate", table)
    version, dirty = rows[0]
    if dirty:
        raise AdoptionError(
            f"golang-migrate's {table} says version {version} is dirty: it failed half-way, "
            "so what it changed is unknown. Check the database, finish or undo that "
            f"migration by hand, run `migrate force {version}` (or the version before it) "
            "with golang-migrate, then baseline again."
        )
    return ForeignHistory("golang-migrate", table, through=int(version))


def _flyway(cursor: CursorWrapper, name: sql.Identifier, table: str) -> ForeignHistory:
    cursor.execute(
        _select(
            cursor,
            "SELECT version, description, success FROM {} WHERE version IS NOT NULL"
            " ORDER BY installed_rank",
            name,
        )
    )
    versions: set[int] = set()
    for version, description, success in cursor.fetchall():
        if not success:
            raise AdoptionError(
                f"Flyway's {table} says version {version} ({description}) failed. Run "
                "`flyway repair` once the database is right, then baseline again."
            )
        versions.add(_number("Flyway", str(version)))
    return ForeignHistory("flyway", table, frozenset(versions))
