from __future__ import annotations

from django.apps import AppConfig


class TierAppConfig(AppConfig):
    """An app whose migrations each Django-tier test writes (``tier`` fixture)."""

    name = "tests.tierapp"
    label = "tierapp"
    default_auto_field = "django.db.models.BigAutoField"
