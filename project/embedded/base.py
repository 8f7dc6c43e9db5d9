"""A PostgreSQL database engine that starts the embedded server on first use."""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg import sql

from project import embedded

_databases_seen: set[tuple[str, str]] = set()


def _ensure_database(server: embedded.ServerInfo, name: str) -> None:
    """Create database ``name`` on a fresh server; a no-op once it exists."""
    key = (server.socket_dir, name)
    if key in _databases_seen:
        return
    with psycopg.connect(
        host=server.socket_dir,
        port=server.port,
        user=server.user,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            # Another process may create it between the check and here.
            with contextlib.suppress(
                psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation
            ):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _databases_seen.add(key)


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's PostgreSQL backend, pointed at the embedded server."""

    def get_connection_params(self) -> dict[str, Any]:
        server = embedded.ensure_server()
        params: dict[str, Any] = super().get_connection_params()
        params["host"] = server.socket_dir
        params["port"] = server.port
        if not params.get("user"):
            params["user"] = server.user
        name = self.settings_dict.get("NAME")
        # Test databases are created and dropped by Django's test runner.
        if name and params.get("dbname") == name and not name.startswith("test_"):
            _ensure_database(server, name)
        return params
