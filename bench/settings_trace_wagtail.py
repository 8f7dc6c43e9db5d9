"""Settings for bench/trace_wagtail.py: bench/settings_wagtail.py's wagtail project
without django-migration-linter (not needed to migrate or trace), on database
``SCHEMAOPS_BENCH_DB`` of the embedded PostgreSQL (or ``DATABASE_URL``)."""

from __future__ import annotations

from bench import settings_wagtail

# Every setting of settings_wagtail (its __all__ names only a few).
globals().update({k: v for k, v in vars(settings_wagtail).items() if k.isupper()})
INSTALLED_APPS = [
    app for app in settings_wagtail.INSTALLED_APPS if app != "django_migration_linter"
]
