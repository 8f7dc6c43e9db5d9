from __future__ import annotations

from django.apps import AppConfig


class TraceAppConfig(AppConfig):
    """The Django tier's corpus of ``schemaops trace`` (tests/test_trace_django.py):
    0001 is applied before the rehearsal, the migrations after it are rehearsed."""

    name = "tests.traceapp"
    label = "traceapp"
    default_auto_field = "django.db.models.BigAutoField"
