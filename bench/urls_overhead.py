"""URLs for bench/settings_overhead.py: the demo project's (project/urls.py),
with schemaops's only where schemaops is installed (the plain side has no
schemaops app, and schemaops's views import its models)."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView

urlpatterns: list[URLPattern | URLResolver] = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
if apps.is_installed("schemaops"):
    urlpatterns.append(path("schemaops/", include("schemaops.urls")))
