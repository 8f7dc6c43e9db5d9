from __future__ import annotations

from django.apps import AppConfig


class StallAppConfig(AppConfig):
    name = "bench.stallapp"
    label = "stallapp"
    default_auto_field = "django.db.models.BigAutoField"
