"""The exceptions schemaops raises; all subclass :class:`SchemaOpsError`."""

from __future__ import annotations


class SchemaOpsError(Exception):
    """Base class of every error schemaops raises on purpose."""


class DatabaseNotSupported(SchemaOpsError):
    """A command was pointed at a database that is not PostgreSQL."""


class ScriptError(SchemaOpsError):
    """A script file is malformed: its name, encoding, sections or directives.

    The message names the file (and line, where there is one) and what to fix.
    """


class ScriptNotFound(SchemaOpsError, LookupError):
    """A ``location:version`` names no script on disk or in the registry."""


class PlanError(SchemaOpsError):
    """The scripts cannot be ordered: an unknown or circular dependency."""


class UnsafeStateError(SchemaOpsError):
    """The registry and the files disagree (changed, missing, out of order, dirty),
    so nothing runs until that is resolved."""


class ScriptFailed(SchemaOpsError):
    """A script's statement failed; nothing of an atomic script was kept."""


class RunLockTimeout(SchemaOpsError, TimeoutError):
    """Another run held the runner lock for longer than the wait allowed."""


class LintRefused(SchemaOpsError):
    """Pending scripts have unsuppressed error-level lint findings; nothing ran."""


class MigrationFailed(SchemaOpsError):
    """A Django migration could not take its locks within its budget, or failed; the
    message says what was kept."""


class PolicyError(SchemaOpsError, ValueError):
    """A migration's ``schemaops = {...}`` lock policy names an unknown key or a bad value."""


class DatabaseUnavailable(SchemaOpsError, ConnectionError):
    """The database did not answer; the message names it and says PostgreSQL's reason."""


class InvalidMigration(SchemaOpsError):
    """A Django migration that cannot be applied to the models' state (Django's
    ``migrate`` would fail on it too), met by the linter."""


class BackupFailed(SchemaOpsError):
    """A backup could not be taken: no ``pg_dump`` new enough for the server, a folder
    that cannot be written, or ``pg_dump`` itself failed (its own words kept). No file
    is left behind."""


class SnapshotError(SchemaOpsError):
    """A schema file (``schemaops snapshot``) is missing, unreadable or malformed, or
    cannot be written; the message names the file and says what to do."""


class TraceError(SchemaOpsError):
    """A rehearsal (``schemaops trace``) could not be set up or cleaned up: the scratch
    database, its copy of the schema, or the plan it computes."""
