from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, connections
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent


# Test modules whose subject does not depend on the Django or PostgreSQL version:
# SQL parsing and the linting of .sql files, the console script, the rule pages,
# the script file format, the embedded server wheel, the package itself. CI runs
# them once (make test) and not again on the other Django and PostgreSQL
# versions (-m "not version_independent"), to stay within its time.
VERSION_INDEPENDENT = frozenset(
    {
        "test_statements",
        "test_lint_rules",
        "test_lint_fuzz",
        "test_lint_cli",
        "test_rule_docs",
        "test_loader",
        "test_embedded_server",
        "test_packaging",
        "test_pre_commit",
    }
)


# Test modules about how PostgreSQL locks, waits and builds indexes under the
# SQL tier's runner, what its catalog says (the schema file) and what pg_dump
# writes (backups): CI runs them with make test and on PostgreSQL 15, not again on
# the other Django versions (-m "not postgres_behaviour").
POSTGRES_BEHAVIOUR = frozenset(
    {"test_long_operations", "test_run_semantics", "test_live_run", "test_adoption"}
    | {"test_snapshot", "test_backup"}
    | {"test_trace"}
)


# Test modules about what Django and schemaops print and serve (the documented
# console examples, the admin in a browser, the system checks, the status
# command's text, the linter's judgement of Django operations): CI runs them with
# make test and on the other Django versions, not again on PostgreSQL 15
# (-m "not django_output"), to stay within its time.
DJANGO_OUTPUT = frozenset(
    {"test_doc_examples", "test_admin", "test_admin_browser", "test_checks"}
    | {"test_status_command", "test_lint_migrations"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module is not None else ""
        if module in VERSION_INDEPENDENT:
            item.add_marker(pytest.mark.version_independent)
        if module in POSTGRES_BEHAVIOUR:
            item.add_marker(pytest.mark.postgres_behaviour)
        if module in DJANGO_OUTPUT:
            item.add_marker(pytest.mark.django_output)


@pytest.fixture
def server_params(db: None) -> dict[str, object]:
    """Connection parameters of the PostgreSQL server the tests run on (any database)."""
    params = dict(connection.get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(key, None)
    return params


class ScriptFolder:
    """A script location ("ops") in a temporary folder, applied to the ``runner`` database."""

    name = "ops"

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, filename: str, text: str) -> Path:
        path = self.path / filename
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SCHEMAOPS_TEST_SCRIPT_DIRS": f"{self.name}={self.path}",
            "SCHEMAOPS_TEST_RUNNER_DB": str(connections["runner"].settings_dict["NAME"]),
            "PYTHONPATH": str(REPO_ROOT),
        }

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start ``manage.py schemaops ARGS --database runner`` in another process."""
        return subprocess.Popen(
            [
                sys.executable,
                str(REPO_ROOT / "manage.py"),
                "schemaops",
                *args,
                "--database",
                "runner",
            ],
            cwd=REPO_ROOT,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> str:
        """Run ``manage.py schemaops ARGS --database runner`` in-process; return stdout."""
        out = StringIO()
        call_command("schemaops", *args, "--database", "runner", stdout=out, stderr=out)
        return out.getvalue()


def runner_tables() -> set[str]:
    with connections["runner"].cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def scripts(tmp_path: Path, settings: Any) -> Iterator[ScriptFolder]:
    """An empty script location on the ``runner`` database; the tables its scripts
    create are dropped afterwards."""
    folder = tmp_path / "ops"
    folder.mkdir()
    settings.SCHEMAOPS = {**settings.SCHEMAOPS, "SCRIPT_DIRS": {"ops": folder}}
    before = runner_tables()
    yield ScriptFolder(folder)
    connections["runner"].close()
    created = runner_tables() - before
    with connections["runner"].cursor() as cursor:
        for table in sorted(created):
            cursor.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')


class TierProject:
    """Django migrations of the ``tierapp`` app that a test writes, applied to the
    ``runner`` database by real ``manage.py migrate`` processes (with the script
    location of the ``scripts`` fixture)."""

    def __init__(self, package: Path, scripts: ScriptFolder) -> None:
        self.package = package
        self.scripts = scripts

    def write(self, name: str, text: str) -> Path:
        path = self.package / f"{name}.py"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def env(self, **settings: str) -> dict[str, str]:
        return {
            **self.scripts.env(),
            "SCHEMAOPS_TEST_TIER_MIGRATIONS": str(self.package),
            **{f"SCHEMAOPS_TEST_{key.upper()}": value for key, value in settings.items()},
        }

    def popen(
        self, *args: str, command: str = "migrate", **settings: str
    ) -> subprocess.Popen[str]:
        """Start ``manage.py COMMAND ARGS --database runner``; ``settings`` become
        ``SCHEMAOPS_TEST_<KEY>`` variables (tests/settings.py reads them)."""
        return subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "manage.py"), command, *args, "--database", "runner"],
            cwd=REPO_ROOT,
            env=self.env(**settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def migrate(self, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        process = self.popen(*args, **settings)
        stdout, stderr = process.communicate(timeout=180)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


INITIAL_MIGRATION = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            "Item",
            [("id", models.BigAutoField(primary_key=True)), ("n", models.IntegerField(default=0))],
        ),
        migrations.RunSQL(
            "INSERT INTO tierapp_item (n) SELECT g FROM generate_series(1, {rows}) g",
            migrations.RunSQL.noop,
        ),
    ]
"""


@pytest.fixture
def tier(tmp_path: Path, scripts: ScriptFolder) -> Iterator[TierProject]:
    """A ``tierapp`` whose migrations the test writes; what they create is dropped
    afterwards and their rows in ``django_migrations`` deleted."""
    package = tmp_path / "tier_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    yield TierProject(package, scripts)
    connections["runner"].close()
    with connections["runner"].cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'tierapp'")


def demo_manage(
    *args: str, database_url: str, pythonpath: str = str(REPO_ROOT)
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py ARGS`` with the demo project's settings on ``database_url``."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(DATABASE_URL=database_url, PYTHONPATH=pythonpath)
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def scratch_database(params: dict[str, object], name: str) -> Iterator[str]:
    """Database ``name``, new and empty on the tests' server for the block, as a URL."""
    with psycopg.connect(**params, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    host = urllib.parse.quote(str(params.get("host", "")), safe="")
    user, port = params.get("user", "postgres"), params["port"]
    try:
        yield f"postgres://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(**params, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def empty_database(server_params: dict[str, object]) -> Iterator[str]:
    """A database with nothing in it (no registry), as a URL."""
    with scratch_database(server_params, "schemaops_test_empty") as url:
        yield url


@pytest.fixture(scope="module")
def migrated_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A database the demo project's ``manage.py migrate`` set up once for the module
    (both tiers applied), as a URL: for tests that only read it or are refused."""
    with django_db_blocker.unblock():
        params = dict(connection.get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(key, None)
    with scratch_database(params, "schemaops_test_migrated") as url:
        done = demo_manage("migrate", "--verbosity", "0", database_url=url)
        assert done.returncode == 0, done.stderr
        yield url
