"""Settings for bench/lint_django.py: pretix as installed from PyPI, with its own
settings module (its apps, bundled plugins and their dependencies), configured
through its environment variables, plus pgtrigger and schemaops, on the
embedded PostgreSQL (or ``DATABASE_URL``)."""

from __future__ import annotations

import os
from pathlib import Path

_DATA = Path(__file__).resolve().parent / ".pretix-data"
_DATA.mkdir(exist_ok=True)
# pretix reads these instead of a pretix.cfg (os.devnull: no config file at all).
os.environ.setdefault("PRETIX_CONFIG_FILE", os.devnull)
os.environ.setdefault("PRETIX_PRETIX_DATADIR", str(_DATA))
os.environ.setdefault("PRETIX_DATABASE_BACKEND", "postgresql")
os.environ.setdefault("PRETIX_DJANGO_SECRET", "schemaops-bench-not-a-secret")

from pretix.settings import *  # noqa: E402, F403
from pretix.settings import DATABASES, INSTALLED_APPS  # noqa: E402

from project.settings import DATABASES as PROJECT_DATABASES  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "pgtrigger", "schemaops", "django_migration_linter"]
DATABASES["default"] = {
    **DATABASES["default"],
    **PROJECT_DATABASES["default"],
    "NAME": os.environ.get("SCHEMAOPS_BENCH_DB", "schemaops_bench_pretix"),
}
