"""The shared initial migration (faked on the template database)."""

from __future__ import annotations

from bench.stallapp.common import InitialMigration


class Migration(InitialMigration):
    pass
