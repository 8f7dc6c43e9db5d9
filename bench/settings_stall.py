"""Settings for the Django tier of ``bench/stall.py``: the stall app, on a database
named by the environment, with one case's migrations.

- ``SCHEMAOPS_BENCH_DB``: the database name (on the embedded server, or on
  ``DATABASE_URL``'s server).
- ``SCHEMAOPS_STALL_SIDE``: ``django`` (no schemaops in ``INSTALLED_APPS``, so
  ``manage.py migrate`` is Django's own command) or ``schemaops`` (``pgtrigger``
  and ``schemaops`` installed, so it is schemaops's ``migrate``, with its defaults).
- ``SCHEMAOPS_STALL_CASE``: the migrations module, ``bench.stallapp.cases.NAME``.
"""

from __future__ import annotations

import os

from project.settings import DATABASES, DEFAULT_AUTO_FIELD, SECRET_KEY, USE_TZ

__all__ = [
    "DATABASES",
    "DEFAULT_AUTO_FIELD",
    "INSTALLED_APPS",
    "LOGGING",
    "MIGRATION_MODULES",
    "SECRET_KEY",
    "USE_TZ",
]

SIDE = os.environ.get("SCHEMAOPS_STALL_SIDE", "schemaops")
if SIDE not in ("django", "schemaops"):
    raise ValueError(f"SCHEMAOPS_STALL_SIDE must be django or schemaops, not {SIDE!r}")

INSTALLED_APPS = (
    ["bench.stallapp"] if SIDE == "django" else ["pgtrigger", "schemaops", "bench.stallapp"]
)
MIGRATION_MODULES = {
    "stallapp": "bench.stallapp.cases." + os.environ.get("SCHEMAOPS_STALL_CASE", "add_nullable")
}
DATABASES["default"] = {**DATABASES["default"], "NAME": os.environ["SCHEMAOPS_BENCH_DB"]}
# schemaops's defaults (LOCK_TIMEOUT 1s, ...); its log lines on the console, so
# that the benchmark sees retries and waits in the command's output.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"schemaops": {"handlers": ["console"], "level": "INFO"}},
}
