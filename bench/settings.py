"""Settings for the benchmarks: the demo project's, on a database named by the
environment, with the scripts of one folder and no demo app."""

from __future__ import annotations

import os

from project.settings import *  # noqa: F403
from project.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "project.demo"]
DATABASES["default"] = {**DATABASES["default"], "NAME": os.environ["SCHEMAOPS_BENCH_DB"]}
SCHEMAOPS = {"SCRIPT_DIRS": {"bench": os.environ["SCHEMAOPS_BENCH_SCRIPTS"]}}
LOGGING = {"version": 1, "disable_existing_loggers": False}
