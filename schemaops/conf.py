"""schemaops settings: one dict, ``SCHEMAOPS``, read lazily.

Each key has one function here that reads it when called, so that
``override_settings`` and settings changed after import are always honoured.
Every key is documented, with its default, in ``docs/settings.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings


def raw() -> object:
    """Return ``settings.SCHEMAOPS`` as configured, unvalidated (for the system checks)."""
    return getattr(settings, "SCHEMAOPS", {})


def _get(key: str, default: Any) -> Any:
    value = raw()
    return value.get(key, default) if isinstance(value, dict) else default


def script_dirs() -> dict[str, Path]:
    """``SCRIPT_DIRS``: extra script locations, ``{name: folder}``; a list of folders
    names each location after its folder. Default: none."""
    value = _get("SCRIPT_DIRS", {})
    if isinstance(value, dict):
        return {str(name): Path(path) for name, path in value.items()}
    return {Path(path).name: Path(path) for path in value}


def migrate_runs_scripts() -> bool:
    """``MIGRATE_RUNS_SCRIPTS``: ``manage.py migrate`` applies pending scripts after
    Django's migrations. Default: True."""
    return bool(_get("MIGRATE_RUNS_SCRIPTS", True))


def lock_timeout() -> str:
    """``LOCK_TIMEOUT``: ``lock_timeout`` for each script statement. Default: ``"1s"``, the
    longest a statement of ours may hold up the queries queued behind its lock request."""
    return str(_get("LOCK_TIMEOUT", "1s"))


def concurrent_lock_timeout() -> str:
    """``CONCURRENT_LOCK_TIMEOUT``: ``lock_timeout`` for ``CONCURRENTLY`` statements, which
    wait for older transactions without blocking reads or writes. Default: ``"10min"``."""
    return str(_get("CONCURRENT_LOCK_TIMEOUT", "10min"))


def statement_timeout() -> str:
    """``STATEMENT_TIMEOUT``: ``statement_timeout`` for each script statement.
    Default: ``"0"`` (no limit; concurrent index builds on big tables take long)."""
    return str(_get("STATEMENT_TIMEOUT", "0"))


def retries() -> int:
    """``RETRIES``: how often a statement that hit ``lock_timeout`` (or that would have
    queued behind a long transaction) is retried, with backoff. Default: 10 (about a
    minute of backoff in all)."""
    return int(_get("RETRIES", 10))


def lock_wait() -> float:
    """``LOCK_WAIT``: seconds a run waits for another run to finish. Default: 600."""
    return float(_get("LOCK_WAIT", 600))


def allow_out_of_order() -> bool:
    """``ALLOW_OUT_OF_ORDER``: apply a pending script older than the newest applied
    one in its location. Default: False."""
    return bool(_get("ALLOW_OUT_OF_ORDER", False))


def allow_missing() -> bool:
    """``ALLOW_MISSING``: run although an applied script's file is gone. Default: False."""
    return bool(_get("ALLOW_MISSING", False))


def allow_changed() -> bool:
    """``ALLOW_CHANGED``: run although an applied script's checksum changed. Default: False."""
    return bool(_get("ALLOW_CHANGED", False))


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_size(value: object) -> int:
    """Read a size: a number of bytes, or a text such as ``"1MB"`` or ``"512kB"``.

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip().lower().replace(" ", "")
    number = text.rstrip("kmgb")
    unit = text[len(number) :]
    if not number.replace(".", "", 1).isdigit() or unit not in _SIZE_UNITS:
        raise ValueError(f"{value!r} is not a size; write e.g. '1MB', '512kB' or 0")
    return int(float(number) * _SIZE_UNITS[unit])


def small_table_size() -> int:
    """``SMALL_TABLE_SIZE``: the migrate gate reports a lock-heavy finding (a plain
    ``CREATE INDEX``, a scan or rewrite under lock) on a table of at most this size,
    indexes included, as a warning, not an error: its lock lasts milliseconds.
    ``0`` turns this off. Default: ``"1MB"`` (about 10,000 narrow rows; measured in
    ``bench/small_tables.py``)."""
    return parse_size(_get("SMALL_TABLE_SIZE", "1MB"))


def lint() -> object:
    """``LINT``: the linter's ``select``, ``ignore`` and ``pg_version``, as in
    ``[tool.schemaops.lint]``. Default: ``{}`` (every rule; the server's version, else 14)."""
    return _get("LINT", {})


def backup_before_migrate() -> bool:
    """``BACKUP_BEFORE_MIGRATE``: ``manage.py migrate`` takes a backup (``schemaops
    backup``) when something is pending, before anything runs, and stops if it fails.
    Default: False."""
    return bool(_get("BACKUP_BEFORE_MIGRATE", False))


def backup_dir() -> Path:
    """``BACKUP_DIR``: the folder backups are written to (``schemaops backup`` without
    ``--output``, and ``BACKUP_BEFORE_MIGRATE``). Default: the current folder."""
    return Path(_get("BACKUP_DIR", "."))


def snapshot() -> Path:
    """``SNAPSHOT``: the schema file ``schemaops snapshot`` writes and ``--check`` and
    ``validate --snapshot`` read. Default: ``schema.sql`` in ``BASE_DIR`` (the folder
    Django's ``startproject`` settings define, beside ``manage.py``), or in the working
    directory when the settings have no ``BASE_DIR``."""
    value = _get("SNAPSHOT", None)
    if value is not None:
        return Path(value)
    return Path(getattr(settings, "BASE_DIR", ".")) / "schema.sql"


def health_checks_drift() -> bool:
    """``HEALTH_CHECKS_DRIFT``: the health endpoint also compares the database with the
    models (``validate``'s drift: a few catalog queries, but more than a probe every
    few seconds should cost) and answers ``dirty`` on drift. Default: False."""
    return bool(_get("HEALTH_CHECKS_DRIFT", False))
