"""Settings for bench/lint_django.py: wagtail with its contrib apps, as a site
would install it, plus pgtrigger and schemaops, on the embedded PostgreSQL (or
``DATABASE_URL``). Only what ``django.setup()``, the system checks and the
migration loader need."""

from __future__ import annotations

import os

from project.settings import DATABASES, MIDDLEWARE, SECRET_KEY, TEMPLATES

__all__ = ["DATABASES", "MIDDLEWARE", "SECRET_KEY", "TEMPLATES"]

INSTALLED_APPS = [
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.search_promotions",
    "wagtail.contrib.settings",
    "wagtail.contrib.simple_translation",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail.locales",
    "wagtail",
    "modelcluster",
    "taggit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "pgtrigger",
    "schemaops",
    "django_migration_linter",  # only for its lintmigrations command
]
MIDDLEWARE = [*MIDDLEWARE, "wagtail.contrib.redirects.middleware.RedirectMiddleware"]
ROOT_URLCONF = "project.urls"
DATABASES["default"] = {
    **DATABASES["default"],
    "NAME": os.environ.get("SCHEMAOPS_BENCH_DB", "schemaops_bench_wagtail"),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"
WAGTAIL_SITE_NAME = "bench"
WAGTAILADMIN_BASE_URL = "http://localhost"
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES = [("en", "English"), ("fr", "French")]
LOGGING = {"version": 1, "disable_existing_loggers": False}
