"""Rendering a third-party operation's SQL with no database: a schema editor that
collects SQL and can never connect."""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState


class NeedsDatabase(Exception):
    """Rendering an operation tried to reach the database."""


def _literal(value: object) -> str:
    """A parameter as a SQL literal, for the simple types; others need the server."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise NeedsDatabase


def offline_connection(alias: str) -> BaseDatabaseWrapper:
    """A new wrapper for ``alias`` that renders SQL but can never connect.

    Django's PostgreSQL schema editor composes every statement through a server
    cursor (psycopg's mogrify), even one without parameters; this wrapper's
    editor collects the SQL itself instead, quoting simple parameters.
    """
    connection = connections.create_connection(alias)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NeedsDatabase

    def execute(editor: Any, sql: Any, params: Any = ()) -> None:
        text = str(sql)
        if params:
            text = text % tuple(_literal(value) for value in params)
        editor.collected_sql.append(text if text.rstrip().endswith(";") else f"{text};")

    base = connection.SchemaEditorClass
    connection.SchemaEditorClass = type("OfflineSchemaEditor", (base,), {"execute": execute})
    connection.ensure_connection = refuse  # type: ignore[method-assign]
    connection.connect = refuse  # type: ignore[method-assign]
    return connection


def render_sql(
    operation: Operation, app_label: str, state: ProjectState, connection: BaseDatabaseWrapper
) -> str:
    """The SQL ``operation`` sends from ``state``, collected by ``connection``'s
    schema editor (from :func:`offline_connection`).

    Raises:
        NeedsDatabase: rendering tried to reach the database (any other exception
        also means the operation cannot be rendered here).
    """
    from_state = state.clone()
    to_state = state.clone()
    operation.state_forwards(app_label, to_state)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        operation.database_forwards(app_label, editor, from_state, to_state)
    return "\n".join(editor.collected_sql)
