"""What is applied and what is pending, read from the database."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.loader import MigrationLoader

from schemaops import recorder
from schemaops.exceptions import DatabaseNotSupported, DatabaseUnavailable, ScriptError
from schemaops.locking.errors import original_error
from schemaops.models import HistoryEntry
from schemaops.scripts import loader, lock, state


@dataclasses.dataclass(frozen=True)
class MigrationState:
    """A Django migration and whether it is applied on the database."""

    app: str
    name: str
    applied: bool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Status:
    """Both tiers' state on one database."""

    database: str
    migrations: list[MigrationState]
    registry_installed: bool
    registry: list[recorder.Latest]
    scripts: list[state.ScriptStatus]
    script_errors: list[str]
    # Who holds the runner lock, when it was read (see collect()).
    runner: lock.RunnerSession | None = None

    @property
    def pending_migrations(self) -> list[MigrationState]:
        return [m for m in self.migrations if not m.applied]

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "migrations": [m.as_dict() for m in self.migrations],
            "scripts": [script_as_dict(s) for s in self.scripts],
            "script_errors": self.script_errors,
            "registry_installed": self.registry_installed,
            "registry": [entry_as_dict(e) for e in self.registry],
        }


def entry_as_dict(entry: HistoryEntry | recorder.Latest) -> dict[str, Any]:
    """Return the JSON form of a registry row."""
    return {
        "tier": entry.tier,
        "location": entry.location,
        "version": entry.version,
        "name": entry.name,
        "direction": entry.direction,
        "outcome": entry.outcome,
        "checksum": entry.checksum,
        "started_at": entry.started_at.isoformat(),
        "duration_ms": entry.duration_ms,
        "error": entry.error,
    }


def script_as_dict(status: state.ScriptStatus) -> dict[str, Any]:
    """Return the JSON form of a script's status."""
    latest = status.latest
    applied_at = None
    if latest is not None and status.is_applied:
        applied_at = (latest.finished_at or latest.started_at).isoformat()
    return {
        "location": status.location,
        "version": status.version,
        "name": status.name,
        "state": status.state.value,
        "checksum": status.checksum,
        "applied_at": applied_at,
        **(
            {"finished_statements": list(status.finished), "how_far": status.how_far()}
            if status.finished is not None
            else {}
        ),
    }


def ensure_postgresql(using: str) -> None:
    """Raise :class:`DatabaseNotSupported` unless ``using`` is a PostgreSQL database."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise DatabaseNotSupported(
            f"Database {using!r} is {connection.vendor}, not PostgreSQL; schemaops works "
            "on PostgreSQL only. Pass --database with a PostgreSQL alias."
        )


def ensure_connected(using: str) -> None:
    """Connect to ``using`` now, so that a database that does not answer is one clear
    error (:class:`DatabaseUnavailable`: the alias, host and port, PostgreSQL's
    reason) rather than a traceback from whatever query came first."""
    connection = connections[using]
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        settings_dict = connection.settings_dict
        host = settings_dict.get("HOST") or "the local socket"
        port = settings_dict.get("PORT") or "5432"
        reason = " ".join(str(original_error(exc)).split()) or type(exc).__name__
        raise DatabaseUnavailable(
            f"Cannot connect to database {using!r} ({host}, port {port}): {reason} "
            f"Start the server, or point DATABASES[{using!r}] (DATABASE_URL in the demo "
            "project) at one that runs."
        ) from None


def django_migrations(using: str = DEFAULT_DB_ALIAS) -> list[MigrationState]:
    """Return every Django migration in the plan, per app (sorted), in plan order.

    Squashed migrations appear as Django's loader resolves them: the squashed
    one where all or none of those it replaces are applied, the originals
    otherwise (as ``showmigrations`` does).
    """
    migration_loader = MigrationLoader(connections[using], ignore_no_migrations=True)
    graph = migration_loader.graph
    applied = migration_loader.applied_migrations
    states: list[MigrationState] = []
    for app in sorted(migration_loader.migrated_apps):
        shown: set[tuple[str, str]] = set()
        for leaf in graph.leaf_nodes(app):
            for node in graph.forwards_plan(leaf):
                if node[0] == app and node not in shown:
                    shown.add(node)
                    states.append(MigrationState(app, node[1], node in applied))
    return states


def collect(using: str = DEFAULT_DB_ALIAS, *, read_runner: bool = False) -> Status:
    """Read the state of both tiers on ``using``.

    Who holds the runner lock is read when ``read_runner``, and otherwise only
    when a start is recorded (to tell a running script from an interrupted one).
    """
    ensure_postgresql(using)
    columns = recorder.registry_columns(using)
    installed = bool(columns)
    registry = recorder.latest_per_change(using, columns=columns) if installed else []
    latest = recorder.by_script(registry)
    if read_runner:
        runner = lock.runner_session(using)
    else:
        runner = lock.runner_if_started(using, latest.values())
    errors: list[str] = []
    try:
        scripts = loader.load_scripts(using)
    except ScriptError as exc:
        errors.extend(str(exc).splitlines())
        scripts = []
    return Status(
        database=using,
        migrations=django_migrations(using),
        registry_installed=installed,
        registry=registry,
        scripts=state.with_progress(using, state.statuses(scripts, latest, runner)),
        script_errors=errors,
        runner=runner,
    )
