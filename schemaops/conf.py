"""schemaops settings: one dict, ``SCHEMAOPS``, read lazily.

Each key has one function here that reads it when called, so that
``override_settings`` and settings changed after import are always honoured.
"""

from __future__ import annotations

from django.conf import settings


def raw() -> object:
    """Return ``settings.SCHEMAOPS`` as configured, unvalidated (for the system checks)."""
    return getattr(settings, "SCHEMAOPS", {})
