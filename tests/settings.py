"""Test settings: the demo project's, plus a second database for the runner tests.

The ``runner`` database lives on the same server as ``default``. A router keeps
the demo app off it, so tests that apply scripts there see only the scripts
they write themselves (``SCHEMAOPS["SCRIPT_DIRS"]``), on an otherwise empty
schema. Subprocesses started by the tests get the test database's name and
the script folders through the environment.
"""

from __future__ import annotations

import os

from project.settings import *  # noqa: F403
from project.settings import DATABASES

DATABASES["runner"] = {
    **DATABASES["default"],
    "NAME": os.environ.get("SCHEMAOPS_TEST_RUNNER_DB", "schemaops_runner"),
    "TEST": {"NAME": "test_schemaops_runner"},
}

DATABASE_ROUTERS = ["tests.routers.DemoOffRunner"]

SCHEMAOPS = {
    "SCRIPT_DIRS": {
        name: path
        for name, _, path in (
            item.partition("=")
            for item in filter(None, os.environ.get("SCHEMAOPS_TEST_SCRIPT_DIRS", "").split(";"))
        )
    },
    "RETRIES": int(os.environ.get("SCHEMAOPS_TEST_RETRIES", "5")),
}

# A lint test case (tests/lintapp/cases/NAME) for subprocesses.
if os.environ.get("SCHEMAOPS_TEST_LINT_CASE"):
    from project.settings import INSTALLED_APPS

    INSTALLED_APPS = [*INSTALLED_APPS, "tests.lintapp"]
    MIGRATION_MODULES = {
        "lintapp": f"tests.lintapp.cases.{os.environ['SCHEMAOPS_TEST_LINT_CASE']}"
    }

# Migrations a Django-tier test wrote (the ``tier`` fixture) for subprocesses: a
# package in a temporary folder, as the tierapp app's migrations.
if os.environ.get("SCHEMAOPS_TEST_TIER_MIGRATIONS"):
    import sys
    from pathlib import Path

    from project.settings import INSTALLED_APPS

    _tier = Path(os.environ["SCHEMAOPS_TEST_TIER_MIGRATIONS"])
    sys.path.insert(0, str(_tier.parent))
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.tierapp"]
    MIGRATION_MODULES = {"tierapp": _tier.name}

for _key, _variable in (
    ("LOCK_TIMEOUT", "SCHEMAOPS_TEST_LOCK_TIMEOUT"),
    ("SMALL_TABLE_SIZE", "SCHEMAOPS_TEST_SMALL_TABLE_SIZE"),
    ("LOCK_WAIT", "SCHEMAOPS_TEST_LOCK_WAIT"),
):
    if os.environ.get(_variable):
        SCHEMAOPS[_key] = os.environ[_variable]

# The Django tier's corpus of schemaops trace (tests/test_trace_django.py).
if os.environ.get("SCHEMAOPS_TEST_TRACE_APP"):
    from project.settings import INSTALLED_APPS

    INSTALLED_APPS = [*INSTALLED_APPS, "tests.traceapp"]
