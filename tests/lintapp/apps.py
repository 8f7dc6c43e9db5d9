from __future__ import annotations

from django.apps import AppConfig


class LintAppConfig(AppConfig):
    name = "tests.lintapp"
    label = "lintapp"
    default_auto_field = "django.db.models.BigAutoField"
