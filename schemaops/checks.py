"""System checks. Each has a stable id and a hint that says what to change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.db import router
from django.db.utils import load_backend

from schemaops import conf


@checks.register()
def check_pgtrigger_installed(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """schemaops.E001: the registry's append-only triggers come from django-pgtrigger."""
    if apps.is_installed("pgtrigger"):
        return []
    return [
        checks.Error(
            "'pgtrigger' is not in INSTALLED_APPS; schemaops needs it to install the "
            "triggers that keep its history append-only.",
            hint='Add "pgtrigger" to INSTALLED_APPS, before "schemaops".',
            id="schemaops.E001",
        )
    ]


@checks.register()
def check_database_is_postgresql(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """schemaops.E002: every database the registry may live on is PostgreSQL.

    Reads each alias's ENGINE without connecting, so it also runs where the
    database is down. Aliases that the routers keep schemaops off are skipped.
    """
    errors: list[checks.CheckMessage] = []
    aliases = list(databases) if databases is not None else list(settings.DATABASES)
    for alias in aliases:
        if not router.allow_migrate(alias, "schemaops", model_name="historyentry"):
            continue
        engine = settings.DATABASES[alias].get("ENGINE", "")
        vendor = getattr(load_backend(engine).DatabaseWrapper, "vendor", "unknown")
        if vendor != "postgresql":
            errors.append(
                checks.Error(
                    f"Database {alias!r} uses {engine!r} ({vendor}); schemaops supports "
                    "PostgreSQL only.",
                    hint=(
                        "Point this alias at PostgreSQL (ENGINE "
                        "'django.db.backends.postgresql'), or add a database router whose "
                        "allow_migrate() returns False for app 'schemaops' on it."
                    ),
                    obj=alias,
                    id="schemaops.E002",
                )
            )
    return errors


@checks.register()
def check_settings_shape(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """schemaops.E003: ``SCHEMAOPS`` is a dict."""
    value = conf.raw()
    if isinstance(value, dict):
        return []
    return [
        checks.Error(
            f"SCHEMAOPS must be a dict, not {type(value).__name__} ({value!r}).",
            hint="Write SCHEMAOPS = {...} in settings, or remove it to use the defaults.",
            id="schemaops.E003",
        )
    ]


@checks.register()
def check_lint_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """schemaops.E004: ``SCHEMAOPS["LINT"]`` names known rules and a valid version."""
    from schemaops import conf

    if conf.lint() == {}:
        return []  # the default: the linter is not even imported (every command runs this)
    from schemaops.lint import config

    try:
        config.from_settings()
    except config.LintConfigError as exc:
        return [
            checks.Error(
                str(exc),
                hint="See docs/settings.md (LINT) and docs/rules/ for the rule names.",
                id="schemaops.E004",
            )
        ]
    return []
