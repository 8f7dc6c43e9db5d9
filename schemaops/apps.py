from __future__ import annotations

from django.apps import AppConfig


class SchemaOpsConfig(AppConfig):
    name = "schemaops"
    verbose_name = "Schema operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks.
        from schemaops import checks  # noqa: F401
