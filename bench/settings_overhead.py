"""Settings for bench/migrate_overhead.py: wagtail with its contrib apps, as in
``settings_wagtail`` (without django-migration-linter), on the database named by
``SCHEMAOPS_BENCH_DB``, in one of the variants chosen by ``SCHEMAOPS_BENCH_SIDE``:

- ``plain``: neither pgtrigger nor schemaops, so ``manage.py migrate`` is Django's;
- ``pgtrigger``: pgtrigger (a dependency of schemaops) without schemaops, to tell
  how much of the difference is pgtrigger's;
- ``schemaops`` (the default): pgtrigger and schemaops installed, so it is schemaops's.

Nothing else differs between the two (the URLconf, bench/urls_overhead.py, leaves
schemaops's URLs out where schemaops is not installed)."""

from __future__ import annotations

import os

from bench import settings_wagtail

# Every setting of settings_wagtail (its __all__ names only a few of them).
globals().update({name: value for name, value in vars(settings_wagtail).items() if name.isupper()})

_SIDE = os.environ.get("SCHEMAOPS_BENCH_SIDE", "schemaops")
if _SIDE not in ("plain", "pgtrigger", "schemaops"):
    raise ValueError(
        f"SCHEMAOPS_BENCH_SIDE must be 'plain', 'pgtrigger' or 'schemaops', not {_SIDE!r}"
    )
_LEFT_OUT = {"django_migration_linter"}
if _SIDE == "plain":
    _LEFT_OUT |= {"pgtrigger", "schemaops"}
elif _SIDE == "pgtrigger":
    _LEFT_OUT |= {"schemaops"}

INSTALLED_APPS = [app for app in settings_wagtail.INSTALLED_APPS if app not in _LEFT_OUT]
ROOT_URLCONF = "bench.urls_overhead"
