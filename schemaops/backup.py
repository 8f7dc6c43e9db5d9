"""A backup of a database before its schema changes: ``pg_dump`` in its custom
format, written to ``NAME-YYYYmmdd-HHMMSS.dump`` (UTC), with a row in the registry
(tier ``backup``, outcome ``backed-up``) so that the history says when the last one
was taken.

The file appears only once ``pg_dump`` has finished: it writes to
``NAME-....dump.partial``, which is renamed on success and removed on failure, so a
``.dump`` file is always a whole backup. It is created readable by its owner only
(a dump holds every row). The password goes to ``pg_dump`` in ``PGPASSWORD``, never
on its command line, where any user of the machine could read it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from schemaops import conf, pg_tools, recorder
from schemaops.display import display
from schemaops.exceptions import BackupFailed
from schemaops.models import Outcome, Tier
from schemaops.output import Progress

# Connection settings pg_dump gets from its own options, or never from the environment
# (the dump's encoding must be the database's, not Django's client_encoding).
_NOT_FROM_OPTIONS = frozenset({"host", "port", "user", "dbname", "password", "client_encoding"})


@dataclasses.dataclass(frozen=True)
class Target:
    """How ``pg_dump`` reaches the database: what the live Django connection uses."""

    alias: str
    host: str
    port: int
    user: str
    dbname: str
    password: str
    environment: dict[str, str]  # other libpq settings of DATABASES[alias]["OPTIONS"]
    server_major: int  # the server's server_version_num // 10000

    @property
    def options(self) -> list[str]:
        """The connection's command-line options (the password is not one of them)."""
        options = ["--host", self.host] if self.host else []
        return [*options, "--port", str(self.port), "--username", self.user]

    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.environment}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def describe(self) -> str:
        return f"database {self.alias!r} ({self.dbname})"


def target(using: str = DEFAULT_DB_ALIAS) -> Target:
    """Where ``using``'s connection goes: its host, port, user and database as libpq
    resolved them (so an engine that picks its server when it connects, and the
    defaults libpq filled in, are honoured), and the libpq settings given in
    ``OPTIONS`` (``sslmode``, ``service``, ...) as their environment variables."""
    connection = connections[using]
    connection.ensure_connection()
    info = connection.connection.info
    variables = {
        option.keyword.decode(): option.envvar.decode()
        for option in psycopg.pq.Conninfo.get_defaults()
        if option.envvar is not None
    }
    options: dict[str, Any] = connection.settings_dict.get("OPTIONS") or {}
    environment = {
        variables[key]: str(value)
        for key, value in options.items()
        if key in variables and key not in _NOT_FROM_OPTIONS and value is not None
    }
    return Target(
        alias=using,
        host=str(info.host or ""),
        port=int(info.port),
        user=str(info.user),
        dbname=str(info.dbname),
        password=str(info.password or ""),
        environment=environment,
        server_major=int(info.server_version) // 10000,
    )


@dataclasses.dataclass(frozen=True)
class Backup:
    """A backup taken: its file and how to restore it."""

    target: Target
    path: Path
    size: int
    schema_only: bool
    pg_dump: pg_tools.Program
    duration_ms: int
    recorded: bool

    @property
    def contents(self) -> str:
        return "schema only" if self.schema_only else "schema and data"

    def restore_commands(self) -> list[list[str]]:
        """Commands that restore the backup into a new database beside the original
        (``NAME_restored``), with this installation's programs (never older than the
        ``pg_dump`` that wrote it)."""
        restored = f"{self.target.dbname}_restored"
        options = self.target.options
        return [
            [self.pg_dump.sibling("createdb"), *options, "--template", "template0", restored],
            [self.pg_dump.sibling("pg_restore"), *options, "--dbname", restored, str(self.path)],
        ]

    def describe(self) -> list[str]:
        """What a person reads once it is taken."""
        lines = [
            f"Backed up {self.target.describe()} with pg_dump {self.pg_dump.version} in "
            f"{self.duration_ms / 1000:.1f} s:",
            f"  {display(self.path)} ({size_text(self.size)}, {self.contents})",
            "Restore it into a new database with:",
            *(f"  {shlex.join(command)}" for command in self.restore_commands()),
        ]
        if not self.recorded:
            lines.append(
                "Not recorded in the history: the schemaops registry is not on database "
                f"{self.target.alias!r} yet (manage.py migrate creates it)."
            )
        return lines


def size_text(size: int) -> str:
    """A size as PostgreSQL's ``pg_size_pretty`` writes it, to one decimal."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def file_name(dbname: str, taken_at: datetime.datetime) -> str:
    """``NAME-YYYYmmdd-HHMMSS.dump``, the time in UTC; characters a file name should
    not have are replaced with ``_``."""
    safe = re.sub(r"[^\w.-]", "_", dbname)
    return f"{safe}-{taken_at.astimezone(datetime.UTC):%Y%m%d-%H%M%S}.dump"


def take(
    using: str = DEFAULT_DB_ALIAS,
    folder: Path = Path("."),
    *,
    schema_only: bool = False,
    reason: str = "",
) -> Backup:
    """Back up ``using`` into ``folder`` (created if missing) and record it in the
    registry (when its table is there); ``reason`` is kept in the row's note.

    Raises:
        BackupFailed: no ``pg_dump`` at least as new as the server, the folder cannot be
            written, the file exists already, or ``pg_dump`` failed (its stderr kept).
            No file is left behind and nothing is recorded.
    """
    where = target(using)
    pg_dump = pg_tools.find("pg_dump", where.server_major, where.describe())
    started_at = timezone.now()
    path = _create_partial(folder, file_name(where.dbname, started_at))
    partial = path.with_name(path.name + ".partial")
    command = [str(pg_dump.path), "--format=custom", "--no-password", "--file", str(partial)]
    command += [*where.options, *(["--schema-only"] if schema_only else [])]
    command += ["--dbname", where.dbname]
    start = time.monotonic()
    kept = False
    try:
        done = subprocess.run(
            command,
            env=where.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip() or "(it printed nothing)"
            raise BackupFailed(
                f"pg_dump ({pg_dump.path}) could not back up {where.describe()}; it exited "
                f"with status {done.returncode}:\n{said}\nNo backup file was kept. Fix what "
                "pg_dump says, then run the command again."
            )
        os.replace(partial, path)
        kept = True
    except OSError as exc:
        raise BackupFailed(
            f"Could not run {pg_dump.path} to back up {where.describe()}: {exc}. No backup "
            "file was kept."
        ) from exc
    finally:
        if not kept:
            partial.unlink(missing_ok=True)
    duration_ms = int((time.monotonic() - start) * 1000)
    size = path.stat().st_size
    backup = Backup(where, path, size, schema_only, pg_dump, duration_ms, recorded=False)
    if not recorder.registry_current(using):
        return backup
    note = f"{path} ({size:,} bytes, {backup.contents}), pg_dump {pg_dump.version}"
    note += f" ({pg_dump.path})"
    recorder.Recorder(using).record(
        tier=Tier.BACKUP,
        location=where.dbname,
        version=f"{started_at.astimezone(datetime.UTC):%Y%m%d-%H%M%S}",
        name=path.name,
        checksum=_sha256(path),
        outcome=Outcome.BACKED_UP,
        started_at=started_at,
        duration_ms=duration_ms,
        note=f"{note}; {reason}" if reason else note,
    )
    return dataclasses.replace(backup, recorded=True)


def before_migrate(using: str, pending: int, progress: Progress) -> Backup:
    """``SCHEMAOPS["BACKUP_BEFORE_MIGRATE"]``: the backup ``migrate`` takes once its
    checks have passed and before the first step of either tier, into
    ``SCHEMAOPS["BACKUP_DIR"]``; ``pending`` is how many steps will run.

    Raises:
        BackupFailed: as :func:`take`, saying that nothing was migrated.
    """
    progress(f"Backing up database {using!r} before applying {pending} pending change(s):")
    try:
        taken = take(
            using,
            conf.backup_dir(),
            reason=f"taken by migrate before applying {pending} pending change(s)",
        )
    except BackupFailed as exc:
        raise BackupFailed(
            f"{exc}\nNothing was migrated: SCHEMAOPS['BACKUP_BEFORE_MIGRATE'] is on and the "
            "backup failed. Fix that, or run with --no-backup to migrate without one."
        ) from exc
    for line in taken.describe():
        progress(f"  {line}")
    return taken


def _create_partial(folder: Path, name: str) -> Path:
    """Create ``folder/NAME.partial``, empty and readable by its owner only, and return
    the final path ``folder/NAME``."""
    path = folder.resolve() / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise BackupFailed(
                f"{display(path)} exists already (a backup taken in the same second). "
                "Run the command again in a moment, or choose another folder."
            )
        os.close(os.open(path.with_name(name + ".partial"), os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise BackupFailed(
            f"Cannot write a backup to {display(folder.resolve())}: {exc.strerror or exc}. "
            "Choose a folder that can be written (--output DIR, or SCHEMAOPS['BACKUP_DIR'] "
            "for the backup manage.py migrate takes)."
        ) from exc
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
