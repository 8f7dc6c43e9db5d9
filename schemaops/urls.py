"""URLs: ``path("schemaops/", include("schemaops.urls"))``."""

from __future__ import annotations

from django.urls import path

from schemaops.views import health_view

app_name = "schemaops"

urlpatterns = [
    path("health/", health_view, name="health"),
]
