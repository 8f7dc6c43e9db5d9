"""Each system check fails clearly on its misconfiguration and passes otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from schemaops import checks

# The checks read settings.DATABASES, never the connections, so overriding it is safe here.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")

SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}


class KeepSchemaopsOffLegacy:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if db == "legacy" and app_label == "schemaops":
            return False
        return None


def test_pgtrigger_check_passes_when_installed() -> None:
    assert checks.check_pgtrigger_installed() == []


def test_pgtrigger_check_fails_without_pgtrigger() -> None:
    apps_without = [app for app in settings.INSTALLED_APPS if app != "pgtrigger"]
    with override_settings(INSTALLED_APPS=apps_without):
        errors = checks.check_pgtrigger_installed()
    assert [e.id for e in errors] == ["schemaops.E001"]
    assert "pgtrigger" in errors[0].msg
    assert 'Add "pgtrigger" to INSTALLED_APPS' in errors[0].hint


def test_database_check_passes_on_postgresql() -> None:
    assert checks.check_database_is_postgresql() == []


def test_database_check_fails_on_a_non_postgresql_alias() -> None:
    with override_settings(DATABASES={**settings.DATABASES, "legacy": SQLITE}):
        errors = checks.check_database_is_postgresql()
    assert [(e.id, e.obj) for e in errors] == [("schemaops.E002", "legacy")]
    assert "sqlite" in errors[0].msg
    assert "allow_migrate()" in errors[0].hint


def test_database_check_skips_aliases_routed_away_from_schemaops() -> None:
    with override_settings(
        DATABASES={**settings.DATABASES, "legacy": SQLITE},
        DATABASE_ROUTERS=[f"{__name__}.KeepSchemaopsOffLegacy"],
    ):
        assert checks.check_database_is_postgresql() == []


def test_database_check_only_reads_the_aliases_it_is_given() -> None:
    with override_settings(DATABASES={**settings.DATABASES, "legacy": SQLITE}):
        assert checks.check_database_is_postgresql(databases=["default"]) == []


def test_settings_check_fails_when_schemaops_is_not_a_dict() -> None:
    with override_settings(SCHEMAOPS=["SCRIPT_DIRS"]):
        errors = checks.check_settings_shape()
    assert [e.id for e in errors] == ["schemaops.E003"]
    assert "list" in errors[0].msg


def test_settings_check_passes_with_a_dict() -> None:
    with override_settings(SCHEMAOPS={}):
        assert checks.check_settings_shape() == []
